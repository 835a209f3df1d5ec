"""Domain results -> seed 002's ``face_list`` entries: the one place every wire field is chosen.

| wire | source |
|---|---|
| ``face_token`` | :func:`tokens.face_token` (image hash + whole-pixel box) |
| ``location.left/top/width/height`` | ``Face.box``: left/top rounded to pixels, width/height the rounded right/bottom |
|  | minus them, so ``left + width`` is SenseID's ``rect.right`` for the same face (one convention) |
| ``location.rotation`` | ``Face.pose.roll`` rounded (clockwise > 0, the seed's direction) |
| ``face_probability`` | ``Face.confidence`` (0 and 1 as integers, as the seed says) |
| ``angle.yaw`` / ``roll`` | ``Face.pose.yaw`` / ``roll`` (right / clockwise > 0, as the seed) |
| ``angle.pitch`` | ``-Face.pose.pitch`` (the seed: -90 up, 90 down; visage: up > 0) |
| ``landmark`` / ``landmark72`` / ``landmark150`` | keypoint sets ``qiniu4`` / ``qiniu72`` / ``qiniu150`` (mesh468), |
|  | clamped into the image (a face cut by the border has its points on the border, not beyond) |
| ``age`` | ``attributes["age"]["value"]`` |
| ``gender`` | ``attributes["gender"]`` value/probability |
| ``emotion`` | ``attributes.qiniu_emotion(attributes["emotion"])``: dominant class, the seed's names |
| ``expression`` | ``attributes["expression"]`` none/smile/laugh; probability of the smile decision |
| ``eye_status`` | the eye-state model's per-eye open probability (``attributes["eyes_open"]["left"/"right"]``); |
|  | without it, ``min(1, eye aspect ratio / 0.3)`` per eye from ``quality`` (the ICAO openness score) |
| ``quality.occlusion.*`` | ``1 - quality["occlusion"][part]`` (occluded share); ``chin`` -> ``chin_contour`` |
| ``quality.blur`` / ``illumination`` / ``completeness`` | same-named ``quality`` keys |
| ``expression``, ``face_shape``, ``glasses``, | ``attributes[name]`` (``type``/``probability``) when |
| ``face_type``, ``mask`` | the engine has a model or method for it; otherwise omitted (``glasses``: none/common/sun) |
| ``spoofing`` | ``1 - attributes["liveness"]["score"]``: the liveness model's spoof probability (a print or |
|  | screen re-capture), the nearest measured question to the seed's "synthetic image" |

Anything whose source is absent is omitted, never invented (docs/qiniu.md).
"""

from __future__ import annotations

from typing import Any

from visage.analysis.attributes import qiniu_emotion
from visage.analysis.icao import THRESHOLDS
from visage.analysis.keypoints import keypoint_set
from visage.types import Face

FACE_FIELDS = ("age", "expression", "face_shape", "gender", "glasses", "landmark", "landmark150", "quality",
               "eye_status", "emotion", "face_type", "mask", "spoofing")

OCCLUSION_PARTS = {"left_eye": "left_eye", "right_eye": "right_eye", "nose": "nose", "mouth": "mouth",
                   "left_cheek": "left_cheek", "right_cheek": "right_cheek", "chin": "chin_contour"}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def probability(value: float) -> float | int:
    """Seed: 'when 0 or 1 is returned the type is Integer'."""
    v = min(1.0, max(0.0, float(value)))
    r = round(v, 4)
    return int(r) if r in (0.0, 1.0) else r


def _points(face: Face, scheme: str, size: tuple[int, int] | None) -> list[dict[str, float]] | None:
    """A keypoint set in pixels; with the image ``size``, clamped into ``[0, width] x [0, height]`` (the
    mesh extrapolates a face cut by the border beyond it; a client drawing the points expects them on it)."""
    if face.landmarks is None or face.landmarks.scheme != "mesh468":
        return None
    iris = None
    if face.attributes and isinstance(face.attributes.get("iris"), list):
        import numpy as np

        iris = np.asarray(face.attributes["iris"], np.float64)
    pts = keypoint_set(scheme, face.landmarks.points, iris)
    if size is not None:
        width, height = size
        pts = [(n, min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))) for n, x, y in pts]
    return [{"x": round(x, 4), "y": round(y, 4)} for _, x, y in pts]


def location(face: Face) -> dict[str, int]:
    """``left/top/width/height`` in whole pixels: the rounded edges, so ``left + width`` is the rounded
    right edge (SenseID's ``rect.right``) and ``top + height`` the rounded bottom, never one pixel off."""
    box = face.box
    left, top = round(box.left), round(box.top)
    return {"left": left, "top": top, "width": round(box.right) - left, "height": round(box.bottom) - top}


def _eye_status(attrs: dict[str, Any], q: dict[str, Any]) -> dict[str, Any] | None:
    """Per-eye open probability (0 = closed): the eye-state model's, else the eye aspect ratio's score."""
    eyes = attrs.get("eyes_open")
    if isinstance(eyes, dict):
        left, right = _num(eyes.get("left")), _num(eyes.get("right"))
        if left is not None and right is not None:
            return {"left_eye": probability(left), "right_eye": probability(right)}
    left, right = _num(q.get("left_eye_aspect_ratio")), _num(q.get("right_eye_aspect_ratio"))
    if left is None or right is None:
        return None
    full = THRESHOLDS["eye_open_ear_full"]
    return {"left_eye": probability(left / full), "right_eye": probability(right / full)}


def spoofing(attrs: dict[str, Any]) -> float | int | None:
    """``spoofing``: the probability that the face is not live, from the liveness attribute's score."""
    live = attrs.get("liveness")
    score = _num(live.get("score")) if isinstance(live, dict) else None
    return None if score is None else probability(1.0 - score)


def _typed(value: Any, names: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``{"type", "probability"}`` from an attribute dict (``value``/``dominant`` + probability/scores)."""
    if not isinstance(value, dict):
        return None
    label = value.get("value", value.get("dominant", value.get("type")))
    prob = _num(value.get("probability"))
    if prob is None and isinstance(value.get("scores"), dict):
        prob = _num(value["scores"].get(label))
    if label is None or isinstance(label, bool) or prob is None:
        return None
    label = str(label)
    if names is not None:
        if label not in names:
            return None
        label = names[label]
    return {"type": label, "probability": probability(prob)}


def _expression(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """none/smile/laugh from the ``expression`` attribute; its probability is that of the smile decision
    (the emotion model's ``happy``, or 1 - happy for ``none``) carried by the ``smile`` attribute."""
    expr, smile = attrs.get("expression"), attrs.get("smile")
    value = expr.get("value") if isinstance(expr, dict) else None
    happy = _num(smile.get("probability")) if isinstance(smile, dict) else None
    if value not in ("none", "smile", "laugh") or happy is None:
        return None
    return {"type": value, "probability": probability(1.0 - happy if value == "none" else happy)}


def _quality(q: dict[str, Any]) -> dict[str, Any] | None:
    occ = q.get("occlusion")
    blur, illum, complete = _num(q.get("blur")), _num(q.get("illumination")), _num(q.get("completeness"))
    if not isinstance(occ, dict) or None in (blur, illum, complete):
        return None
    occlusion = {}
    for ours, theirs in OCCLUSION_PARTS.items():
        visible = _num(occ.get(ours))
        if visible is None:
            return None
        occlusion[theirs] = probability(1.0 - visible)
    return {"occlusion": occlusion, "blur": probability(blur), "illumination": round(illum),
            "completeness": int(complete >= 0.5)}


def face_to_wire(face: Face, token: str, fields: frozenset[str], crop_base64: str | None = None,
                 size: tuple[int, int] | None = None) -> dict[str, Any]:
    """One ``face_list`` entry; ``size`` (image width, height) bounds the landmarks."""
    pose = face.pose
    out: dict[str, Any] = {
        "face_token": token,
        "location": {**location(face), "rotation": round(pose.roll) if pose is not None else 0},
    }
    if crop_base64 is not None:
        out["corp_image_base64"] = crop_base64
    out["face_probability"] = probability(face.confidence)
    if pose is not None:
        out["angle"] = {"yaw": round(pose.yaw, 4), "pitch": round(-pose.pitch, 4) + 0.0, "roll": round(pose.roll, 4)}
    if "landmark" in fields:
        four, seventy_two = _points(face, "qiniu4", size), _points(face, "qiniu72", size)
        if four is not None and seventy_two is not None:
            out["landmark"], out["landmark72"] = four, seventy_two
    if "landmark150" in fields:
        points = _points(face, "qiniu150", size)
        if points is not None:
            out["landmark150"] = points
    attrs = face.attributes or {}
    q = face.quality or {}
    if "age" in fields:
        age = attrs.get("age")
        value = _num(age.get("value")) if isinstance(age, dict) else _num(age)
        if value is not None:
            out["age"] = round(value, 1)
    if "expression" in fields:
        expression = _expression(attrs)
        if expression is not None:
            out["expression"] = expression
    for name in ("gender", "glasses", "face_shape"):
        if name in fields:
            typed = _typed(attrs.get(name))
            if typed is not None:
                out[name] = typed
    if "eye_status" in fields:
        eye_status = _eye_status(attrs, q)
        if eye_status is not None:
            out["eye_status"] = eye_status
    if "emotion" in fields:
        emotion = attrs.get("emotion")
        if isinstance(emotion, dict) and isinstance(emotion.get("scores"), dict):
            typed = qiniu_emotion(emotion)
            out["emotion"] = {"type": typed["type"], "probability": probability(float(typed["probability"]))}
    if "face_type" in fields:
        typed = _typed(attrs.get("face_type"))
        if typed is not None:
            out["face_type"] = typed
    if "mask" in fields:
        mask = attrs.get("mask")
        prob = _num(mask.get("probability")) if isinstance(mask, dict) else None
        if isinstance(mask, dict) and isinstance(mask.get("value"), bool) and prob is not None:
            out["mask"] = {"type": int(mask["value"]), "probability": probability(prob)}
    if "quality" in fields:
        quality = _quality(q)
        if quality is not None:
            out["quality"] = quality
    if "spoofing" in fields:
        spoof = spoofing(attrs)
        if spoof is not None:
            out["spoofing"] = spoof
    return out
