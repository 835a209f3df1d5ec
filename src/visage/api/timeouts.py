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

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from visage.errors import VisageError

log = logging.getLogger("visage.api")

_REQUEST_TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
                        b"content-length: 31\r\n\r\nrequest headers took too long.\n")


class BodyTimeoutError(VisageError):
    """The request body did not arrive within the body deadline."""

    code = "request_timeout"


def guarded_h11(header_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on receiving each request's headers."""

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            waiting = self.conn.their_state is h11.IDLE
            if waiting and self._header_timer is None:
                self._arm()
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the headers are complete (or the connection failed)
                self._disarm()

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
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            log.info("closed a connection whose request headers took over %.0f s", header_timeout_s,
                     extra={"client": self.client[0] if self.client else None})
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(_REQUEST_TIMEOUT_408)
            self.transport.close()

    return GuardedH11Protocol


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
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
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
