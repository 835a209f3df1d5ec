"""Large JSON bodies and base64 images are parsed off the event loop (issue 15: keep the loop free).

A 19 MB base64 body takes tens of milliseconds to parse and decode; on the loop, every other
connection (health checks included) would wait for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import pytest

from visage.api import body


def _threads_of(monkeypatch, name: str) -> list[int]:
    seen: list[int] = []
    real = getattr(body, name)

    def spy(*args, **kwargs):
        seen.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(body, name, spy)
    return seen


def test_large_json_is_parsed_on_a_worker_thread(monkeypatch) -> None:
    seen = _threads_of(monkeypatch, "strict_loads")
    big = json.dumps({"image": "A" * (2 * body.OFFLOAD_JSON_BYTES)}).encode()

    async def main() -> int:
        await body.loads_off_loop(b'{"a": 1}')
        assert (await body.loads_off_loop(big))["image"].startswith("A")
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert seen[0] == loop_thread      # small bodies: no thread hop
    assert seen[1] != loop_thread      # large ones: a worker thread


def test_large_base64_image_is_decoded_on_a_worker_thread(monkeypatch) -> None:
    seen = _threads_of(monkeypatch, "image_bytes")
    raw = bytes(range(256)) * (body.OFFLOAD_JSON_BYTES // 128)
    text = base64.b64encode(raw).decode()

    async def main() -> int:
        assert await body.image_bytes_off_loop(text, "image") == raw
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert seen and seen[0] != loop_thread


def test_offloaded_parse_keeps_its_errors() -> None:
    bad = b'{"image": "' + b"A" * (2 * body.OFFLOAD_JSON_BYTES) + b'"'  # unterminated object
    with pytest.raises(ValueError):
        asyncio.run(body.loads_off_loop(bad))


def test_native_json_body_is_parsed_validated_and_decoded_in_one_worker_call(monkeypatch) -> None:
    """One thread hop for the whole JSON body (parse, validate, base64), not one per step."""
    from visage.api.native import routes
    from visage.api.native.schemas import EmbedRequest

    parse_threads = _threads_of(monkeypatch, "strict_loads")
    decode_threads: list[int] = []
    real_image_bytes = routes.image_bytes

    def spy(*args, **kwargs):
        decode_threads.append(threading.get_ident())
        return real_image_bytes(*args, **kwargs)

    monkeypatch.setattr(routes, "image_bytes", spy)
    raw = bytes(range(256)) * (body.OFFLOAD_JSON_BYTES // 128)
    payload = json.dumps({"image": base64.b64encode(raw).decode(), "max_faces": 2}).encode()

    async def main() -> int:
        parsed, images = await body.off_loop_if_large(payload, routes._json_fields, EmbedRequest, ("image",))
        assert parsed.max_faces == 2 and images == {"image": raw}
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert parse_threads == decode_threads and parse_threads[0] != loop_thread


class _CountingState:
    """What ``_infer_with_fields`` needs of AppState: ``infer`` runs on a worker thread and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    async def infer(self, fn, *args):
        self.calls += 1
        return await asyncio.to_thread(fn, *args)


def _json_request(payload: bytes):
    from starlette.requests import Request

    scope = {"type": "http", "method": "POST", "path": "/v1/embed", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]}
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    return Request(scope, receive)


def test_native_large_json_is_parsed_inside_the_inference_call(monkeypatch) -> None:
    """A large JSON body and its model work share one worker call: one hand-off per request, not two."""
    from visage.api.native import routes
    from visage.api.native.schemas import EmbedRequest

    parse_threads = _threads_of(monkeypatch, "strict_loads")
    raw = bytes(range(256)) * (body.OFFLOAD_JSON_BYTES // 128)
    payload = json.dumps({"image": base64.b64encode(raw).decode(), "max_faces": 2}).encode()
    work_threads: list[int] = []

    def work(req, images):
        work_threads.append(threading.get_ident())
        return req.max_faces, images["image"]

    async def main(data: bytes) -> tuple[int, int, tuple]:
        state = _CountingState()
        req, result = await routes._infer_with_fields(_json_request(data), state, EmbedRequest, ("image",), work)
        assert req.max_faces == 2
        return threading.get_ident(), state.calls, result

    loop_thread, calls, result = asyncio.run(main(payload))
    assert calls == 1 and result == (2, raw)
    assert parse_threads == work_threads and parse_threads[0] != loop_thread

    # A small body is parsed where it is read; the work still runs on the pool.
    parse_threads.clear()
    work_threads.clear()
    small = json.dumps({"image": base64.b64encode(b"tiny").decode(), "max_faces": 2}).encode()
    loop_thread, calls, result = asyncio.run(main(small))
    assert calls == 1 and result == (2, b"tiny")
    assert parse_threads == [loop_thread] and work_threads[0] != loop_thread


def test_native_large_json_errors_keep_their_envelope_from_the_worker() -> None:
    from visage.api.native import routes
    from visage.api.native.schemas import EmbedRequest
    from visage.errors import InvalidParameterError

    bad = json.dumps({"image": "A" * (2 * body.OFFLOAD_JSON_BYTES), "max_faces": "many"}).encode()

    async def main() -> None:
        await routes._infer_with_fields(_json_request(bad), _CountingState(), EmbedRequest, ("image",),
                                        lambda req, images: None)

    with pytest.raises(InvalidParameterError, match="max_faces"):
        asyncio.run(main())
