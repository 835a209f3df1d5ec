"""Start `visage serve` for a benchmark and wait until it is ready (shared by the server benches).

The server runs this checkout's code (``src`` first on PYTHONPATH), on 127.0.0.1, with its own
SQLite store, its output discarded; it is ready when /readyz answers 200 (models loaded, store open).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_server(port: int, store_path: str | os.PathLike[str], env_extra: dict[str, str] | None = None,
                 timeout_s: float = 300) -> subprocess.Popen:
    """A ready `visage serve` on ``port`` with the SQLite store at ``store_path``; killed if it never is."""
    env = {**os.environ, "VISAGE_HOST": "127.0.0.1", "VISAGE_PORT": str(port),
           "VISAGE_STORE_URL": f"sqlite:///{store_path}", **(env_extra or {})}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "visage.cli", "serve", "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"visage serve exited with {proc.returncode} before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not become ready")
