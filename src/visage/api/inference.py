"""Run blocking inference off the event loop, with a bounded queue and a deadline.

A request that would wait behind more than ``max_queue`` others is refused at once with
:class:`ThrottledError` (429 / ThrottlingException) instead of growing an unbounded backlog;
one that runs past ``timeout_s`` gets :class:`TimeoutError_`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from visage.errors import ThrottledError, TimeoutError_

T = TypeVar("T")


class InferencePool:
    """A fixed thread pool plus admission control; dlib and onnxruntime release the GIL."""

    def __init__(self, workers: int, max_queue: int, timeout_s: float) -> None:
        self.workers = workers
        self.capacity = workers + max_queue
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="visage-infer")
        self._lock = threading.Lock()
        self._admitted = 0

    @property
    def depth(self) -> int:
        """Requests running or waiting right now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._admitted >= self.capacity:
                raise ThrottledError(f"server busy: {self._admitted} inference requests in flight; retry later")
            self._admitted += 1
        try:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor, fn, *args)
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout=self.timeout_s)
            except TimeoutError:
                raise TimeoutError_(f"inference took longer than {self.timeout_s:g} s") from None
        finally:
            with self._lock:
                self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
