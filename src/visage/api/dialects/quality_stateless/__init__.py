"""SenseID-style quality check: ``POST /quality/face/stateless`` (seeds 000 and 001; docs/senseid.md)."""

from __future__ import annotations

from fastapi import FastAPI

from visage.api.dialects.quality_stateless import crypto
from visage.api.dialects.quality_stateless.errors import DIALECT, render_error
from visage.api.dialects.quality_stateless.routes import router


def mount(app: FastAPI) -> None:
    """Add the dialect's route and its error envelope to ``app``."""
    key = app.state.visage.settings.senseid_image_key
    app.state.senseid_key = crypto.parse_key(key.get_secret_value()) if key else None
    app.state.error_renderers[DIALECT] = render_error
    app.include_router(router)


__all__ = ["mount", "router"]
