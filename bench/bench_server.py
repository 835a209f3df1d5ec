"""Load and soak a real `visage serve` on loopback: throughput, latency, errors, memory.

    python bench/bench_server.py [--seconds 60] [--requests 10000] [--concurrency 4] [--image PATH]

Phase 1 (load): `--concurrency` clients send /v1/detect back to back for `--seconds`; prints
requests/s, p50/p95/p99 latency and the count of each status (5xx must be zero).
Phase 2 (soak): `--requests` more requests; prints the server's RSS after warm-up and at the end.
Traffic goes only to 127.0.0.1; both loops are bounded in count and time.
"""

from __future__ import annotations

import argparse
import collections
import os
import socket
import statistics
import threading
import time
from pathlib import Path

import httpx

from serve_proc import start_server  # bench/ is the script's own folder

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "faces"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(url: str, image: bytes, concurrency: int, seconds: float | None, total: int | None,
          deadline_s: float) -> tuple[list[float], collections.Counter]:
    """Send requests from `concurrency` threads until `seconds` pass or `total` are sent."""
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    start = time.perf_counter()
    sent = [0]

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    now = time.perf_counter() - start
                    if now > deadline_s or (seconds is not None and now > seconds) or \
                            (total is not None and sent[0] >= total):
                        return
                    sent[0] += 1
                t0 = time.perf_counter()
                try:
                    status = client.post(url, content=image, headers={"content-type": "image/jpeg"}).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses


def summary(label: str, latencies: list[float], statuses: collections.Counter, wall: float) -> None:
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    print(f"{label}: {len(latencies)} requests in {wall:.1f} s = {len(latencies) / wall:.1f} req/s; "
          f"p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms; "
          f"statuses {dict(statuses)}; 5xx {sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--image", type=Path, default=FIXTURES / "obama_small.jpg")
    args = parser.parse_args()

    port = free_port()
    server = start_server(port, "/tmp/visage-bench-server.db", timeout_s=120)
    base = f"http://127.0.0.1:{port}"
    try:
        image = args.image.read_bytes()
        url = f"{base}/v1/detect"
        drive(url, image, args.concurrency, None, 50, 120)  # warm-up: per-thread models, allocator
        print(f"server pid {server.pid}, image {args.image.name} ({len(image)} bytes), "
              f"concurrency {args.concurrency}, {os.cpu_count()} cores shared by server and client")
        t0 = time.perf_counter()
        lat, st = drive(url, image, args.concurrency, args.seconds, None, args.seconds + 30)
        summary(f"load {args.seconds:g} s", lat, st, time.perf_counter() - t0)
        rss_start = rss_mb(server.pid)
        t0 = time.perf_counter()
        lat, st = drive(url, image, args.concurrency, None, args.requests, 3600)
        summary(f"soak {args.requests}", lat, st, time.perf_counter() - t0)
        rss_end = rss_mb(server.pid)
        print(f"server RSS: {rss_start:.1f} MB after warm-up+load, {rss_end:.1f} MB after {args.requests} more "
              f"requests ({rss_end - rss_start:+.1f} MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
