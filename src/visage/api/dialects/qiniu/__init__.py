"""Qiniu/Baidu-style face detection: ``POST /v2/facedetect`` (seed 002; docs/qiniu.md)."""

from __future__ import annotations

from fastapi import FastAPI

from visage.api.dialects.qiniu.auth import QiniuKeys
from visage.api.dialects.qiniu.errors import DIALECT, render_error
from visage.api.dialects.qiniu.routes import QiniuState, router
from visage.api.dialects.qiniu.tokens import FaceTokenCache
from visage.api.url_fetch import FetchPolicy


def mount(app: FastAPI) -> None:
    """Add the dialect's route, its state (keys, FACE_TOKEN cache, URL policy) and error envelope."""
    settings = app.state.visage.settings
    app.state.qiniu = QiniuState(
        keys=QiniuKeys(settings.qiniu_keys.get_secret_value() if settings.qiniu_keys else None,
                       settings.qiniu_keys_file),
        tokens=FaceTokenCache(settings.face_token_ttl_s, settings.face_token_cache_bytes),
        fetch=FetchPolicy.from_settings(settings),
    )
    app.state.error_renderers[DIALECT] = render_error
    app.include_router(router)


__all__ = ["mount", "router"]
