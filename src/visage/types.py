"""Typed, immutable results shared by the engine, the store and every API dialect.

Coordinates are pixels in the decoded, orientation-corrected image. Each dialect converts
them to its own convention (ratios, normalised boxes, left/top/right/bottom).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np

from visage.errors import InvalidParameterError, TemplateMismatchError


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned face box in pixels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.width / 2.0, self.top + self.height / 2.0)

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside a ``width`` x ``height`` image."""
        left = min(max(self.left, 0.0), float(width))
        top = min(max(self.top, 0.0), float(height))
        right = min(max(self.right, 0.0), float(width))
        bottom = min(max(self.bottom, 0.0), float(height))
        return Box(left, top, right - left, bottom - top)

    def to_dict(self) -> dict[str, float]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass(frozen=True, slots=True)
class Pose:
    """Head pose in degrees, Rekognition's conventions.

    yaw > 0: the face turns towards the image's right (the subject turns to their own left);
    pitch > 0: the chin is raised; roll > 0: the face rotates clockwise in the image plane.
    Tested in tests/unit/test_pose.py and tests/integration/test_engine_fixtures.py (docs/models.md).
    """

    yaw: float
    pitch: float
    roll: float

    def to_dict(self) -> dict[str, float]:
        return {"yaw": self.yaw, "pitch": self.pitch, "roll": self.roll}


@dataclass(frozen=True, slots=True, eq=False)
class Landmarks:
    """Facial landmark points (N x 2, pixels) in a named scheme such as ``dlib68`` or ``dlib5``."""

    scheme: str
    points: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_list(self) -> list[list[float]]:
        return self.points.astype(np.float64).tolist()  # the same floats as float(x), 30x faster


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """A face template: an L2-normalised float32 vector and the model that made it.

    Templates of different models are not comparable; :meth:`check_compatible` says so loudly.
    """

    model: str
    vector: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])

    @classmethod
    def from_vector(cls, model: str, vector: np.ndarray | list[float]) -> Template:
        """Build a template, normalising the vector to unit length (rejects zero or non-finite)."""
        arr = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(arr))
        if arr.size == 0 or not np.isfinite(norm) or norm == 0.0:
            raise InvalidParameterError("template vector must be non-empty, finite and non-zero")
        return cls(model=model, vector=(arr / norm).astype(np.float32))

    def check_compatible(self, other: Template) -> None:
        if self.model != other.model or self.dim != other.dim:
            raise TemplateMismatchError(
                f"templates come from different models: {self.model}/{self.dim} vs {other.model}/{other.dim}"
            )

    def cosine(self, other: Template) -> float:
        self.check_compatible(other)
        return float(np.dot(self.vector, other.vector))

    def to_base64(self) -> str:
        """Little-endian float32 bytes, base64: the portable wire form of a template."""
        return base64.b64encode(self.vector.astype("<f4").tobytes()).decode("ascii")

    @classmethod
    def from_base64(cls, model: str, text: str) -> Template:
        try:
            raw = base64.b64decode(text, validate=True)
        except (ValueError, TypeError) as exc:
            raise InvalidParameterError("template is not valid base64") from exc
        if len(raw) == 0 or len(raw) % 4:
            raise InvalidParameterError("template bytes must be a non-empty multiple of 4 (float32)")
        return cls.from_vector(model, np.frombuffer(raw, dtype="<f4"))

    def to_dict(self) -> dict[str, object]:
        return {"model": self.model, "dim": self.dim, "vector": self.to_base64()}


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face and whatever the request asked to compute for it."""

    box: Box
    confidence: float
    landmarks: Landmarks | None = None
    pose: Pose | None = None
    template: Template | None = None
    # Optional so a request only pays for what it asks; quality's keys are in docs/quality.md.
    quality: dict[str, object] | None = None
    attributes: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    """Every face found in one image, in detector order (largest first)."""

    width: int
    height: int
    faces: tuple[Face, ...] = field(default_factory=tuple)
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    # Models that ran for this request beyond the pipeline's own (attribute models), and requested
    # attributes that have no model or measured method (never a made-up value).
    models: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A 1:1 comparison result: similarity in [0, 1] and the decision at ``threshold``."""

    similarity: float
    match: bool
    threshold: float
    model: str
    cosine: float
