"""Why a face should not be indexed: Rekognition's reasons at levels NONE/AUTO/LOW/MEDIUM/HIGH.

Thresholds are data (:data:`LEVELS`). A reason is only raised from a measurement the face
carries: pose, detector confidence and box size always; brightness and sharpness only when
the request computed quality. AUTO is LOW, the bar Rekognition applies by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from visage.errors import InvalidParameterError
from visage.types import Face


@dataclass(frozen=True, slots=True)
class FilterLevel:
    min_confidence: float
    min_box_side: float
    max_abs_yaw: float
    max_abs_pitch: float
    min_brightness: float
    min_sharpness: float


LEVELS: dict[str, FilterLevel | None] = {
    "NONE": None,
    "LOW": FilterLevel(min_confidence=0.75, min_box_side=40, max_abs_yaw=60, max_abs_pitch=45,
                       min_brightness=10, min_sharpness=5),
    "MEDIUM": FilterLevel(min_confidence=0.85, min_box_side=60, max_abs_yaw=45, max_abs_pitch=35,
                          min_brightness=20, min_sharpness=10),
    "HIGH": FilterLevel(min_confidence=0.92, min_box_side=80, max_abs_yaw=30, max_abs_pitch=25,
                        min_brightness=30, min_sharpness=20),
}
LEVELS["AUTO"] = LEVELS["LOW"]


def check_level(level: str) -> str:
    level = (level or "AUTO").upper()
    if level not in LEVELS:
        raise InvalidParameterError(f"quality filter must be one of {', '.join(LEVELS)}")
    return level


def quality_filter_reasons(face: Face, image_size: tuple[int, int], level: str) -> list[str]:
    """Reasons (Rekognition's names) ``face`` fails the quality bar of ``level``; empty if it passes."""
    bar = LEVELS[check_level(level)]
    if bar is None:
        return []
    reasons = []
    if face.pose is not None and (abs(face.pose.yaw) > bar.max_abs_yaw or abs(face.pose.pitch) > bar.max_abs_pitch):
        reasons.append("EXTREME_POSE")
    quality = face.quality or {}
    if "brightness" in quality and quality["brightness"] < bar.min_brightness:
        reasons.append("LOW_BRIGHTNESS")
    if "sharpness" in quality and quality["sharpness"] < bar.min_sharpness:
        reasons.append("LOW_SHARPNESS")
    if face.confidence < bar.min_confidence:
        reasons.append("LOW_CONFIDENCE")
    box = face.box.clipped(*image_size)
    if min(box.width, box.height) < bar.min_box_side:
        reasons.append("SMALL_BOUNDING_BOX")
    return reasons
