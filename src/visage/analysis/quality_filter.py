"""Why a face should not be indexed: Rekognition's reasons at levels NONE/AUTO/LOW/MEDIUM/HIGH.

Thresholds are data (:data:`LEVELS`; docs/quality.md lists them beside the fixture values they
were checked against). A reason is only raised from a measurement the face carries: pose,
detector confidence and box size always; brightness, sharpness and LOW_FACE_QUALITY (integrity,
occlusion) only when the request computed quality (``AnalyzeOptions(quality=True)``).
AUTO is LOW, the bar Rekognition applies by default: only clearly unusable faces are refused.
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
    """Thresholds of one level; a face failing any test of a reason gets that reason."""

    min_confidence: float  # detector confidence, 0..1
    min_box_side: float  # pixels, shorter side of the face box's part inside the image
    max_abs_yaw: float  # degrees
    max_abs_pitch: float  # degrees
    min_brightness: float  # quality "brightness", 0..100
    min_sharpness: float  # quality "sharpness", 0..100
    min_integrity: float  # quality "integrity", 0..1
    min_occlusion_total: float  # quality occlusion "total" (visible fraction), 0..1


LEVELS: dict[str, FilterLevel | None] = {
    "NONE": None,
    "LOW": FilterLevel(min_confidence=0.75, min_box_side=40, max_abs_yaw=60, max_abs_pitch=45,
                       min_brightness=10, min_sharpness=20, min_integrity=0.6, min_occlusion_total=0.6),
    "MEDIUM": FilterLevel(min_confidence=0.85, min_box_side=60, max_abs_yaw=45, max_abs_pitch=35,
                          min_brightness=20, min_sharpness=35, min_integrity=0.85, min_occlusion_total=0.75),
    "HIGH": FilterLevel(min_confidence=0.92, min_box_side=80, max_abs_yaw=30, max_abs_pitch=25,
                        min_brightness=30, min_sharpness=50, min_integrity=0.95, min_occlusion_total=0.85),
}
LEVELS["AUTO"] = LEVELS["LOW"]


def check_level(level: str) -> str:
    """The level's canonical name (AUTO when empty); InvalidParameterError for an unknown one."""
    level = (level or "AUTO").upper()
    if level not in LEVELS:
        raise InvalidParameterError(f"quality filter must be one of {', '.join(LEVELS)}")
    return level


def quality_filter_reasons(face: Face, image_size: tuple[int, int], level: str = "AUTO") -> list[str]:
    """Reasons (Rekognition's names, in :data:`REASONS` order) ``face`` fails ``level``; empty if it passes.

    ``image_size`` is (width, height): a face cut by the border counts only its visible box.
    """
    bar = LEVELS[check_level(level)]
    if bar is None:
        return []
    quality = face.quality or {}
    occlusion = quality.get("occlusion") if isinstance(quality.get("occlusion"), dict) else {}
    box = face.box.clipped(*image_size)
    failed = {
        "EXTREME_POSE": face.pose is not None
        and (abs(face.pose.yaw) > bar.max_abs_yaw or abs(face.pose.pitch) > bar.max_abs_pitch),
        "LOW_BRIGHTNESS": "brightness" in quality and float(quality["brightness"]) < bar.min_brightness,
        "LOW_SHARPNESS": "sharpness" in quality and float(quality["sharpness"]) < bar.min_sharpness,
        "LOW_CONFIDENCE": face.confidence < bar.min_confidence,
        "SMALL_BOUNDING_BOX": min(box.width, box.height) < bar.min_box_side,
        "LOW_FACE_QUALITY": ("integrity" in quality and float(quality["integrity"]) < bar.min_integrity)
        or ("total" in occlusion and float(occlusion["total"]) < bar.min_occlusion_total),
    }
    return [reason for reason in REASONS if failed[reason]]
