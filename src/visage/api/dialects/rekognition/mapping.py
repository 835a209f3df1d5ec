"""Domain results -> Rekognition wire shapes (``FaceDetail``, ``ComparedFace``, ``BoundingBox`` ...).

Coordinates: visage works in pixels of the decoded, orientation-corrected image; Rekognition
speaks ratios of the image's width and height (not clipped: a face cut by the border may have a
negative ``Left``, as on AWS). Confidences and similarities: visage's [0, 1] become 0-100.

Nothing here invents a value: a field whose value the engine did not produce is omitted
(Rekognition marks every ``FaceDetail`` member optional).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from visage.types import Box, Face, Landmarks

# ----------------------------------------------------------------------------------- landmarks
# Rekognition's 30 landmark types. "Left"/"Right" are sides of the *image* (AWS's own example puts
# eyeLeft at a smaller X than eyeRight), i.e. leftEye* is the subject's right eye.
#
# Each type maps to point indices of a landmark scheme; several indices are averaged.
LANDMARK_SCHEMES: dict[str, dict[str, tuple[int, ...]]] = {
    # dlib / iBUG 300-W 68 points (0-based): jaw 0-16 (0 at the image-left temple, 8 the chin),
    # brows 17-21 (image-left) and 22-26, nose bridge 27-30 (30 the tip) and base 31-35,
    # eyes 36-41 (image-left: 36 outer, 39 inner corner) and 42-47 (42 inner, 45 outer),
    # mouth 48-59 outer (48 and 54 the corners, 51 top, 57 bottom) and 60-67 inner.
    # No pupil points: leftPupil/rightPupil are the centres of the eye contours.
    "dlib68": {
        "eyeLeft": (36, 37, 38, 39, 40, 41),
        "eyeRight": (42, 43, 44, 45, 46, 47),
        "nose": (30,),
        "mouthLeft": (48,),
        "mouthRight": (54,),
        "leftEyeBrowLeft": (17,),
        "leftEyeBrowRight": (21,),
        "leftEyeBrowUp": (19,),
        "rightEyeBrowLeft": (22,),
        "rightEyeBrowRight": (26,),
        "rightEyeBrowUp": (24,),
        "leftEyeLeft": (36,),
        "leftEyeRight": (39,),
        "leftEyeUp": (37, 38),
        "leftEyeDown": (40, 41),
        "rightEyeLeft": (42,),
        "rightEyeRight": (45,),
        "rightEyeUp": (43, 44),
        "rightEyeDown": (46, 47),
        "noseLeft": (31,),
        "noseRight": (35,),
        "mouthUp": (51,),
        "mouthDown": (57,),
        "leftPupil": (36, 37, 38, 39, 40, 41),
        "rightPupil": (42, 43, 44, 45, 46, 47),
        "upperJawlineLeft": (0,),
        "midJawlineLeft": (4,),
        "chinBottom": (8,),
        "midJawlineRight": (12,),
        "upperJawlineRight": (16,),
    },
    # MediaPipe Face Mesh, 468 points (canonical face model indices; 33/133 are the image-left
    # eye's outer/inner corners, 263/362 the image-right eye's). Pupils: eye-contour centres.
    # Checked against the dlib68 row on the same fixture faces (tests/api/rekognition/
    # test_landmark_schemes.py): every type within 0.15 inter-ocular distances on average;
    # the upper jawline points are 127/356 (temple level, as dlib's 0/16), measured closest.
    "mesh468": {
        "eyeLeft": (33, 133, 159, 145),
        "eyeRight": (362, 263, 386, 374),
        "nose": (1,),
        "mouthLeft": (61,),
        "mouthRight": (291,),
        "leftEyeBrowLeft": (70,),
        "leftEyeBrowRight": (107,),
        "leftEyeBrowUp": (105,),
        "rightEyeBrowLeft": (336,),
        "rightEyeBrowRight": (300,),
        "rightEyeBrowUp": (334,),
        "leftEyeLeft": (33,),
        "leftEyeRight": (133,),
        "leftEyeUp": (159,),
        "leftEyeDown": (145,),
        "rightEyeLeft": (362,),
        "rightEyeRight": (263,),
        "rightEyeUp": (386,),
        "rightEyeDown": (374,),
        "noseLeft": (98,),
        "noseRight": (327,),
        "mouthUp": (0,),
        "mouthDown": (17,),
        "leftPupil": (33, 133, 159, 145),
        "rightPupil": (362, 263, 386, 374),
        "upperJawlineLeft": (127,),
        "midJawlineLeft": (172,),
        "chinBottom": (152,),
        "midJawlineRight": (397,),
        "upperJawlineRight": (356,),
    },
}

#: The order Rekognition lists landmark types in its model (and DetectFaces answers in).
LANDMARK_TYPES: tuple[str, ...] = tuple(LANDMARK_SCHEMES["dlib68"])
#: CompareFaces' ComparedFace carries these five only, as on AWS.
COMPARED_FACE_LANDMARKS: tuple[str, ...] = ("eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose")
#: ... and these attributes, where the engine measures them.
COMPARED_FACE_ATTRIBUTES: tuple[str, ...] = ("Emotions", "Smile")


def landmarks_wire(
    landmarks: Landmarks | None, width: int, height: int, types: Iterable[str] = LANDMARK_TYPES
) -> list[dict[str, Any]] | None:
    """Rekognition ``Landmarks`` from any scheme listed in :data:`LANDMARK_SCHEMES`.

    ``None`` when the face has no landmarks or a scheme without a mapping (the field is omitted).
    """
    if landmarks is None:
        return None
    table = LANDMARK_SCHEMES.get(landmarks.scheme)
    if table is None:
        return None
    points = np.asarray(landmarks.points, dtype=np.float64)
    out = []
    for name in types:
        idx = table.get(name)
        if idx is None or max(idx) >= len(points):
            continue
        x, y = points[list(idx)].mean(axis=0)
        out.append({"Type": name, "X": float(x) / width, "Y": float(y) / height})
    return out or None


def bounding_box(box: Box, width: int, height: int) -> dict[str, float]:
    return {
        "Width": float(box.width) / width,
        "Height": float(box.height) / height,
        "Left": float(box.left) / width,
        "Top": float(box.top) / height,
    }


def percent(value: float) -> float:
    """[0, 1] -> Rekognition's 0-100, clamped."""
    return float(min(max(value, 0.0), 1.0) * 100.0)


# ---------------------------------------------------------------------------------- attributes
#: Rekognition ``Attributes`` names beyond DEFAULT -> the FaceDetail member each one adds.
ATTRIBUTE_FIELDS: dict[str, str] = {
    "AGE_RANGE": "AgeRange",
    "BEARD": "Beard",
    "EMOTIONS": "Emotions",
    "EYE_DIRECTION": "EyeDirection",
    "EYEGLASSES": "Eyeglasses",
    "EYES_OPEN": "EyesOpen",
    "GENDER": "Gender",
    "MOUTH_OPEN": "MouthOpen",
    "MUSTACHE": "Mustache",
    "FACE_OCCLUDED": "FaceOccluded",
    "SMILE": "Smile",
    "SUNGLASSES": "Sunglasses",
}

#: Boolean attributes: FaceDetail member -> key in ``Face.attributes``.
_BOOLEAN_KEYS: dict[str, str] = {
    "Smile": "smile",
    "Eyeglasses": "eyeglasses",
    "Sunglasses": "sunglasses",
    "Beard": "beard",
    "Mustache": "mustache",
    "EyesOpen": "eyes_open",
    "MouthOpen": "mouth_open",
    "FaceOccluded": "face_occluded",
}

#: visage emotion names -> Rekognition's ``EmotionName`` enum.
_EMOTIONS: dict[str, str] = {
    "happy": "HAPPY", "happiness": "HAPPY",
    "sad": "SAD", "sadness": "SAD",
    "angry": "ANGRY", "anger": "ANGRY",
    "confused": "CONFUSED",
    "disgusted": "DISGUSTED", "disgust": "DISGUSTED",
    "surprised": "SURPRISED", "surprise": "SURPRISED",
    "calm": "CALM", "neutral": "CALM",
    "fear": "FEAR", "fearful": "FEAR", "scared": "FEAR",
    "unknown": "UNKNOWN",
}


def requested_fields(attributes: Iterable[str] | None) -> set[str]:
    """FaceDetail members beyond the defaults that an ``Attributes`` list asks for."""
    names = set(attributes or ("DEFAULT",))
    if "ALL" in names:
        return set(ATTRIBUTE_FIELDS.values())
    return {ATTRIBUTE_FIELDS[n] for n in names if n in ATTRIBUTE_FIELDS}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _value_confidence(item: object) -> tuple[object, float] | None:
    """``(value, confidence %)`` from ``{"value", "probability"}`` (the engine's attributes; the
    probability of that value) or ``{"value", "confidence"}``; None when either is missing."""
    if not isinstance(item, Mapping) or "value" not in item:
        return None
    confidence = _number(item.get("probability", item.get("confidence")))
    if confidence is None:
        return None
    return item["value"], percent(confidence)


def attribute_fields(face: Face, wanted: set[str], models: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """The FaceDetail members ``wanted`` that the engine actually measured, in Rekognition's shapes.

    The engine's contract (``Face.attributes``; confidences in [0, 1] like ``Face.confidence``):
    ``age: {"value", "low", "high"}``, ``gender: {"value": "male"|"female", "probability"}``,
    ``emotion: {"dominant", "scores": {"happy": p, "scared": p, ...}}`` (also accepted: ``emotions`` as
    that dict or a list of ``{"type", "confidence"}``), ``glasses: {"value": "common"|"sun"|"none",
    "probability", "score"}``, ``smile``/``beard``/``mustache``/``mouth_open: {"value": bool, "probability"}``
    (``mouth_open`` has a value and no confidence), ``eyes_open: {"value": bool, "probability", "left",
    "right"}``, ``iris`` (10 points) for ``EyeDirection``, and ``mask`` with ``Face.quality`` for ``FaceOccluded``.
    ``models`` are the request's attribute models and methods (``ImageAnalysis.models``): they say
    whether the glasses measure that ran has a clear-glasses class.
    Anything missing or malformed is omitted, never guessed.
    """
    attrs: Mapping[str, Any] = face.attributes or {}
    out: dict[str, Any] = {}
    age = attrs.get("age")
    if "AgeRange" in wanted and isinstance(age, Mapping):
        low, high = _number(age.get("low")), _number(age.get("high"))
        if low is not None and high is not None:
            out["AgeRange"] = {"Low": round(low), "High": round(high)}
    for field, key in _BOOLEAN_KEYS.items():
        item = attrs.get(key) if field in wanted else None
        vc = _value_confidence(item)
        if vc is not None and isinstance(vc[0], bool | np.bool_):
            out[field] = {"Value": bool(vc[0]), "Confidence": vc[1]}
        elif isinstance(item, Mapping) and isinstance(item.get("value"), bool | np.bool_):
            # A measured value without a calibrated confidence (mouth_open: a landmark ratio against
            # a threshold): Value only; Rekognition's Confidence is optional and is never invented.
            out[field] = {"Value": bool(item["value"])}
    out.update(_glasses(attrs.get("glasses"), wanted, out, _detects_clear_glasses(models)))
    gender = _value_confidence(attrs.get("gender")) if "Gender" in wanted else None
    if gender is not None and str(gender[0]).lower() in ("male", "female"):
        out["Gender"] = {"Value": str(gender[0]).capitalize(), "Confidence": gender[1]}
    emotions = attrs.get("emotions")
    emotion = attrs.get("emotion")
    if emotions is None and isinstance(emotion, Mapping):
        emotions = emotion.get("scores")  # the engine's {"dominant", "scores": {7 classes}}
    if "Emotions" in wanted and emotions:
        pairs = emotions.items() if isinstance(emotions, Mapping) else (
            (e.get("type"), e.get("confidence")) for e in emotions if isinstance(e, Mapping))
        rows: dict[str, float] = {}
        for name, confidence in pairs:
            kind, p = _EMOTIONS.get(str(name).lower()), _number(confidence)
            if kind is not None and p is not None:
                rows[kind] = max(rows.get(kind, 0.0), percent(p))
        if rows:
            out["Emotions"] = [{"Type": k, "Confidence": v} for k, v in sorted(rows.items(), key=lambda kv: -kv[1])]
    if "EyeDirection" in wanted:
        gaze = _eye_direction(face)
        if gaze is not None:
            out["EyeDirection"] = gaze
    if "FaceOccluded" in wanted and "FaceOccluded" not in out:
        occluded = face_occluded(face)
        if occluded is not None:
            out["FaceOccluded"] = {"Value": occluded}
    return out


def _glasses(glasses: object, wanted: set[str], out: Mapping[str, Any], sees_clear: bool) -> dict[str, Any]:
    """``Eyeglasses`` and ``Sunglasses`` from the engine's ``glasses: {"value": "common"|"sun"|"none",
    "probability"}`` (the probability of that value). Sunglasses are glasses, as on AWS (a face in
    sunglasses answers Eyeglasses true and Sunglasses true); each Confidence is the probability of the
    class that decided it, never a sum the engine did not give. An engine whose glasses measure knows
    only "sun" | "none" (no ``common`` class: clear glasses undetected) gives Sunglasses alone."""
    if not isinstance(glasses, Mapping):
        return {}
    value, p = glasses.get("value"), _number(glasses.get("probability"))
    if value not in ("common", "sun", "none") or p is None:
        return {}
    fields: dict[str, Any] = {}
    if "Sunglasses" in wanted and "Sunglasses" not in out:
        fields["Sunglasses"] = {"Value": value == "sun", "Confidence": percent(p)}
    # "none" says "no glasses" only from a measure that detects clear glasses; from a sun/none measure it
    # says "no sunglasses", and Eyeglasses false would be a guess.
    if "Eyeglasses" in wanted and "Eyeglasses" not in out and (value != "none" or sees_clear):
        fields["Eyeglasses"] = {"Value": value != "none", "Confidence": percent(p)}
    return fields


def _detects_clear_glasses(models: tuple[str, ...] | list[str]) -> bool:
    """Whether the glasses measure that ran has a ``common`` (clear glasses) class: the frame method
    (``attributes.GLASSES_METHOD``, the fast pipeline) is among the request's models. The occluder method
    alone (the dlib pipeline) knows only sun/none."""
    from visage.analysis import attributes

    method = getattr(attributes, "GLASSES_METHOD", None)
    return method is not None and method in models


def _eye_direction(face: Face) -> dict[str, float] | None:
    """``EyeDirection`` (visage.analysis.gaze: iris centres on the mesh's eye corners; Pose's signs).
    Confidence is omitted: the method has no calibrated one."""
    attrs: Mapping[str, Any] = face.attributes or {}
    gaze = attrs.get("eye_direction")
    if not isinstance(gaze, Mapping) and face.landmarks is not None and face.landmarks.scheme == "mesh468":
        iris = attrs.get("iris")
        if isinstance(iris, list | np.ndarray):
            from visage.analysis.gaze import eye_direction

            gaze = eye_direction(face.landmarks.points, np.asarray(iris, np.float64))
    if not isinstance(gaze, Mapping):
        return None
    yaw, pitch = _number(gaze.get("yaw")), _number(gaze.get("pitch"))
    if yaw is None or pitch is None:
        return None
    out = {"Yaw": yaw, "Pitch": pitch}
    confidence = _number(gaze.get("confidence"))
    if confidence is not None:
        out["Confidence"] = percent(confidence)
    return out


#: The parts whose occlusion makes a face occluded (the eyes, nose and mouth: what AWS names, "objects
#: like hands, masks, glasses"), and the quality measure's own decision threshold (visible fraction
#: below it = occluded; visage.analysis.occlusion.OCCLUDED_BELOW, docs/quality.md).
OCCLUSION_PARTS: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth")


def face_occluded(face: Face) -> bool | None:
    """``FaceOccluded.Value``: some eye, the nose or the mouth is less than half visible by the quality
    occlusion measure, or the engine's mask attribute (where it ran) says the face wears a mask
    (docs/rekognition.md; measured by bench/eval_face_occluded.py). None when neither was measured."""
    from visage.analysis.occlusion import OCCLUDED_BELOW

    votes: list[bool] = []
    occlusion = (face.quality or {}).get("occlusion")
    if isinstance(occlusion, Mapping):
        parts = [_number(occlusion.get(p)) for p in OCCLUSION_PARTS]
        if all(v is not None for v in parts):
            votes.append(min(parts) < OCCLUDED_BELOW)  # type: ignore[type-var]
    mask = (face.attributes or {}).get("mask")
    if isinstance(mask, Mapping) and isinstance(mask.get("value"), bool | np.bool_):
        votes.append(bool(mask["value"]))
    return any(votes) if votes else None


def quality_wire(face: Face) -> dict[str, float] | None:
    """``Quality`` from ``Face.quality`` (``brightness``/``sharpness``, 0-100), when measured."""
    quality = face.quality or {}
    out = {}
    for key, field in (("brightness", "Brightness"), ("sharpness", "Sharpness")):
        value = _number(quality.get(key))
        if value is not None:
            out[field] = min(max(value, 0.0), 100.0)
    return out or None


def pose_wire(face: Face) -> dict[str, float] | None:
    if face.pose is None:
        return None
    return {"Roll": float(face.pose.roll), "Yaw": float(face.pose.yaw), "Pitch": float(face.pose.pitch)}


# ------------------------------------------------------------------------------------- shapes
def face_detail(face: Face, width: int, height: int, wanted: set[str] | None = None,
                models: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """A ``FaceDetail``: the default members plus the attributes in ``wanted`` that exist (``models``: the
    request's ``ImageAnalysis.models``)."""
    out: dict[str, Any] = {"BoundingBox": bounding_box(face.box, width, height)}
    out.update(attribute_fields(face, wanted or set(), models))
    optional = {
        "Landmarks": landmarks_wire(face.landmarks, width, height),
        "Pose": pose_wire(face),
        "Quality": quality_wire(face),
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    out["Confidence"] = percent(face.confidence)
    return out


def compared_face(face: Face, width: int, height: int) -> dict[str, Any]:
    """A ``ComparedFace`` (CompareFaces): box, confidence, five landmarks, pose, quality."""
    out: dict[str, Any] = {"BoundingBox": bounding_box(face.box, width, height), "Confidence": percent(face.confidence)}
    optional = {
        "Landmarks": landmarks_wire(face.landmarks, width, height, COMPARED_FACE_LANDMARKS),
        "Pose": pose_wire(face),
        "Quality": quality_wire(face),
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    out.update(attribute_fields(face, set(COMPARED_FACE_ATTRIBUTES)))
    return out


def compared_source_face(face: Face, width: int, height: int) -> dict[str, Any]:
    """``ComparedSourceImageFace``: the box and confidence of the source face."""
    return {"BoundingBox": bounding_box(face.box, width, height), "Confidence": percent(face.confidence)}
