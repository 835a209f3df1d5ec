"""Admission control: a full queue is refused at once; a slow call times out."""

from __future__ import annotations

import asyncio
import threading
import time

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
        stop.set()
        for _ in range(100):
            if pool.depth == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.depth == 0
        pool.shutdown()

    asyncio.run(scenario())


def test_abandoned_running_work_keeps_its_slot() -> None:
    """A timed-out request whose work is still running keeps counting against the bound (issue 15 #1)."""
    release = threading.Event()

    async def scenario() -> None:
        pool = InferencePool(workers=1, max_queue=0, timeout_s=0.1)
        with pytest.raises(TimeoutError_):
            await pool.run(release.wait, 5)
        assert pool.depth == 1  # still running on the worker
        with pytest.raises(ThrottledError):
            await pool.run(lambda: "tiny")
        release.set()
        for _ in range(100):
            if pool.depth == 0:
                break
            await asyncio.sleep(0.01)
        assert await pool.run(lambda: "tiny") == "tiny"
        pool.shutdown()

    asyncio.run(scenario())


def test_queued_work_of_a_timed_out_request_never_runs() -> None:
    """Work still queued when its request times out is cancelled: it neither runs nor holds a slot."""
    release = threading.Event()
    ran: list[int] = []

    async def scenario() -> None:
        pool = InferencePool(workers=1, max_queue=4, timeout_s=0.2)
        blocker = asyncio.ensure_future(pool.run(release.wait, 5))
        await asyncio.sleep(0.02)
        queued = [asyncio.ensure_future(pool.run(ran.append, i)) for i in range(3)]
        results = await asyncio.gather(*queued, return_exceptions=True)
        assert all(isinstance(r, TimeoutError_) for r in results)
        assert pool.depth == 1  # only the running blocker
        release.set()
        with pytest.raises(TimeoutError_):
            await blocker
        await asyncio.sleep(0.05)
        assert pool.depth == 0
        pool.shutdown()

    asyncio.run(scenario())
    assert ran == []


def test_a_wait_longer_than_the_deadline_is_refused_at_once() -> None:
    """When the queued work ahead already exceeds the deadline, the answer is 429 now, not 504 later."""
    release = threading.Event()

    async def scenario() -> None:
        pool = InferencePool(workers=1, max_queue=10, timeout_s=1.0)
        await pool.run(time.sleep, 0.3)  # teaches the pool that one item takes ~0.3 s
        running = [asyncio.ensure_future(pool.run(release.wait, 2)) for _ in range(4)]
        await asyncio.sleep(0.02)
        start = time.monotonic()
        with pytest.raises(ThrottledError):
            await pool.run(lambda: "late")
        assert time.monotonic() - start < 0.1
        release.set()
        await asyncio.gather(*running, return_exceptions=True)
        pool.shutdown()

    asyncio.run(scenario())
