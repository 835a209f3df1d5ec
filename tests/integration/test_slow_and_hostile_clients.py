"""A real uvicorn server with visage's protocol (issue 15, finding 7): stalled headers and bodies are
closed with 408, aborted uploads are not logged as errors, client-chosen HTTP methods do not become
metric labels, /healthz does not tell the version."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from visage.api.app import create_app
from visage.api.timeouts import guarded_httptools
from visage.config import Settings


@contextmanager
def serve(settings: Settings, engine) -> Iterator[tuple[str, int]]:
    config = uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=0, log_level="warning",
                            http=guarded_httptools(settings.header_timeout_s))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory):
    store = tmp_path_factory.mktemp("slow") / "v.db"
    settings = Settings(store_url=f"sqlite:///{store}", header_timeout_s=1.0, body_timeout_s=1.0)
    with serve(settings, engine) as addr:
        yield addr


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    sock.settimeout(limit_s)
    t0, data = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pytest.fail(f"connection still open after {limit_s} s; got {data[:200]!r}")
    return data, time.monotonic() - t0


def test_stalled_headers_are_closed(server) -> None:
    with socket.create_connection(server) as sock:
        sock.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        data, waited = _read_until_closed(sock, 6)
    assert data.startswith(b"HTTP/1.1 408") and waited < 4


def test_silent_connection_is_closed(server) -> None:
    with socket.create_connection(server) as sock:
        _, waited = _read_until_closed(sock, 6)
    assert waited < 4


def test_trickled_headers_are_closed(server) -> None:
    with socket.create_connection(server) as sock:
        t0 = time.monotonic()
        try:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 50:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass  # closed under us: what we want
        data, _ = _read_until_closed(sock, 6)
    assert time.monotonic() - t0 < 5 and data.startswith(b"HTTP/1.1 408")


def test_oversized_headers_get_431_and_close(server) -> None:
    with socket.create_connection(server) as sock:
        t0 = time.monotonic()
        # Just over the cap, and never ending: all of it is read, so the close is clean (no reset).
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000)
        data, _ = _read_until_closed(sock, 6)
    assert data.startswith(b"HTTP/1.1 431") and time.monotonic() - t0 < 0.9  # before the header deadline


def test_headers_and_a_large_body_in_one_write_are_served(server) -> None:
    body = b"\x00" * 300_000  # not an image: the route answers, the protocol does not refuse it
    head = (f"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nX-Pad: {'p' * 30_000}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(server) as sock:
        sock.sendall(head + body)
        data, _ = _read_until_closed(sock, 6)
    assert data.startswith(b"HTTP/1.1 400") and b'"code":"invalid_image"' in data, data[:300]


def test_stalled_body_gets_408_in_the_envelope(server) -> None:
    with socket.create_connection(server) as sock:
        sock.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                     b"Content-Length: 100000\r\n\r\n" + b"\xff\xd8" * 10)
        data, waited = _read_until_closed(sock, 6)
    assert data.startswith(b"HTTP/1.1 408"), data[:300]
    assert b'"code":"request_timeout"' in data and waited < 4


def test_keep_alive_requests_are_not_cut(server) -> None:
    with httpx.Client(base_url=f"http://{server[0]}:{server[1]}") as c:
        for _ in range(3):
            assert c.get("/healthz").status_code == 200
            time.sleep(1.3)  # longer than the header deadline, between requests on one connection


def test_aborted_upload_is_not_an_error(server, caplog) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(3):
        with socket.create_connection(server) as sock:
            sock.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                         b"Content-Length: 100000\r\n\r\n" + b"\xff\xd8" * 100)
        time.sleep(0.2)
    time.sleep(0.5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [(r.name, r.getMessage()) for r in errors]
    assert httpx.get(f"http://{server[0]}:{server[1]}/healthz").status_code == 200


def test_methods_are_bounded_labels_and_healthz_has_no_version(server) -> None:
    base = f"http://{server[0]}:{server[1]}"
    with httpx.Client(base_url=base) as c:
        # Made-up methods are refused by the HTTP parser; methods it knows (WebDAV's) reach the app.
        methods = [f"X{i}METHOD" for i in range(20)] + ["PROPFIND", "MKCOL", "PURGE", "REPORT", "UNLOCK"]
        for method in methods:
            assert c.request(method, "/v1/detect").status_code >= 400
        text = c.get("/metrics").text
        assert not [m for m in methods if f'"{m}"' in text] and 'method="other"' in text
        assert c.get("/healthz").json() == {"status": "ok"}
