"""Domain <-> 3DiVi wire: boxes, fitter keypoints, pose, templates, quality and attributes.

The ONE place where visage's typed results become 3DiVi field names and conventions:

* **bbox**: ``[x1, y1, x2, y2]`` of the face box clipped to the image, divided by its width/height.
* **keypoints**: 3DiVi's 21-point ``fda`` layout. From the fast pipeline's 468-point mesh through
  :func:`visage.analysis.keypoints.keypoint_set` ("threedivi21"), from dlib's 68 points through
  :data:`DLIB68_TO_FDA21` below. v1: pixels, ``[x, y, 0]`` per point (z is 0: the points are 2-D) plus
  ``left_eye``/``right_eye``; v2: ``proj`` normalised to the image. "left" is the image's left.
* **pose**: visage's :class:`~visage.types.Pose` degrees pass through unchanged. Its signs match the
  seed's fitter example (yaw > 0 with the nose right of the ears' midpoint, i.e. the face turned to the
  image's right; roll > 0 clockwise, the right eye lower); pitch > 0 = chin raised (visage's convention;
  the seed's examples cannot confirm 3DiVi's pitch sign).
* **templates**: :mod:`.schemas` (self-describing uint8 blob).
* **quality / attributes**: mapped from ``Face.quality["icao"]`` and ``Face.attributes`` by the tables
  below; a field visage does not measure is null, never invented. The quality block's neutral-emotion
  pair comes from the emotion model when the engine has it (the ICAO block itself leaves it out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visage.analysis.keypoints import keypoint_set
from visage.api.dialects.threedivi.schemas import Version, parse_bbox
from visage.types import Box, Face, ImageAnalysis, Pose

FDA21: tuple[str, ...] = (
    "left_eye_brow_left", "left_eye_brow_up", "left_eye_brow_right",
    "right_eye_brow_left", "right_eye_brow_up", "right_eye_brow_right",
    "left_eye_left", "left_eye", "left_eye_right", "right_eye_left", "right_eye", "right_eye_right",
    "left_ear_bottom", "nose_left", "nose", "nose_right", "right_ear_bottom",
    "mouth_left", "mouth", "mouth_right", "chin",
)

# iBUG-68 indices (0-based) for each fda point; a tuple is averaged (eye centres from the 6 lid points,
# the mouth centre from the inner lips' middle points). Ear bottoms: the jaw points level with the nose.
DLIB68_TO_FDA21: dict[str, tuple[int, ...]] = {
    "left_eye_brow_left": (17,), "left_eye_brow_up": (19,), "left_eye_brow_right": (21,),
    "right_eye_brow_left": (22,), "right_eye_brow_up": (24,), "right_eye_brow_right": (26,),
    "left_eye_left": (36,), "left_eye": (36, 37, 38, 39, 40, 41), "left_eye_right": (39,),
    "right_eye_left": (42,), "right_eye": (42, 43, 44, 45, 46, 47), "right_eye_right": (45,),
    "left_ear_bottom": (2,), "nose_left": (31,), "nose": (30,), "nose_right": (35,),
    "right_ear_bottom": (14,), "mouth_left": (48,), "mouth": (62, 66), "mouth_right": (54,), "chin": (8,),
}

FITTER_TYPE = "fda"


# --------------------------------------------------------------------------- geometry
def norm_bbox(box: Box, width: int, height: int) -> list[float]:
    b = box.clipped(width, height)
    return [float(b.left) / width, float(b.top) / height, float(b.right) / width, float(b.bottom) / height]


def pixel_box(bbox: object, width: int, height: int, where: str) -> Box:
    x1, y1, x2, y2 = parse_bbox(bbox, where)
    return Box(x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height)


def fda21(face: Face) -> list[tuple[str, float, float]] | None:
    """The 21 fda points (pixels) of a face, or None when it has no landmarks of a known scheme."""
    lm = face.landmarks
    if lm is None:
        return None
    if lm.scheme == "mesh468":
        iris = (face.attributes or {}).get("iris")
        return keypoint_set("threedivi21", lm.points, None if iris is None else np.asarray(iris))
    if lm.scheme == "dlib68":
        pts = np.asarray(lm.points, np.float64)
        return [(name, float(pts[list(DLIB68_TO_FDA21[name]), 0].mean()),
                 float(pts[list(DLIB68_TO_FDA21[name]), 1].mean())) for name in FDA21]
    return None


def pose_json(pose: Pose) -> dict[str, float]:
    return {"yaw": float(pose.yaw), "roll": float(pose.roll), "pitch": float(pose.pitch)}


def fitter_fields(face: Face, width: int, height: int, version: Version) -> dict[str, Any]:
    """v1 ``fitter`` + ``angles`` or v2 ``keypoints`` + ``pose`` (what the face has of them)."""
    out: dict[str, Any] = {}
    points = fda21(face)
    if version == "v1":
        if points is not None:
            named = {n: (x, y) for n, x, y in points}
            out["fitter"] = {
                "fitter_type": FITTER_TYPE,
                "keypoints": [v for _, x, y in points for v in (x, y, 0)],
                "left_eye": list(named["left_eye"]), "right_eye": list(named["right_eye"]),
            }
        if face.pose is not None:
            out["angles"] = pose_json(face.pose)
    else:
        if points is not None:
            kp: dict[str, Any] = {n: {"proj": [float(x) / width, float(y) / height]} for n, x, y in points}
            kp["fitter_type"] = FITTER_TYPE
            out["keypoints"] = kp
        if face.pose is not None:
            out["pose"] = pose_json(face.pose)
    return out


def face_object(face: Face, index: int, width: int, height: int) -> dict[str, Any]:
    """A detector's face object: id, class, confidence, normalised bbox."""
    return {"id": index, "class": "face", "confidence": float(face.confidence),
            "bbox": norm_bbox(face.box, width, height)}


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    iy = max(0.0, min(a.bottom, b.bottom) - max(a.top, b.top))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


MATCH_IOU = 0.3


def match_faces(boxes: list[Box], analysis: ImageAnalysis) -> list[int | None]:
    """For each requested box, the index of the detected face it is (greedy by IoU >= MATCH_IOU)."""
    pairs = sorted(((iou(b, f.box), i, j) for i, b in enumerate(boxes) for j, f in enumerate(analysis.faces)),
                   reverse=True)
    out: list[int | None] = [None] * len(boxes)
    used: set[int] = set()
    for score, i, j in pairs:
        if score < MATCH_IOU:
            break
        if out[i] is None and j not in used:
            out[i], used = j, used | {j}
    return out


# --------------------------------------------------------------------------- quality
# visage's ICAO block (Face.quality["icao"], docs/quality.md) uses 3DiVi's v2 snake_case names;
# v1 nests the same values under quality.qaa with these camelCase names.
QAA_FIELDS: dict[str, str] = {
    "total_score": "totalScore", "is_sharp": "isSharp", "sharpness_score": "sharpnessScore",
    "is_evenly_illuminated": "isEvenlyIlluminated", "illumination_score": "illuminationScore",
    "no_flare": "noFlare", "is_left_eye_opened": "isLeftEyeOpened",
    "left_eye_openness_score": "leftEyeOpennessScore", "is_right_eye_opened": "isRightEyeOpened",
    "right_eye_openness_score": "rightEyeOpennessScore", "is_rotation_acceptable": "isRotationAcceptable",
    "max_rotation_deviation": "maxRotationDeviation", "not_masked": "notMasked",
    "not_masked_score": "notMaskedScore", "is_neutral_emotion": "isNeutralEmotion",
    "neutral_emotion_score": "neutralEmotionScore", "is_eyes_distance_acceptable": "isEyesDistanceAcceptable",
    "eyes_distance": "eyesDistance", "is_margins_acceptable": "isMarginsAcceptable",
    "margin_outer_deviation": "marginOuterDeviation", "margin_inner_deviation": "marginInnerDeviation",
    "is_not_noisy": "isNotNoisy", "noise_score": "noiseScore", "watermark_score": "watermarkScore",
    "has_watermark": "hasWatermark", "dynamic_range_score": "dynamicRangeScore",
    "is_dynamic_range_acceptable": "isDynamicRangeAcceptable",
    "background_uniformity_score": "backgroundUniformityScore", "is_background_uniform": "isBackgroundUniform",
}


def _plain(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    return v


def quality_fields(face: Face, version: Version) -> dict[str, Any] | None:
    """v1 ``{"quality": {"qaa": {camelCase}}}`` or v2 ``{"quality": {snake_case}}``; None without ICAO data."""
    icao = (face.quality or {}).get("icao")
    if not isinstance(icao, dict):
        return None
    values = {name: _plain(icao.get(name)) for name in QAA_FIELDS}  # unmeasured fields stay null
    emotion = (face.attributes or {}).get("emotion")
    if values["neutral_emotion_score"] is None and isinstance(emotion, dict):
        # From the emotion model (docs/attributes.md): P(neutral), and neutral when it is the most likely class.
        values["neutral_emotion_score"] = float(emotion["scores"]["neutral"])
        values["is_neutral_emotion"] = emotion["dominant"] == "neutral"
    if version == "v1":
        return {"quality": {"qaa": {QAA_FIELDS[k]: v for k, v in values.items()}}}
    return {"quality": values}


# --------------------------------------------------------------------------- attributes
# Face.attributes (docs/attributes.md) -> 3DiVi fields. v1 spells enum values in upper case, v2 in
# lower case; the emotion list follows the seed's order.
EMOTION_ORDER: tuple[str, ...] = ("angry", "disgusted", "scared", "happy", "neutral", "sad", "surprised")


def _case(value: str, version: Version) -> str:
    return value.upper() if version == "v1" else value.lower()


def attribute_fields(name: str, face: Face, version: Version, block: str) -> dict[str, Any]:
    """The 3DiVi field(s) of one attribute; NotAvailableError when the face does not carry it."""
    from visage.api.dialects.threedivi.errors import NotAvailableError

    attrs = face.attributes or {}
    value = attrs.get(name)
    if not isinstance(value, dict):
        raise NotAvailableError(f"{block} is not available on this server: its pipeline produces no {name} "
                                "(attributes need the 'fast' pipeline; see docs/threedivi.md)")
    if name == "age":
        # The seed's age is a string of whole years; visage's is the expected age of the model's bins.
        return {"age": str(round(float(value["value"])))}
    if name == "gender":
        return {"gender": _case(str(value["value"]), version)}
    if name == "emotion":
        scores = value["scores"]
        return {"emotions": [{"confidence": float(scores[e]), "emotion": _case(e, version)}
                             for e in EMOTION_ORDER if e in scores]}
    if name == "liveness":
        # visage: value real|spoof and score = P(real); 3DiVi: value REAL|FAKE with the confidence of that value.
        real = str(value["value"]) == "real"
        p_real = float(value["score"])
        return {"liveness": {"confidence": p_real if real else 1.0 - p_real,
                             "value": _case("real" if real else "fake", version)}}
    if name == "mask":
        key = "mask" if version == "v1" else "has_medical_mask"
        masked = bool(value["value"])
        # The seed's example pairs value false with confidence 0.07: the confidence is the mask score
        # (visage's ``score``), not the confidence of the value given.
        p = float(value.get("score", value.get("probability", 0.0)))
        return {key: {"confidence": p, "value": masked}}
    raise NotAvailableError(f"{block}: no 3DiVi mapping for attribute {name}")


def body_objects(found: list[Any], start: int, width: int, height: int) -> list[dict[str, Any]]:
    """Body detections (pixel ``box``, ``confidence``) as 3DiVi body objects."""
    return [{"id": start + n, "class": "body", "confidence": float(b.confidence),
             "bbox": norm_bbox(b.box, width, height)} for n, b in enumerate(found)]
