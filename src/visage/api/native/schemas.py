"""Wire schemas of the native API (JSON bodies; multipart and raw bodies carry the same fields)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


KeypointSet = Literal["rekognition30", "threedivi21", "qiniu4", "qiniu72", "qiniu150"]
_KEYPOINTS = Field(None, description="Also give each face a vendor's named keypoint set, mapped from the 468-point "
                   "mesh (docs/api.md); absent on faces whose landmarks are not the mesh")


class DetectRequest(_Strict):
    image: str = Field(description="Base64 image, with or without a data: URI prefix")
    landmarks: bool = True
    pose: bool = True
    max_faces: int | None = Field(None, ge=1, le=1000)
    quality: bool = Field(False, description="Face quality fields (docs/quality.md)")
    icao: bool = Field(False, description="Adds the ICAO-style assessment under quality.icao")
    keypoints: KeypointSet | None = _KEYPOINTS


class AnalyzeRequest(_Strict):
    image: str = Field(description="Base64 image, with or without a data: URI prefix")
    attributes: list[str] | str = Field(
        "all", description="Attribute names (docs/attributes.md), a comma-separated string, or 'all'")
    landmarks: bool = False
    pose: bool = True
    templates: bool = False
    max_faces: int | None = Field(None, ge=1, le=1000)
    quality: bool = Field(False, description="Face quality fields (docs/quality.md)")
    icao: bool = Field(False, description="Adds the ICAO-style assessment under quality.icao")
    keypoints: KeypointSet | None = _KEYPOINTS


class BodiesRequest(_Strict):
    image: str = Field(description="Base64 image, with or without a data: URI prefix")
    min_score: float | None = Field(None, ge=0.0, le=1.0, description="Person score threshold (default 0.4)")


class BodyOut(BaseModel):
    box: BoxOut
    confidence: float


class BodiesResponse(BaseModel):
    width: int
    height: int
    bodies: list[BodyOut]
    models: list[str]
    timings_ms: dict[str, float]


class EmbedRequest(_Strict):
    image: str
    max_faces: int | None = Field(None, ge=1, le=1000)


class TemplateWire(_Strict):
    model: str = Field(description="Embedding model that made the template")
    vector: str = Field(description="Base64 of little-endian float32 values")
    dim: int | None = None


class VerifyRequest(_Strict):
    image_a: str | None = None
    image_b: str | None = None
    template_a: TemplateWire | None = None
    template_b: TemplateWire | None = None
    threshold: float | None = Field(None, ge=0.0, le=1.0)


class BoxOut(BaseModel):
    left: float
    top: float
    width: float
    height: float


class PoseOut(BaseModel):
    yaw: float
    pitch: float
    roll: float


class KeypointOut(BaseModel):
    name: str
    x: float
    y: float


class KeypointsOut(BaseModel):
    set: str
    points: list[KeypointOut]


class FaceOut(BaseModel):
    box: BoxOut
    confidence: float
    landmarks: list[list[float]] | None = None
    pose: PoseOut | None = None
    keypoints: KeypointsOut | None = None
    template: TemplateWire | None = None
    quality: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = Field(
        None, description="Requested attributes by name; keys and ranges in docs/attributes.md")


class DetectResponse(BaseModel):
    width: int
    height: int
    faces: list[FaceOut]
    models: list[str]
    timings_ms: dict[str, float]
    unsupported: list[str] | None = Field(
        None, description="Requested attributes with no model or measured method: no value is given for them")


class VerifyResponse(BaseModel):
    similarity: float
    match: bool
    threshold: float
    model: str
    cosine: float


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
