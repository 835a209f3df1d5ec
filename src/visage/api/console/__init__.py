"""The web console: static files served at ``/console`` (``/`` redirects there), no build step.

The page is plain HTML, CSS and ES modules in ``static/`` and talks only to this server's native API,
so it works offline. Every console response carries a strict Content-Security-Policy: scripts and
styles from this origin only (no inline script or style attribute is ever needed), images from this
origin or the browser's own blob:/data: URLs, no frames, no plugins. docs/console.md describes it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # The page is small and changes with the server's version: always revalidate.
    "Cache-Control": "no-cache",
}


def _is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class ConsoleHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` to console responses; every other request passes untouched.

    A plain ASGI middleware, not ``@app.middleware("http")``: Starlette runs those through
    ``BaseHTTPMiddleware``, which re-streams every response of every route (the API's included)
    through an anyio memory stream and a task group, about a millisecond of event-loop time each.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_console(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount(app: FastAPI) -> None:
    """Serve the console at /console/ and redirect / and /console there."""

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.get(PREFIX, include_in_schema=False)
    async def console_bare() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    app.add_middleware(ConsoleHeadersMiddleware)
    app.mount(PREFIX, StaticFiles(directory=STATIC, html=True), name="console")
