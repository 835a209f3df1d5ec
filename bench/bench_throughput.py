"""Images/s through `visage serve` against the same engine in-process, from the same run.

    python bench/bench_throughput.py [--rounds 6] [--per-round 12] [--port 18652] [--route embed]

The in-process figure is ``Engine.embed(bytes)`` called in this process; the server
figures are sequential ``POST /v1/<route>`` requests over one keep-alive connection with the body
sent three ways (raw image bytes, multipart file, base64 JSON), interleaved image by image with
the in-process calls so machine noise hits every variant alike; then, each round, one client and
right after it 4 concurrent clients (raw bytes, one connection each). Prints each images/s and
the ratio to in-process; targets (issue 15): sequential >= 0.85 of in-process for every body, and
4 clients >= 1 client.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from serve_proc import start_server

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "fixtures" / "faces"
IMAGES = ["obama.jpg", "biden.jpg", "two_people.jpg", "obama-720p.jpg", "obama2.jpg", "obama3.jpg"]


def bodies(image: bytes) -> dict[str, tuple[bytes, str]]:
    boundary = uuid.uuid4().hex
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                 f"Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return {
        "raw": (image, "image/jpeg"),
        "multipart": (multipart, f"multipart/form-data; boundary={boundary}"),
        "json": (json.dumps({"image": base64.b64encode(image).decode()}).encode(), "application/json"),
    }


def post(conn: http.client.HTTPConnection, path: str, body: bytes, content_type: str) -> None:
    for attempt in (1, 2):  # the server closes keep-alive connections idle for 5 s: reconnect once
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": content_type})
            resp = conn.getresponse()
            break
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()
            if attempt == 2:
                raise
    data = resp.read()
    if resp.status != 200:
        raise SystemExit(f"{path} answered {resp.status}: {data[:200]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=12, help="images per variant per round")
    parser.add_argument("--port", type=int, default=18652)
    parser.add_argument("--route", default="embed", choices=["embed", "detect", "analyze"])
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from visage.config import Settings
    from visage.engine import Engine

    images = [(FACES / name).read_bytes() for name in IMAGES]
    engine = Engine(Settings())
    call = {"embed": engine.embed, "detect": engine.analyze, "analyze": engine.analyze}[args.route]
    path = f"/v1/{args.route}"
    seconds = {"in-process": 0.0, "raw": 0.0, "multipart": 0.0, "json": 0.0, "1 client": 0.0, "4 clients": 0.0}
    counts = dict.fromkeys(seconds, 0)
    with tempfile.TemporaryDirectory() as store_dir:
        proc = start_server(args.port, f"{store_dir}/throughput.db")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
            prepared = [bodies(img) for img in images]
            for img, b in zip(images, prepared, strict=True):  # warm-up both sides
                call(img)
                post(conn, path, *b["raw"])
            conc_ratios = []
            for r in range(args.rounds):
                # Sequential variants interleaved image by image (rotating their order), so load
                # changes on this shared machine fall on every variant alike.
                variants = ["in-process", "raw", "multipart", "json"]
                for i in range(args.per_round):
                    k = (i + r) % len(images)
                    for name in variants[i % 4:] + variants[:i % 4]:
                        t0 = time.perf_counter()
                        if name == "in-process":
                            call(images[k])
                        else:
                            post(conn, path, *prepared[k][name])
                        seconds[name] += time.perf_counter() - t0
                        counts[name] += 1

                def client(c: http.client.HTTPConnection, k: int, n: int) -> None:
                    for i in range(n):
                        post(c, path, *prepared[(i + k) % len(prepared)]["raw"])

                # 1 client then 4 clients, back to back, same images.
                t0 = time.perf_counter()
                client(conn, 0, args.per_round)
                one = args.per_round / (time.perf_counter() - t0)
                conns = [http.client.HTTPConnection("127.0.0.1", args.port, timeout=120) for _ in range(4)]
                threads = [threading.Thread(target=client, args=(c, k, args.per_round)) for k, c in enumerate(conns)]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                took = time.perf_counter() - t0
                for c in conns:
                    c.close()
                seconds["4 clients"] += took
                counts["4 clients"] += 4 * args.per_round
                seconds["1 client"] += args.per_round / one
                counts["1 client"] += args.per_round
                conc_ratios.append((4 * args.per_round / took) / one)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    rate = {k: counts[k] / seconds[k] for k in seconds}
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds x "
          f"{args.per_round} images per variant; route {path}; embedder {engine.embedder_model}")
    for k, v in rate.items():
        print(f"  {k:>10}: {v:6.2f} images/s  ({v / rate['in-process']:.2f}x in-process)")
    seq_ok = all(rate[k] >= 0.85 * rate["in-process"] for k in ("raw", "multipart", "json"))
    worst = min(conc_ratios)
    print(f"  4 clients / 1 client per round: {', '.join(f'{x:.2f}' for x in conc_ratios)}")
    print(f"targets: sequential >= 0.85x in-process: {'met' if seq_ok else 'NOT met'}; "
          f"4 clients >= 1 client in every round (worst {worst:.2f}x): {'met' if worst >= 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
