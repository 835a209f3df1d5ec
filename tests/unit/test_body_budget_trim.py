"""Memory is handed back after a burst of large bodies, not in the middle of a steady stream of them.

A trim in the middle of a stream makes the next requests fault their pages in again: sequential
clients (short gaps between requests) used to trigger one every ~80 large requests.
"""

from __future__ import annotations

import asyncio

from visage.api import admission
from visage.api.admission import BodyBudgetMiddleware

SIZE = 8 * 1024 * 1024  # declared: 4 of them pass the 32 MiB that makes a trim due


async def _app(scope, receive, send) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _request(mw: BodyBudgetMiddleware) -> None:
    scope = {"type": "http", "headers": [(b"content-length", str(SIZE).encode())]}

    async def receive():
        return {"type": "http.request", "body": b"x", "more_body": False}

    async def send(message):
        pass

    await mw(scope, receive, send)


def test_trim_waits_for_the_stream_to_stop(monkeypatch) -> None:
    trims: list[float] = []
    monkeypatch.setattr(admission, "release_memory", lambda: trims.append(1.0))

    async def scenario() -> tuple[int, int]:
        mw = BodyBudgetMiddleware(_app, budget_bytes=64 * SIZE, max_request_bytes=2 * SIZE)
        for _ in range(20):  # 2 s of requests, 0.1 s apart: four times the trim delay
            await _request(mw)
            await asyncio.sleep(0.1)
        during = len(trims)
        await asyncio.sleep(admission._TRIM_DELAY_S + 0.5)  # the stream has stopped
        return during, len(trims)

    during, after = asyncio.run(scenario())
    assert during == 0
    assert after == 1
