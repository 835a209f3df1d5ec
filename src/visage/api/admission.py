"""Admission before the body: large request bodies are reserved against a byte budget first.

Bodies used to be read (and base64-decoded) before the inference queue saw them, so 60 concurrent
19 MB requests took the server from 0.8 to 4.5 GB (issue 15 #5). Here a request whose body is
large (``Content-Length`` at least ``small_bytes``, or chunked) must reserve its size from
``budget_bytes`` when the app first reads from it; when the budget is spent it is refused with
:class:`ThrottledError` (429 in the route's own dialect envelope) and its body is never read. The
reservation ends with the response. Small bodies pass freely (the connection cap bounds them).

When large bodies have stopped coming for half a second, the allocator is asked to give freed memory back to
the OS (:func:`visage.api.memory.release_memory`), off the event loop.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visage.api.memory import release_memory
from visage.errors import ThrottledError

#: Bodies below this many bytes are not counted against the budget.
SMALL_BODY_BYTES = 256 * 1024
#: Memory handed back once at least this many body bytes were admitted since the last time.
_TRIM_AFTER_BYTES = 32 * 1024 * 1024
_TRIM_DELAY_S = 0.5


class BodyBudgetMiddleware:
    """Reserve large request bodies against a byte budget before any byte of them is read."""

    def __init__(self, app: ASGIApp, budget_bytes: int, max_request_bytes: int,
                 small_bytes: int = SMALL_BODY_BYTES) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.budget_bytes = max(budget_bytes, max_request_bytes)  # one largest request always fits
        self.small_bytes = small_bytes
        self.reserved = 0
        self._since_trim = 0
        self._trimming = False
        self._last_admit = 0.0

    def _body_size(self, scope: Scope) -> int:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            # Over the request limit: BodyLimitMiddleware answers 413 without reading; reserve nothing.
            size = int(declared) if declared.isdigit() else 0
            return size if size <= self.max_request_bytes else 0
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            return self.max_request_bytes  # size unknown until read: reserve the most it may be
        return 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = self._body_size(scope)
        if size < self.small_bytes:
            await self.app(scope, receive, send)
            return
        held = False

        async def admitted_receive() -> Message:
            nonlocal held
            if not held:
                if self.reserved + size > self.budget_bytes:
                    raise ThrottledError(f"server busy: {self.reserved // 2**20} MiB of request bodies in"
                                         " flight; retry later")
                self.reserved += size
                self._since_trim += size
                self._last_admit = time.monotonic()
                held = True
            return await receive()

        try:
            await self.app(scope, admitted_receive, send)
        finally:
            if held:
                self.reserved -= size
                if self.reserved == 0 and self._since_trim >= _TRIM_AFTER_BYTES and not self._trimming:
                    self._trimming = True
                    # A moment later, once the request's last objects (body, buffers) are freed too.
                    asyncio.get_running_loop().call_later(_TRIM_DELAY_S, self._trim_if_idle)

    def _trim_if_idle(self) -> None:
        if self.reserved:  # a new burst began: trim after it instead (its end looks again)
            self._trimming = False
            return
        # Only once large bodies have stopped coming for the whole delay: a steady stream (sequential
        # clients leave short gaps between their requests) reuses its pages instead of faulting them
        # in again after every trim.
        wait = self._last_admit + _TRIM_DELAY_S - time.monotonic()
        if wait > 0:
            asyncio.get_running_loop().call_later(wait, self._trim_if_idle)
            return
        self._since_trim = 0
        asyncio.get_running_loop().run_in_executor(None, self._trim)

    def _trim(self) -> None:
        try:
            release_memory()
        finally:
            self._trimming = False
