"""Seed 002's request fields and response shapes (response models document the wire in OpenAPI)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


REQUEST_FIELDS = frozenset({"image", "image_type", "face_field", "max_face_num", "face_type", "liveness_control",
                            "face_sort_type", "display_corp_image"})
IMAGE_TYPES = ("BASE64", "URL", "FACE_TOKEN")
FACE_TYPES = ("LIVE", "IDCARD", "WATERMARK", "CERT")
LIVENESS_LEVELS = ("NONE", "LOW", "NORMAL", "HIGH")
MAX_FACE_NUM = 120
MAX_FACES_WITH_CROPS = 5


class Location(_Wire):
    left: int
    top: int
    width: int
    height: int
    rotation: int


class Angle(_Wire):
    yaw: float
    pitch: float
    roll: float


class FaceWire(_Wire):
    face_token: str
    location: Location
    face_probability: float
    angle: Angle


class DetectResult(_Wire):
    face_num: int
    face_list: list[FaceWire]


class DetectResponse(BaseModel):
    error_code: int
    error_msg: str
    log_id: int
    result: DetectResult | None
