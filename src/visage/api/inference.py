"""Run blocking inference off the event loop, with a bounded queue and a deadline.

The bound holds for work, not for waiting clients: a request's slot is freed when its work has
finished or was cancelled before it started, never merely because its client stopped waiting.

* A request that would wait behind more than ``max_queue`` others is refused at once with
  :class:`ThrottledError` (429 / ThrottlingException) instead of growing an unbounded backlog.
* So is one whose expected wait (the work ahead of it, at the recent mean run time) is already
  longer than ``timeout_s``: it would only time out after holding a slot, so the client is told to
  retry now.
* A request that reaches ``timeout_s`` (or whose client goes away) gets :class:`TimeoutError_`;
  its work is cancelled if it has not started. Work already running cannot be interrupted, so it
  keeps its slot until it ends: abandoned work always counts against the bound (issue 15 #1).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from visage.errors import ThrottledError, TimeoutError_

T = TypeVar("T")

#: Weight of the newest run in the mean run time (an exponentially weighted moving average).
_EWMA_WEIGHT = 0.2


class InferencePool:
    """A fixed thread pool plus admission control; dlib and onnxruntime release the GIL."""

    def __init__(self, workers: int, max_queue: int, timeout_s: float, name: str = "inference") -> None:
        self.workers = workers
        self.capacity = workers + max_queue
        self.timeout_s = timeout_s
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"visage-{name}")
        self._lock = threading.Lock()
        self._admitted = 0
        self._mean_run_s: float | None = None

    @property
    def depth(self) -> int:
        """Work items running or waiting right now (abandoned ones included until they end)."""
        return self._admitted

    @property
    def mean_run_s(self) -> float | None:
        """Recent mean run time of one work item (None before the first has finished)."""
        return self._mean_run_s

    def expected_wait_s(self) -> float:
        """How long a newly admitted item would wait for a worker, at the recent mean run time."""
        ahead = self._admitted - self.workers + 1
        if ahead <= 0 or self._mean_run_s is None:
            return 0.0
        return ahead * self._mean_run_s / self.workers

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.capacity:
                raise ThrottledError(f"server busy: {self._admitted} {self.name} requests in flight; retry later")
            wait = self.expected_wait_s()
            if wait > self.timeout_s:
                raise ThrottledError(f"server busy: about {wait:.1f} s of {self.name} work is queued, more than the"
                                     f" {self.timeout_s:g} s request deadline; retry later")
            self._admitted += 1

    def _release(self, _: Future) -> None:
        with self._lock:
            self._admitted -= 1

    def _timed(self, deadline: float, fn: Callable[..., T], *args: object) -> T:
        if time.monotonic() > deadline:  # its client has given up already: do not start it
            raise TimeoutError_(f"{self.name} waited longer than {self.timeout_s:g} s for a worker")
        start = time.monotonic()
        try:
            return fn(*args)
        finally:
            took = time.monotonic() - start
            with self._lock:
                mean = self._mean_run_s
                self._mean_run_s = took if mean is None else mean + _EWMA_WEIGHT * (took - mean)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on a worker; throttled, timed out or cancelled as the module says."""
        self._admit()
        deadline = time.monotonic() + self.timeout_s
        try:
            work = self._executor.submit(self._timed, deadline, fn, *args)
        except RuntimeError:  # shut down
            with self._lock:
                self._admitted -= 1
            raise
        work.add_done_callback(self._release)  # the slot is held until the work ends or is cancelled
        try:
            # Cancelling the wrapper (deadline reached, client gone) cancels work that has not started.
            return await asyncio.wait_for(asyncio.wrap_future(work), timeout=self.timeout_s)
        except TimeoutError:
            raise TimeoutError_(f"{self.name} took longer than {self.timeout_s:g} s") from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
