"""Rekognition-style quality filter: why a face should not be indexed, at a chosen strictness.

``QualityFilter`` levels NONE / AUTO / LOW / MEDIUM / HIGH map to the threshold table
:data:`LEVELS` (data, not code: docs/quality.md lists it with the fixture values it was checked
against). AUTO uses the LOW table: by default only clearly unusable faces are refused.
``EXCEEDS_MAX_FACES`` is not decided here: it depends on the other faces of the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from visage.errors import InvalidParameterError
from visage.types import Face

REASONS = ("EXTREME_POSE", "LOW_BRIGHTNESS", "LOW_SHARPNESS", "LOW_CONFIDENCE", "SMALL_BOUNDING_BOX",
           "LOW_FACE_QUALITY")


@dataclass(frozen=True, slots=True)
class FilterLevel:
    """Thresholds of one level; a face failing any of a reason's tests gets that reason."""

    max_yaw: float  # degrees, absolute
    max_pitch: float  # degrees, absolute
    min_brightness: float  # quality "brightness", 0..100
    min_sharpness: float  # quality "sharpness", 0..100
    min_confidence: float  # detector confidence, 0..1
    min_box_side: float  # pixels, the shorter side of the face box
    min_integrity: float  # quality "integrity", 0..1
    min_occlusion_total: float  # quality occlusion "total" (visible fraction), 0..1


LEVELS: dict[str, FilterLevel] = {
    "LOW": FilterLevel(max_yaw=60, max_pitch=45, min_brightness=10, min_sharpness=20, min_confidence=0.75,
                       min_box_side=32, min_integrity=0.6, min_occlusion_total=0.6),
    # Pose limits of Rekognition's advice for face-comparison input (yaw and pitch within 45 / 30 degrees).
    "MEDIUM": FilterLevel(max_yaw=45, max_pitch=30, min_brightness=15, min_sharpness=35, min_confidence=0.85,
                          min_box_side=48, min_integrity=0.85, min_occlusion_total=0.75),
    "HIGH": FilterLevel(max_yaw=30, max_pitch=20, min_brightness=25, min_sharpness=50, min_confidence=0.95,
                        min_box_side=64, min_integrity=0.95, min_occlusion_total=0.85),
}
LEVELS["AUTO"] = LEVELS["LOW"]


def quality_filter_reasons(face: Face, image_size: tuple[int, int], level: str = "AUTO") -> list[str]:
    """Reasons (in :data:`REASONS` order) that ``face`` fails ``level``; empty when it passes.

    ``image_size`` is (width, height): the box is measured inside the image, so a face cut by
    the border counts only its visible part. The face must carry quality (analyze with
    ``AnalyzeOptions(quality=True)``) and pose unless ``level`` is NONE.
    """
    level = level.upper()
    if level == "NONE":
        return []
    try:
        t = LEVELS[level]
    except KeyError:
        raise InvalidParameterError(f"unknown QualityFilter {level!r}; use NONE, AUTO, LOW, MEDIUM or HIGH") from None
    if face.quality is None or face.pose is None:
        raise ValueError("quality filtering needs a face analysed with quality=True and pose=True")
    q = face.quality
    occlusion = q.get("occlusion") or {}
    width, height = image_size
    visible = face.box.clipped(width, height)
    failed = {
        "EXTREME_POSE": abs(face.pose.yaw) > t.max_yaw or abs(face.pose.pitch) > t.max_pitch,
        "LOW_BRIGHTNESS": float(q["brightness"]) < t.min_brightness,
        "LOW_SHARPNESS": float(q["sharpness"]) < t.min_sharpness,
        "LOW_CONFIDENCE": face.confidence < t.min_confidence,
        "SMALL_BOUNDING_BOX": min(visible.width, visible.height) < t.min_box_side,
        "LOW_FACE_QUALITY": float(q["integrity"]) < t.min_integrity
        or float(occlusion.get("total", 1.0)) < t.min_occlusion_total,
    }
    return [reason for reason in REASONS if failed[reason]]
