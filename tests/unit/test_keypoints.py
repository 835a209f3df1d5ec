"""Keypoint sets mapped from the 468-point mesh (mesh: a real Face Mesh run on fixtures/obama.jpg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from visage.analysis.keypoints import SETS, keypoint_set, resample

MESH = np.load(Path(__file__).parent / "data" / "mesh468_frontal.npy")

THREEDIVI = ["left_eye_brow_left", "left_eye_brow_up", "left_eye_brow_right", "right_eye_brow_left",
             "right_eye_brow_up", "right_eye_brow_right", "left_eye_left", "left_eye", "left_eye_right",
             "right_eye_left", "right_eye", "right_eye_right", "left_ear_bottom", "nose_left", "nose",
             "nose_right", "right_ear_bottom", "mouth_left", "mouth", "mouth_right", "chin"]
REKOGNITION = ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight", "leftEyeBrowLeft", "leftEyeBrowRight",
               "leftEyeBrowUp", "rightEyeBrowLeft", "rightEyeBrowRight", "rightEyeBrowUp", "leftEyeLeft",
               "leftEyeRight", "leftEyeUp", "leftEyeDown", "rightEyeLeft", "rightEyeRight", "rightEyeUp",
               "rightEyeDown", "noseLeft", "noseRight", "mouthUp", "mouthDown", "leftPupil", "rightPupil",
               "upperJawlineLeft", "midJawlineLeft", "chinBottom", "midJawlineRight", "upperJawlineRight"]


def pts(name: str) -> dict[str, np.ndarray]:
    return {n: np.array([x, y]) for n, x, y in keypoint_set(name, MESH)}


@pytest.mark.parametrize(("name", "count"), [("threedivi21", 21), ("rekognition30", 30), ("qiniu4", 4),
                                             ("qiniu72", 72), ("qiniu150", 150)])
def test_counts_unique_names_inside_face(name: str, count: int) -> None:
    kp = keypoint_set(name, MESH)
    assert len(kp) == count and len({n for n, _, _ in kp}) == count
    lo, hi = MESH.min(axis=0) - 1, MESH.max(axis=0) + 1
    for n, x, y in kp:
        assert lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1], n


def test_vendor_names_and_order() -> None:
    assert [n for n, _, _ in keypoint_set("threedivi21", MESH)] == THREEDIVI
    assert [n for n, _, _ in keypoint_set("rekognition30", MESH)] == REKOGNITION
    assert set(SETS) == {"threedivi21", "rekognition30", "qiniu4", "qiniu72", "qiniu150"}


def test_left_is_image_left_and_geometry_is_sane() -> None:
    r = pts("rekognition30")
    assert r["eyeLeft"][0] < r["nose"][0] < r["eyeRight"][0]
    assert r["leftEyeLeft"][0] < r["eyeLeft"][0] < r["leftEyeRight"][0]
    assert r["leftEyeUp"][1] < r["leftEyeDown"][1] and r["mouthUp"][1] < r["mouthDown"][1]
    assert r["leftEyeBrowUp"][1] < r["eyeLeft"][1] < r["nose"][1] < r["mouthUp"][1] < r["chinBottom"][1]
    assert r["upperJawlineLeft"][0] < r["midJawlineLeft"][0] < r["chinBottom"][0] < r["midJawlineRight"][0]
    t = pts("threedivi21")
    assert t["left_eye"][0] < t["right_eye"][0] and t["mouth_left"][0] < t["mouth"][0] < t["mouth_right"][0]
    q = pts("qiniu4")
    assert q["left_eye"][0] < q["right_eye"][0] and q["nose_tip"][1] < q["mouth"][1]


def test_qiniu72_regions() -> None:
    p = np.array([[x, y] for _, x, y in keypoint_set("qiniu72", MESH)])
    contour = p[:13]
    assert np.argmax(contour[:, 1]) == 6                 # chin at the middle of the contour
    assert contour[0, 0] < contour[6, 0] < contour[12, 0]
    left_eye, right_eye = p[13:21].mean(axis=0), p[30:38].mean(axis=0)
    assert left_eye[0] < right_eye[0]
    assert p[22:30, 1].mean() < p[13:21, 1].mean()       # brow above eye
    assert p[58:72, 1].mean() > p[47:58, 1].mean()       # mouth below nose


def test_iris_points_become_the_pupils() -> None:
    iris = np.vstack([np.full((5, 2), (440.0, 214.0)), np.full((5, 2), (548.0, 211.0))])
    r = {n: (x, y) for n, x, y in keypoint_set("rekognition30", MESH, iris)}
    assert r["leftPupil"] == (440.0, 214.0) and r["rightPupil"] == (548.0, 211.0)


def test_resample_spacing_and_unknown_set() -> None:
    line = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(resample(line, 4)[:, 0], [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="unknown keypoint set"):
        keypoint_set("dlib68", MESH)
