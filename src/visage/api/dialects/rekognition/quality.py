"""``QualityFilter`` (NONE/AUTO/LOW/MEDIUM/HIGH) on what visage measures, with Rekognition's reasons.

AWS does not publish its bars. visage's are below, per level, on measured quantities only: the
detector's confidence (``LOW_CONFIDENCE``), the face box's shorter side in pixels
(``SMALL_BOUNDING_BOX``), head pose (``EXTREME_POSE``) and, once the engine measures them,
brightness and sharpness (``LOW_BRIGHTNESS``/``LOW_SHARPNESS``, 0-100). A quantity that was not
measured never filters a face. ``AUTO`` is ``LOW``. docs/rekognition.md prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from visage.types import Face


@dataclass(frozen=True, slots=True)
class QualityBar:
    min_confidence: float  # detector confidence in [0, 1] (dlib HOG: 0.73 is its own threshold)
    min_side_px: float  # shorter side of the face box, pixels of the decoded image
    max_abs_yaw: float  # degrees
    max_abs_pitch: float  # degrees
    min_brightness: float  # 0-100, when measured
    min_sharpness: float  # 0-100, when measured


QUALITY_BARS: dict[str, QualityBar] = {
    "LOW": QualityBar(0.73, 20, 75, 60, 10, 10),
    "MEDIUM": QualityBar(0.88, 40, 55, 45, 20, 20),
    "HIGH": QualityBar(0.95, 80, 35, 30, 30, 35),
}
QUALITY_BARS["AUTO"] = QUALITY_BARS["LOW"]


def quality_reasons(face: Face, level: str | None) -> list[str]:
    """Rekognition ``Reasons`` why ``face`` fails the ``level`` bar (empty: it passes)."""
    bar = QUALITY_BARS.get(level or "NONE")
    if bar is None:
        return []
    reasons = []
    if face.pose is not None and (abs(face.pose.yaw) > bar.max_abs_yaw or abs(face.pose.pitch) > bar.max_abs_pitch):
        reasons.append("EXTREME_POSE")
    quality = face.quality or {}
    if quality.get("brightness") is not None and quality["brightness"] < bar.min_brightness:
        reasons.append("LOW_BRIGHTNESS")
    if quality.get("sharpness") is not None and quality["sharpness"] < bar.min_sharpness:
        reasons.append("LOW_SHARPNESS")
    if face.confidence < bar.min_confidence:
        reasons.append("LOW_CONFIDENCE")
    if min(face.box.width, face.box.height) < bar.min_side_px:
        reasons.append("SMALL_BOUNDING_BOX")
    return reasons
