"""Admission control: a full queue is refused at once; a slow call times out."""

from __future__ import annotations

import asyncio
import threading

import pytest

from visage.api.inference import InferencePool
from visage.errors import ThrottledError, TimeoutError_


def test_full_queue_is_throttled_fast() -> None:
    gate = threading.Event()

    async def scenario() -> list[object]:
        pool = InferencePool(workers=1, max_queue=1, timeout_s=10)
        first = asyncio.ensure_future(pool.run(gate.wait, 5))
        second = asyncio.ensure_future(pool.run(gate.wait, 5))
        await asyncio.sleep(0.05)
        assert pool.depth == 2
        with pytest.raises(ThrottledError):
            await pool.run(gate.wait, 5)
        gate.set()
        done = await asyncio.gather(first, second)
        pool.shutdown()
        return done

    assert asyncio.run(scenario()) == [True, True]


def test_timeout() -> None:
    stop = threading.Event()

    async def scenario() -> None:
        pool = InferencePool(workers=1, max_queue=0, timeout_s=0.05)
        with pytest.raises(TimeoutError_):
            await pool.run(stop.wait, 2)
        assert pool.depth == 0
        stop.set()
        pool.shutdown()

    asyncio.run(scenario())
