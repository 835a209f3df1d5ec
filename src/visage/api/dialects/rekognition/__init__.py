"""The Amazon Rekognition dialect: an AWS SDK pointed at visage (``endpoint_url``) keeps working.

``mount(app)`` registers the route (``POST /``), the error envelope and the dialect's state.
"""

from __future__ import annotations

from fastapi import FastAPI

from visage.api.dialects.rekognition import collection_ops  # noqa: F401  (registers the operations)
from visage.api.dialects.rekognition.errors import render_error
from visage.api.dialects.rekognition.routes import RekognitionState, router
from visage.config import Settings


def mount(app: FastAPI, settings: Settings) -> None:
    app.state.rekognition = RekognitionState.from_settings(settings)
    app.state.error_renderers["rekognition"] = render_error
    app.include_router(router)


__all__ = ["mount", "render_error", "router"]
