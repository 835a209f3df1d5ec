"""The detector components on real photos: RetinaFace's five points, faces cut by the image border,
rotated heads, the ``detector`` setting, the minimum face size and the per-request face limit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from visage.analysis.detectors.blazeface import BlazeFacePair
from visage.analysis.detectors.retinaface import RetinaFace
from visage.analysis.fast_pipeline import FastConfig, FastPipeline, detector_points
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings
from visage.imaging.decode import load_image

pytestmark = pytest.mark.slow

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "faces"
OPTIONS = AnalyzeOptions(landmarks=True, pose=False, templates=False)


@pytest.fixture(scope="module")
def pipe() -> FastPipeline:
    if not FACES.is_dir():
        pytest.skip(f"fixtures not found at {FACES}")
    return FastPipeline.from_settings(Settings(detector="retinaface"))


def rgb(name: str) -> np.ndarray:
    return load_image((FACES / name).read_bytes()).rgb


def test_default_detector_is_retinaface_and_blazeface_is_an_option(pipe: FastPipeline, monkeypatch) -> None:
    assert isinstance(pipe.detector, RetinaFace)
    assert "retinaface-mnet025" in pipe.models()
    monkeypatch.setenv("VISAGE_DETECTOR", "blazeface")
    settings = Settings()
    assert settings.detector == "blazeface"
    other = FastPipeline.from_settings(settings, FastConfig(detector=settings.detector))
    assert isinstance(other.detector, BlazeFacePair)
    assert len(other.analyze(rgb("two_people.jpg"), OPTIONS).faces) == 2


def test_five_points_are_in_image_order_and_kept_beside_the_mesh(pipe: FastPipeline) -> None:
    image = rgb("two_people.jpg")
    kept = pipe.landmarks(image, pipe.detect(image))
    assert len(kept) == 2
    for det, mesh in kept:
        p = detector_points(det, mesh)
        assert p.shape == (5, 2) and det.points5 is not None
        assert p[0, 0] < p[1, 0] and p[3, 0] < p[4, 0]            # image-left before image-right
        assert max(p[0, 1], p[1, 1]) < p[2, 1] < min(p[3, 1], p[4, 1])   # eyes, nose, mouth downwards
        x0, y0, x1, y1 = det.box
        assert ((p >= [x0, y0]) & (p <= [x1, y1])).all()
        # The detector's eyes agree with the mesh's eye centres (both are eye centres, pixels).
        mesh_eyes = np.array([mesh.points[[33, 133], :2].mean(0), mesh.points[[362, 263], :2].mean(0)])
        assert np.abs(mesh_eyes - p[:2]).max() < 0.15 * (x1 - x0)


def test_face_cut_by_the_border_is_kept(pipe: FastPipeline) -> None:
    image = rgb("obama.jpg")
    full = pipe.analyze(image, OPTIONS).faces[0].box
    cut = int(full.left + 0.4 * full.width)       # 40% of the face is outside the image
    res = pipe.analyze(np.ascontiguousarray(image[:, cut:]), OPTIONS)
    assert len(res.faces) == 1
    assert res.faces[0].box.left == 0.0


@pytest.mark.parametrize("angle", [-45, 30, 60])
def test_rotated_head_is_kept(pipe: FastPipeline, angle: int) -> None:
    image = rgb("obama.jpg")
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    assert len(pipe.analyze(rotated, OPTIONS).faces) == 1


def test_minimum_face_size_and_request_limit(pipe: FastPipeline) -> None:
    image = rgb("scenes/obama_and_biden.jpg")
    faces = pipe.analyze(image, OPTIONS).faces
    assert len(faces) == 3
    sizes = sorted(max(f.box.width, f.box.height) for f in faces)
    big = FastPipeline(detector=pipe.detector, mesh=pipe.mesh, embedder=pipe.embedder,
                       config=FastConfig(min_face_size=int(sizes[0]) + 1))
    assert len(big.analyze(image, OPTIONS).faces) == 2
    one = pipe.analyze(image, AnalyzeOptions(landmarks=False, pose=False, max_faces=1)).faces
    assert len(one) == 1 and one[0].box.area == max(f.box.area for f in faces)


def test_very_large_image_runs_tiles_and_merges_duplicates(pipe: FastPipeline) -> None:
    image = rgb("two_people.jpg")
    big = cv2.resize(image, None, fx=2.8, fy=2.8, interpolation=cv2.INTER_LINEAR)   # long side > 2,560 px
    assert max(big.shape[:2]) > pipe.detector.policy.tile_above
    # the full pass itself (coarse pass off: with it, two large faces at 640 px would end detection there)
    full = RetinaFace(pipe.detector.session, replace(pipe.detector.policy, coarse_side=0))
    dets = full.detect(big)
    assert len(dets) == 2                          # the whole-image pass and the tiles agree, NMS keeps one each
    assert len(pipe.detect(big)) == 2              # and the default policy (coarse pass) finds the same two
    small = sorted(d.box[0] for d in pipe.detect(image))
    np.testing.assert_allclose(sorted(d.box[0] / 2.8 for d in dets), small, atol=0.05 * image.shape[1])
