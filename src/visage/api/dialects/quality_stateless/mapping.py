"""Domain results -> SenseID's face objects: the one place every wire field is chosen.

Sources (``Face.quality`` keys are documented in docs/quality.md):

* ``rect`` <- ``Face.box`` rounded to integer pixels (right = left + width, bottom = top + height).
* ``pose`` <- ``Face.pose`` (degrees; visage's signs, docs/models.md).
* ``occlusion.{left_eye,right_eye,nose,mouth,total}`` <- ``quality["occlusion"]`` (visible fraction,
  1 = not occluded, the seed's direction).
* ``distance2center``, ``size``, ``integrity``, ``mouth_open`` <- the same-named quality keys (seed formulas).
* ``brightness`` <- ``quality["illumination"] / 127.5 - 1`` (mean face luma 0..255 mapped to [-1, 1]).
* ``sharpness`` <- ``quality["sharpness"] / 100``.

A field whose source is absent is omitted, never invented.
"""

from __future__ import annotations

from typing import Any

from visage.analysis.quality import senseid_brightness
from visage.types import Face

OCCLUSION_PARTS = ("left_eye", "right_eye", "nose", "mouth", "total")


def _num(value: Any, digits: int = 4) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(float(value), digits)


def _clamp(value: float | None, lo: float, hi: float) -> float | None:
    return None if value is None else min(hi, max(lo, value))


def face_to_wire(face: Face) -> dict[str, Any]:
    box = face.box
    out: dict[str, Any] = {
        "rect": {"left": round(box.left), "top": round(box.top), "right": round(box.right),
                 "bottom": round(box.bottom)},
    }
    if face.pose is not None:
        out["pose"] = {"yaw": round(face.pose.yaw, 4), "pitch": round(face.pose.pitch, 4),
                       "roll": round(face.pose.roll, 4)}
    q = face.quality or {}
    occ = q.get("occlusion")
    if isinstance(occ, dict):
        parts = {p: _clamp(_num(occ.get(p)), 0.0, 1.0) for p in OCCLUSION_PARTS}
        if all(v is not None for v in parts.values()):
            out["occlusion"] = parts
    illumination = _num(q.get("illumination"), 6)
    sharpness = _num(q.get("sharpness"), 6)
    fields = {
        "distance2center": _clamp(_num(q.get("distance2center")), 0.0, 1.0),
        "size": _clamp(_num(q.get("size"), 6), 0.0, 1.0),
        "brightness": None if illumination is None else _clamp(senseid_brightness(illumination), -1.0, 1.0),
        "sharpness": None if sharpness is None else _clamp(round(sharpness / 100.0, 4), 0.0, 1.0),
        "mouth_open": _clamp(_num(q.get("mouth_open")), 0.0, 1.0),
        "integrity": _clamp(_num(q.get("integrity")), 0.0, 1.0),
    }
    out.update({k: v for k, v in fields.items() if v is not None})
    return out
