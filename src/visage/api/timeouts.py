"""Deadlines for slow clients: request headers (at the HTTP protocol) and request bodies (ASGI).

uvicorn closes idle keep-alive connections, but a client that sends its request line and headers
a byte at a time, or a body that never ends, holds a connection and its buffers for ever. visage
bounds both: ``VISAGE_HEADER_TIMEOUT_S`` from the connection's first byte of a request (or from
accepting it) to the end of its headers, and ``VISAGE_BODY_TIMEOUT_S`` from the request's start
to the last body byte. A header stall is closed with 408 written on the socket; a body stall is
answered 408 in the route's dialect envelope, and the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from visage.errors import VisageError

log = logging.getLogger("visage.api")

_REQUEST_TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
                        b"content-length: 31\r\n\r\nrequest headers took too long.\n")


class BodyTimeoutError(VisageError):
    """The request body did not arrive within the body deadline."""

    code = "request_timeout"


#: Request line plus headers beyond this many bytes: 431 and the connection closes. h11 capped this
#: itself (16 KiB); httptools buffers an unfinished header without limit, so the guard counts.
MAX_HEADER_BYTES = 64 * 1024

_HEADERS_TOO_LARGE_431 = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
                          b"connection: close\r\ncontent-length: 31\r\n\r\nrequest headers are too large.\n")


def guarded_httptools(header_timeout_s: float, max_header_bytes: int = MAX_HEADER_BYTES) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a deadline and a size cap on receiving each request's headers.

    httptools (a C parser), not h11: about 1 ms less server time per request on the 2-core machine,
    which is most of what separates sequential images/s through the server from in-process
    (``bench/bench_throughput.py``). A request's headers are pending from the connection's accept, or
    from the first byte after the previous request's body, until the parser reports them complete.
    """

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _headers_pending = True
        _header_bytes = 0

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._headers_pending:
                self._header_bytes += len(data)
                if self._header_timer is None:
                    self._arm()
            super().data_received(data)
            # Still pending after this chunk: every byte counted so far belongs to the request line and
            # headers (a chunk that completes them may carry body bytes too, and is not refused).
            if self._headers_pending and self._header_bytes > max_header_bytes and not self.transport.is_closing():
                log.info("closed a connection whose request headers passed %d bytes", max_header_bytes,
                         extra={"client": self.client[0] if self.client else None})
                if self.cycle is None or self.cycle.response_complete:
                    self.transport.write(_HEADERS_TOO_LARGE_431)
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._headers_pending = False
            self._header_bytes = 0
            self._disarm()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._headers_pending = True  # the next bytes on this connection start the next request

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # idle now: uvicorn's keep-alive timeout covers it until the next byte

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or not self._headers_pending:
                return
            log.info("closed a connection whose request headers took over %.0f s", header_timeout_s,
                     extra={"client": self.client[0] if self.client else None})
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(_REQUEST_TIMEOUT_408)
            self.transport.close()

    return GuardedHttpToolsProtocol


class BodyTimeoutMiddleware:
    """Raise :class:`BodyTimeoutError` where a route reads a body that outlives ``timeout_s``."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout_s
        done = expired = False

        async def timed_receive() -> Message:
            nonlocal done
            if done:  # after the body: waiting for a disconnect is not bounded here
                return await receive()
            try:
                # asyncio.timeout, not wait_for: wait_for wraps each receive in a new task (an extra
                # event-loop turn per body chunk); a timeout only arms one timer on this task.
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                nonlocal expired
                expired = True
                raise BodyTimeoutError(f"the request body did not arrive within {self.timeout_s:g} s") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        async def closing_send(message: Message) -> None:
            if expired and message["type"] == "http.response.start":  # the rest of the body is not read
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, timed_receive, closing_send)
