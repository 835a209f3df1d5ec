"""Per-request id, metrics and the access log line, as a plain ASGI middleware.

It was a ``@app.middleware("http")`` function: Starlette runs those through
``BaseHTTPMiddleware``, which re-streams every response through an anyio memory stream and a
task group, costing event-loop time on each request. Here the response passes straight through;
only its start message is read (status) and extended (``X-Request-Id``).
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visage.api.metrics import Metrics

log = logging.getLogger("visage.api")

#: Clients choose the method string: anything else is counted as "other" (bounded label values).
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if len(text) <= 128 and text.isprintable():
                return text
            break
    return uuid.uuid4().hex


class ObserveMiddleware:
    """Give each request an id (the client's ``X-Request-Id`` if sane), count and time it, log it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500  # an exception that escapes every handler ends as a 500 from Starlette

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.requests.labels(route=path, method=method, status=str(status)).inc()
            self.metrics.latency.labels(route=path).observe(elapsed)
            log.info("request", extra={"request_id": request_id, "method": scope["method"], "route": path,
                                       "status": status, "ms": round(elapsed * 1000, 2)})
