"""Alignment points of a large face in a small photo whose full detection pass runs enlarged, on real LFW photos.

``Naji_Sabri_0006`` (250 x 250) has a small candidate beside the subject, so RetinaFace's full pass runs on
the photo enlarged to 1024 px. The subject's five points from that pass sit about half an eye distance off
the ones read at the photo's own size, and the genuine pair with ``Naji_Sabri_0001`` then fell under the
default threshold (cosine 0.37 against 0.80). The subject keeps the coarse pass's points (retinaface.points_from).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from visage.analysis.detectors.retinaface import RetinaFace
from visage.analysis.fast_pipeline import FastPipeline
from visage.calibration import get_calibration
from visage.config import Settings
from visage.imaging.decode import load_image

pytestmark = pytest.mark.slow

LFW = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "lfw"


@pytest.fixture(scope="module")
def pipe() -> FastPipeline:
    if not (LFW / "Naji_Sabri").is_dir():
        pytest.skip(f"LFW fixtures not found at {LFW}")
    return FastPipeline.from_settings(Settings(pipeline="fast"))


def rgb(name: str) -> np.ndarray:
    return load_image((LFW / name.rsplit("_", 1)[0] / f"{name}.jpg").read_bytes()).rgb


def subject(pipe: FastPipeline, image: np.ndarray):
    """The pipeline's kept face nearest the image centre (LFW's photos are cut around their subject)."""
    faces = pipe.landmarks(image, pipe.detect(image))
    h, w = image.shape[:2]
    return min(faces, key=lambda dm: float(np.linalg.norm((dm[0].box[:2] + dm[0].box[2:]) / 2 - (w / 2, h / 2))))


def test_large_face_aligns_on_the_points_of_the_photo_own_size(pipe: FastPipeline) -> None:
    image = rgb("Naji_Sabri_0006")
    det = pipe.detector
    policy = det.policy
    coarse = det.run(image, policy.coarse_min_score)  # the coarse pass sees the 250-px photo at its own size
    assert any(d.size < policy.coarse_small_px for d in coarse) and det.fine_scale(max(image.shape[:2])) >= 4
    native = RetinaFace(det.session, replace(policy, coarse_side=0, min_side=0)).detect(image)
    enlarged = RetinaFace(det.session, replace(policy, coarse_side=0)).detect(image)
    chosen = subject(pipe, image)
    points = pipe.face_points([chosen])[0].points5

    def same_face(dets):
        return min(dets, key=lambda d: float(np.abs(d.box - chosen[0].box).sum()))

    own, big = same_face(native).points5, same_face(enlarged).points5
    eyes = float(np.linalg.norm(own[1] - own[0]))
    assert np.abs(big - own).max() > 0.2 * eyes        # the enlarged pass reads this face's points elsewhere
    np.testing.assert_allclose(points, own, atol=1e-3 * eyes)   # the pipeline aligns on the photo's own


def test_genuine_pair_verifies_at_the_default_threshold(pipe: FastPipeline) -> None:
    vectors = []
    for name in ("Naji_Sabri_0001", "Naji_Sabri_0006"):
        image = rgb(name)
        vectors.append(pipe.embedder.embed(image, pipe.face_points([subject(pipe, image)]))[0].vector)
    cosine = float(np.dot(vectors[0], vectors[1]) / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[1]))
    assert cosine >= get_calibration(pipe.embedder.template_model).cosine_threshold + 0.2
