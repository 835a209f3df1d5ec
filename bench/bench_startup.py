"""Cold start of `visage serve` with cached models: time to /readyz 200, and where it goes.

    python bench/bench_startup.py [--runs 3] [--busy 2] [--port 18650]

For each run, on an idle machine and again while ``--busy`` CPU-bound processes spin (the
oversubscribed case), it prints:

* serve: wall time from process start to the first /healthz 200 (HTTP up) and to /readyz 200
  (models loaded, store open), as a client sees it;
* breakdown (a separate child doing what `visage serve` does, timed step by step): interpreter
  start, ``import visage.cli``, ``import visage.api.app``, ``create_app``, model loading
  (``Engine``), store open; plus whether ``onnx`` (the converter's dependency) was imported.

Like `make serve`, it first writes the bytecode of ``src`` (``compileall``; skipped when current).
Targets (issue 15): ready <= 2 s idle, <= 10 s beside two CPU-bound processes. The figure of each
busy run is printed beside the idle run of the same invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
import visage.cli  # noqa: F401
t1 = time.perf_counter()
from visage.api.app import create_app
t2 = time.perf_counter()
from visage.config import Settings
settings = Settings()
app = create_app(settings)
t3 = time.perf_counter()
state = app.state.visage
state.load_engine()
t4 = time.perf_counter()
state.store
t5 = time.perf_counter()
print(json.dumps({"import_cli": t1 - t0, "import_app": t2 - t1, "create_app": t3 - t2,
                  "load_models": t4 - t3, "open_store": t5 - t4,
                  "onnx_imported": "onnx" in sys.modules}))
"""


def _env(store_dir: str, port: int) -> dict[str, str]:
    env = {**os.environ, "VISAGE_HOST": "127.0.0.1", "VISAGE_PORT": str(port),
           "VISAGE_STORE_URL": f"sqlite:///{store_dir}/startup.db"}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status
    except Exception:  # connection refused, 503 while loading: keep polling
        return 0


def serve_once(env: dict[str, str], port: int, limit_s: float = 180) -> dict[str, float]:
    """Seconds from spawning `visage serve` to /healthz 200 and to /readyz 200."""
    base = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "visage.cli", "serve", "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    up = ready = float("nan")
    try:
        while time.perf_counter() - start < limit_s:
            if proc.poll() is not None:
                raise SystemExit("visage serve exited during start-up")
            if up != up and _get(f"{base}/healthz") == 200:
                up = time.perf_counter() - start
            if up == up and _get(f"{base}/readyz") == 200:
                ready = time.perf_counter() - start
                break
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"http_up": up, "ready": ready}


def breakdown_once(env: dict[str, str]) -> dict[str, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _BREAKDOWN], env=env, capture_output=True, text=True, check=True)
    total = time.perf_counter() - start
    steps = json.loads(out.stdout.strip().splitlines()[-1])
    steps["interpreter_and_exit"] = total - sum(v for k, v in steps.items() if k != "onnx_imported")
    return steps


def spin_processes(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def report(label: str, serves: list[dict[str, float]], breakdowns: list[dict[str, float]]) -> float:
    ready = statistics.median(s["ready"] for s in serves)
    up = statistics.median(s["http_up"] for s in serves)
    runs = ", ".join(f"{s['ready']:.2f}" for s in serves)
    print(f"{label}: ready {ready:.2f} s median (runs: {runs}), HTTP up {up:.2f} s")
    keys = [k for k in breakdowns[0] if k != "onnx_imported"]
    parts = ", ".join(f"{k} {statistics.median(b[k] for b in breakdowns):.2f}" for k in keys)
    print(f"  breakdown (s, median): {parts}; onnx imported: {breakdowns[0]['onnx_imported']}")
    return ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes for the oversubscribed case")
    parser.add_argument("--port", type=int, default=18650)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as store_dir:
        env = _env(store_dir, args.port)
        # What `make serve` does first: bytecode for the editable sources (pip compiles installed packages).
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True,
                       stdout=subprocess.DEVNULL)
        breakdown_once(env)  # warm the page cache (models, site-packages) once; not counted
        idle = report("idle", [serve_once(env, args.port) for _ in range(args.runs)],
                      [breakdown_once(env) for _ in range(args.runs)])
        spinners = spin_processes(args.busy)
        try:
            time.sleep(0.5)
            busy = report(f"beside {args.busy} CPU-bound processes",
                          [serve_once(env, args.port) for _ in range(args.runs)],
                          [breakdown_once(env) for _ in range(args.runs)])
        finally:
            for p in spinners:
                p.kill()
                p.wait()
    print(f"ratio busy/idle ready time: {busy / idle:.2f}x; targets: idle <= 2 s ({idle:.2f}), "
          f"busy <= 10 s ({busy:.2f})")


if __name__ == "__main__":
    main()
