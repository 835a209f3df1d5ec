"""Small image builders shared by tests."""

from __future__ import annotations

import io

from PIL import Image


def flat_png(size: int = 200, value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (value, value, value)).save(buf, "PNG")
    return buf.getvalue()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str | None], port: int | None = None, timeout_s: float = 120):
    """Start a real ``visage serve`` on 127.0.0.1 and wait until /readyz answers 200.

    ``env`` is applied over the current environment (a ``None`` value removes the variable).
    Returns ``(process, base_url)``; the caller terminates the process.
    """
    import os
    import subprocess
    import sys
    import time

    import httpx
    import pytest

    port = port or free_port()
    full = {**os.environ, "VISAGE_HOST": "127.0.0.1", "VISAGE_PORT": str(port)}
    for key, value in env.items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    proc = subprocess.Popen([sys.executable, "-m", "visage.cli", "serve", "--log-level", "warning"], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode(errors="replace")[-2000:])
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    pytest.fail("server did not become ready")
