"""Server memory under a burst of large requests: peak RSS, and whether it is given back.

    python bench/bench_memory.py [--clients 60] [--mb 14] [--port 18651] [--rounds 1]

Starts `visage serve` on 127.0.0.1, warms it with a few large requests, then sends ``--clients``
concurrent ``POST /v1/detect`` JSON bodies, each a base64 photo of about ``--mb`` MB (19 MB of
JSON for the default 14 MB JPEG: a real photo, upscaled and noised so it does not compress).
RSS of the server process is sampled every 20 ms. Prints RSS at start (after warm-up), peak
during the burst, and 5 s after it, with the ratios, plus the status counts (200 and 429 are
expected; 5xx must be zero).

Targets (issue 15): peak below 1.5 GB, and after the burst within 10% of the start.
"""

from __future__ import annotations

import argparse
import base64
import collections
import io
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from serve_proc import start_server

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT.parent / "shared" / "fixtures" / "faces" / "obama-1080p.jpg"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def large_jpeg(target_mb: float) -> bytes:
    """A real face photo, upscaled and noised until its JPEG is about ``target_mb`` MB."""
    rng = np.random.default_rng(0)
    base = Image.open(PHOTO).convert("RGB")
    side = 2000
    while True:
        img = base.resize((side * 4 // 3, side))
        pixels = np.asarray(img).astype(np.int16) + rng.normal(0, 14, (side, side * 4 // 3, 3)).astype(np.int16)
        buf = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=97)
        if buf.tell() >= target_mb * 1e6 or side > 6000:
            return buf.getvalue()
        side = int(side * (target_mb * 1e6 / buf.tell()) ** 0.5) + 16


def burst(url: str, body: bytes, clients: int) -> collections.Counter:
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    go = threading.Event()

    def one() -> None:
        go.wait()
        try:
            status: int | str = httpx.post(url, content=body, headers={"content-type": "application/json"},
                                           timeout=300).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    return statuses


def measure(args: argparse.Namespace, body: bytes, env_extra: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as store_dir:
        proc = start_server(args.port, f"{store_dir}/memory.db", env_extra)
        url = f"http://127.0.0.1:{args.port}/v1/detect"
        try:
            # Warm-up: models' first runs, the decode path at this size, and a small concurrent
            # burst so that every inference worker (and its allocator arena) has run once.
            httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=300)
            burst(url, body, 4)
            time.sleep(3)
            start = rss_mb(proc.pid)
            peak = [start]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], rss_mb(proc.pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            t0 = time.perf_counter()
            statuses: collections.Counter = collections.Counter()
            for _ in range(args.rounds):
                statuses += burst(url, body, args.clients)
            wall = time.perf_counter() - t0
            done.set()
            sampler.join()
            time.sleep(5)
            after = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    five = sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500)
    print(f"  {args.clients} concurrent x {args.rounds} in {wall:.1f} s; statuses {dict(statuses)}; 5xx {five}")
    print(f"  RSS start {start:.0f} MB, peak {peak[0]:.0f} MB ({peak[0] / start:.2f}x), after {after:.0f} MB "
          f"({after / start:.2f}x of start)")
    return {"start": start, "peak": peak[0], "after": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--mb", type=float, default=14.0, help="size of the encoded JPEG (JSON body is 4/3 of it)")
    parser.add_argument("--port", type=int, default=18651)
    parser.add_argument("--env", action="append", default=[], help="extra VISAGE_X=value for the server")
    args = parser.parse_args()
    image = large_jpeg(args.mb)
    body = json.dumps({"image": base64.b64encode(image).decode()}).encode()
    with Image.open(io.BytesIO(image)) as im:
        size = im.size
    print(f"image {size[0]}x{size[1]} JPEG {len(image) / 1e6:.1f} MB; JSON body {len(body) / 1e6:.1f} MB; "
          f"{os.cpu_count()} cores")
    env_extra = dict(e.split("=", 1) for e in args.env)
    print(f"server env {env_extra or '(defaults)'}:")
    r = measure(args, body, env_extra)
    ok = r["peak"] < 1536 and r["after"] <= 1.1 * r["start"]
    print(f"targets: peak < 1536 MB ({r['peak']:.0f}), after <= 1.10x start ({r['after'] / r['start']:.2f}x): "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
