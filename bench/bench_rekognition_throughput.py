"""Rekognition DetectFaces through `visage serve` with boto3, against the same analysis in-process.

    python bench/bench_rekognition_throughput.py [--requests 72] [--port 18653]

The peer is ``Engine.analyze(bytes, <Rekognition's options>)`` in this process; the server figure is
sequential ``boto3`` ``detect_faces(Image={"Bytes": ...})`` calls (SigV4-signed, one keep-alive
connection), interleaved image by image with the in-process calls so machine noise hits both alike.
The client's own work (base64, signing, parsing the answer) is part of the server figure, as it is
for a boto3 user. Prints both images/s and the ratio. No issue sets a target for this path.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from serve_proc import start_server

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "fixtures" / "faces"
IMAGES = ["obama.jpg", "biden.jpg", "two_people.jpg", "obama-720p.jpg", "obama2.jpg", "obama3.jpg"]
# AWS's documentation example key pair: the server is told to accept it, nothing else does.
ACCESS_KEY, SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=72)
    parser.add_argument("--port", type=int, default=18653)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import boto3

    from visage.api.dialects.rekognition.routes import analysis_options
    from visage.config import Settings
    from visage.engine import Engine

    images = [(FACES / name).read_bytes() for name in IMAGES]
    engine, options = Engine(Settings()), analysis_options()
    seconds = {"in-process": 0.0, "boto3": 0.0}
    with tempfile.TemporaryDirectory() as store_dir:
        proc = start_server(args.port, f"{store_dir}/rek.db", {"VISAGE_AWS_KEYS": f"{ACCESS_KEY}:{SECRET_KEY}"})
        try:
            client = boto3.client("rekognition", endpoint_url=f"http://127.0.0.1:{args.port}",
                                  region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                                  aws_secret_access_key=SECRET_KEY)
            calls = {"in-process": lambda img: engine.analyze(img, options),
                     "boto3": lambda img: client.detect_faces(Image={"Bytes": img})}
            for img in images:  # warm-up both sides
                for call in calls.values():
                    call(img)
            for i in range(args.requests):
                order = list(calls) if i % 2 else list(calls)[::-1]
                for name in order:
                    t0 = time.perf_counter()
                    calls[name](images[i % len(images)])
                    seconds[name] += time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    rate = {k: args.requests / v for k, v in seconds.items()}
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.requests} images each;"
          f" embedder {engine.embedder_model}")
    for k, v in rate.items():
        print(f"  {k:>10}: {v:6.2f} images/s  ({v / rate['in-process']:.2f}x in-process)")


if __name__ == "__main__":
    main()
