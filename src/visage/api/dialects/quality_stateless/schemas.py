"""Wire schemas of seed 001 (response bodies; documentation and response validation in tests)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rect(_Wire):
    left: int
    top: int
    right: int
    bottom: int


class PoseWire(_Wire):
    yaw: float
    pitch: float
    roll: float


class Occlusion(_Wire):
    left_eye: float
    right_eye: float
    nose: float
    mouth: float
    total: float


class QualityFace(_Wire):
    rect: Rect
    pose: PoseWire | None = None
    occlusion: Occlusion | None = None
    distance2center: float | None = None
    size: float | None = None
    brightness: float | None = None
    sharpness: float | None = None
    mouth_open: float | None = None
    integrity: float | None = None


class QualityResponse(_Wire):
    code: int
    faces: list[QualityFace]
    request_id: str


class SenseIdErrorResponse(_Wire):
    code: int
    message: str
    request_id: str


REQUEST_FIELDS = frozenset({"encrypted_image"})
