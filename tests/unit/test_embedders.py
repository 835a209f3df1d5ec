"""Alignment and preprocessing of every embedder: the crops land on the ArcFace template, each model
gets its own pixel layout and range, and the batch is dynamic (one run embeds every face)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visage.analysis.embedders import EMBEDDERS, TEMPLATE_MODELS, build_embedder, embedder_for_template
from visage.analysis.embedders.align import (
    ARCFACE_112,
    MESH_LEFT_EYE_RING,
    MESH_MOUTH_LEFT,
    MESH_MOUTH_RIGHT,
    MESH_NOSE_TIP,
    MESH_RIGHT_EYE_RING,
    FacePoints,
    align_crops,
    mesh_five_points,
    similarity_transform,
    template_points,
)
from visage.config import Settings
from visage.errors import ModelUnavailableError


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def test_points_drawn_in_a_photo_land_on_the_template() -> None:
    """Dots at the five points of a rotated, scaled face come out at ARCFACE_112 in the crop."""
    m = _similarity(23.0, 2.1, 140.0, 60.0)
    pts = _apply(m, ARCFACE_112)
    image = np.zeros((400, 400, 3), np.uint8)
    for x, y in pts:
        cv2.circle(image, (round(x), round(y)), 4, (255, 255, 255), -1, lineType=cv2.LINE_AA)
    crop = align_crops(image, [FacePoints(points5=pts)])[0].astype(np.float64).mean(axis=2)
    for x, y in ARCFACE_112:
        ys, xs = np.mgrid[int(y) - 4:int(y) + 6, int(x) - 4:int(x) + 6]
        w = crop[ys, xs]
        cx, cy = (w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()
        assert abs(cx - x) < 0.6 and abs(cy - y) < 0.6


def test_similarity_has_no_shear_or_reflection() -> None:
    rng = np.random.default_rng(3)
    src = ARCFACE_112 + rng.normal(0, 3, ARCFACE_112.shape)  # points no similarity maps exactly
    a = similarity_transform(src, ARCFACE_112)[:, :2]
    assert np.linalg.det(a) > 0
    np.testing.assert_allclose(a @ a.T, np.eye(2) * (a @ a.T)[0, 0], atol=1e-9)


def test_template_zoom_and_size() -> None:
    np.testing.assert_allclose(template_points(224), ARCFACE_112 * 2)
    zoomed = template_points(112, 2.0)
    np.testing.assert_allclose(zoomed - 56.0, (ARCFACE_112 - 56.0) / 2)


def test_mesh_five_points_are_eye_centres_nose_and_mouth_corners() -> None:
    mesh = np.zeros((468, 3))
    mesh[list(MESH_LEFT_EYE_RING), :2] = (30.0, 50.0)
    mesh[list(MESH_RIGHT_EYE_RING), :2] = (80.0, 52.0)
    mesh[MESH_NOSE_TIP, :2] = (55, 70)
    mesh[MESH_MOUTH_LEFT, :2] = (40, 90)
    mesh[MESH_MOUTH_RIGHT, :2] = (72, 91)
    np.testing.assert_allclose(mesh_five_points(mesh), [[30, 50], [80, 52], [55, 70], [40, 90], [72, 91]])


def test_every_embedder_is_known_by_its_template_model() -> None:
    assert set(TEMPLATE_MODELS) == set(EMBEDDERS)
    for name, model in TEMPLATE_MODELS.items():
        assert embedder_for_template(model) == name
    with pytest.raises(ModelUnavailableError):
        embedder_for_template("nobody's-model-7")


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "layout", "mean"), [("fr-feature", "NCHW", 127.0),
                                                      ("mobilefacenet-tflite", "NHWC", 127.5)])
def test_arcface_preprocessing_and_dynamic_batch(name: str, layout: str, mean: float, crops) -> None:
    emb = build_embedder(name, Settings().models_dir, 1)
    assert emb.template_model == TEMPLATE_MODELS[name]
    x = emb.prepare(crops)
    expected = (crops.astype(np.float32) - mean) / 128.0
    if layout == "NCHW":
        expected = expected.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    together = emb.vectors(crops)
    alone = np.concatenate([emb.vectors(crops[i:i + 1]) for i in range(len(crops))])
    assert together.shape == (3, emb.dim)
    np.testing.assert_allclose(together, alone, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_flip_averaging_is_the_sum_of_the_unit_vectors(crops) -> None:
    md = Settings().models_dir
    plain, flip = build_embedder("fr-feature", md, 1), build_embedder("fr-feature-flip", md, 1)
    a, b = plain.vectors(crops), plain.vectors(crops[:, :, ::-1].copy())
    expected = a / np.linalg.norm(a, axis=1, keepdims=True) + b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(flip.vectors(crops), expected, rtol=1e-3, atol=1e-4)
    assert flip.prepare(crops).shape[0] == 6


@pytest.mark.slow
def test_fused_cosine_is_the_mean_of_the_parts() -> None:
    md = Settings().models_dir
    fused = build_embedder("fused", md, 1)
    image = np.random.default_rng(5).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    faces = [FacePoints(points5=ARCFACE_112 * 1.5 + 40), FacePoints(points5=ARCFACE_112 * 1.2 + 90)]
    ta, tb = fused.embed(image, faces)
    parts = [p.embed(image, faces) for p in fused.parts]
    assert ta.dim == 512 + 192
    np.testing.assert_allclose(ta.cosine(tb), np.mean([p[0].cosine(p[1]) for p in parts]), atol=1e-5)


@pytest.mark.slow
def test_mesh_embedders_need_the_mesh() -> None:
    emb = build_embedder("faceres-deep", Settings().models_dir, 1)
    image = np.zeros((200, 200, 3), np.uint8)
    with pytest.raises(ValueError, match="Face Mesh"):
        emb.embed(image, [FacePoints(points5=ARCFACE_112 + 40)])
