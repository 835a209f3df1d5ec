"""The web console: static files served at ``/console`` (``/`` redirects there), no build step.

The page is plain HTML, CSS and ES modules in ``static/`` and talks only to this server's native API,
so it works offline. Every console response carries a strict Content-Security-Policy: scripts and
styles from this origin only (no inline script or style attribute is ever needed), images from this
origin or the browser's own blob:/data: URLs, no frames, no plugins. docs/console.md describes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

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


def mount(app: FastAPI) -> None:
    """Serve the console at /console/ and redirect / and /console there."""

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.get(PREFIX, include_in_schema=False)
    async def console_bare() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.middleware("http")
    async def console_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        if request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/"):
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
        return response

    app.mount(PREFIX, StaticFiles(directory=STATIC, html=True), name="console")
