"""Qiniu/Baidu-style face detection: ``POST /v2/facedetect`` (seed 002; docs/qiniu.md)."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the dialect's route and its error envelope to ``app`` (filled in by the Qiniu work)."""
