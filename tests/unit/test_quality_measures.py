"""Pixel and landmark measures on synthetic inputs: known answers without any model."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from visage.analysis import pixel_measures as pm
from visage.analysis.quality import eye_aspect_ratio, geometry, senseid_brightness
from visage.analysis.quality_filter import LEVELS, quality_filter_reasons
from visage.analysis.regions import OCCLUSION_PARTS, regions_from_landmarks
from visage.errors import InvalidParameterError
from visage.types import Box, Face, Landmarks, Pose

RNG = np.random.default_rng(7)


def _texture(size: int = 128) -> np.ndarray:
    """A detailed test image: random blocks, smoothed a little (edges at many scales)."""
    base = RNG.integers(0, 256, (size // 8, size // 8)).astype(np.float32)
    return cv2.resize(base, (size, size), interpolation=cv2.INTER_NEAREST)


def test_crete_blur_grows_with_blur_and_is_contrast_free() -> None:
    img, mask = _texture(), np.ones((128, 128), bool)
    values = [pm.crete_blur(cv2.GaussianBlur(img, (0, 0), s) if s else img, mask) for s in (0, 1, 2, 4)]
    assert values == sorted(values) and 0.0 <= values[0] < values[-1] <= 1.0
    assert pm.crete_blur(img * 0.5, mask) == pytest.approx(values[0], abs=1e-3)
    assert pm.crete_blur(np.full((64, 64), 90.0), np.ones((64, 64), bool)) == 1.0


def test_laplacian_std_drops_with_blur() -> None:
    img, mask = _texture(), np.ones((128, 128), bool)
    assert pm.laplacian_std(cv2.GaussianBlur(img, (0, 0), 2), mask) < pm.laplacian_std(img, mask)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_noise_sigma_recovers_added_noise(sigma: float) -> None:
    ramp = np.tile(np.linspace(60, 180, 200, dtype=np.float32), (200, 1))
    noisy = ramp + RNG.normal(0, sigma, ramp.shape).astype(np.float32)
    estimate = pm.noise_sigma(noisy, np.ones(ramp.shape, bool))
    # Edge exclusion keeps the smoother half of the pixels, which biases the estimate low a little.
    assert 0.7 * sigma < estimate < 1.15 * sigma


def test_span_bits_of_known_ranges() -> None:
    full = np.tile(np.arange(256, dtype=np.float32), (4, 1))
    mask = np.ones(full.shape, bool)
    assert pm.span_bits(full, mask, tail=0.0) == pytest.approx(8.0)
    assert pm.span_bits(full * 0 + 100, mask) == 0.0


def test_senseid_brightness_range() -> None:
    assert senseid_brightness(0) == -1.0 and senseid_brightness(255) == 1.0


def _synthetic_dlib68(scale: float = 1.0, dx: float = 0.0) -> Landmarks:
    """A plausible frontal 68-point face built from a mean shape (roughly 200 px wide)."""
    jaw = [(20 + 160 * i / 16, 100 + 110 * math.sin(math.pi * i / 16)) for i in range(17)]
    brows = [(45 + 12 * i, 70) for i in range(5)] + [(115 + 12 * i, 70) for i in range(5)]
    nose = [(100, 85 + 12 * i) for i in range(4)] + [(85 + 7.5 * i, 135) for i in range(5)]

    def eye(cx: float) -> list[tuple[float, float]]:
        return [(cx - 18, 95), (cx - 6, 88), (cx + 6, 88), (cx + 18, 95), (cx + 6, 101), (cx - 6, 101)]

    outer = [(70, 165), (80, 160), (92, 157), (100, 158), (108, 157), (120, 160), (130, 165),
             (120, 175), (108, 180), (100, 181), (92, 180), (80, 175)]
    inner = [(74, 165), (92, 162), (100, 162), (108, 162), (126, 165), (108, 168), (100, 168), (92, 168)]
    pts = np.array(jaw + brows + nose + eye(65) + eye(135) + outer + inner, np.float32)
    return Landmarks("dlib68", pts * scale + np.array([dx, 0], np.float32))


def test_dlib68_adapter_names_every_part() -> None:
    regions = regions_from_landmarks(_synthetic_dlib68())
    assert set(regions.parts) == set(OCCLUSION_PARTS)
    assert regions.left_eye_center[0] < regions.right_eye_center[0]  # image-left first
    assert len(regions.features) == 51 and len(regions.outline) == 68


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no region adapter"):
        regions_from_landmarks(Landmarks("scheme98", np.zeros((98, 2), np.float32)))


def test_mesh468_regions_follow_the_dlib68_conventions(engine, faces_dir) -> None:
    """The mesh adapter yields the same regions as dlib68: image-left eye left of the right one,
    eyes above the mouth, six points per eye, the chin below the mouth."""
    from visage.analysis.pipeline import AnalyzeOptions

    face = engine.analyze((faces_dir / "obama.jpg").read_bytes(), AnalyzeOptions()).faces[0]
    regions = regions_from_landmarks(face.landmarks)
    assert regions.left_eye.shape == (6, 2) and regions.mouth_inner.shape == (8, 2)
    assert regions.left_eye_center[0] < regions.right_eye_center[0]
    assert regions.left_eye_center[1] < regions.mouth_center[1] < regions.chin[1]
    assert set(regions.parts) == {"left_eye", "right_eye", "nose", "mouth", "left_cheek", "right_cheek", "chin"}


def test_eye_aspect_ratio() -> None:
    eye = np.array([(0, 0), (10, -5), (20, -5), (30, 0), (20, 5), (10, 5)], float)
    assert eye_aspect_ratio(eye) == pytest.approx(10 / 30)
    assert eye_aspect_ratio(eye * [1, 0]) == 0.0


def test_geometry_formulas_of_seed_000() -> None:
    lm = _synthetic_dlib68()
    regions = regions_from_landmarks(lm)
    box = Box(10, 50, 180, 180)
    whole = geometry(regions, box, 200, 260)
    assert whole["integrity"] == 1.0 and whole["completeness"] == 1
    hull = cv2.convexHull(regions.features.astype(np.float32))
    assert whole["size"] == pytest.approx(cv2.contourArea(hull) / (200 * 260), rel=1e-3)
    assert 0.0 < whole["distance2center"] <= 1.0
    # The same face with its left 40% outside the image.
    cut = geometry(regions_from_landmarks(_synthetic_dlib68(dx=-80)), Box(-70, 50, 180, 180), 200, 260)
    assert cut["integrity"] < 0.7 and cut["completeness"] == 0
    far = geometry(regions, box, 2000, 2000)
    center = cv2.moments(hull)
    cx, cy = center["m10"] / center["m00"], center["m01"] / center["m00"]
    expected = 1 - math.hypot(cx - 1000, cy - 1000) / 2000
    assert far["distance2center"] == pytest.approx(expected, abs=1e-4)
    assert far["size"] < whole["size"]
    # Farther from the centre than the short side: clamped at 0.
    assert geometry(regions, box, 2000, 300)["distance2center"] == 0.0


def _face(box: Box, yaw: float = 0.0, pitch: float = 0.0, **quality: float) -> Face:
    q = {"brightness": 50.0, "sharpness": 80.0, "integrity": 1.0, "occlusion": {"total": 1.0}}
    q.update(quality)
    return Face(box=box, confidence=0.99, pose=Pose(yaw, pitch, 0.0), quality=q)


def test_quality_filter_levels() -> None:
    good = _face(Box(100, 100, 200, 200))
    assert all(quality_filter_reasons(good, (640, 480), lvl) == [] for lvl in ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH"))
    tiny = _face(Box(10, 10, 40, 40))
    assert quality_filter_reasons(tiny, (640, 480), "MEDIUM") == ["SMALL_BOUNDING_BOX"]
    assert quality_filter_reasons(tiny, (640, 480), "LOW") == []
    turned = _face(Box(100, 100, 200, 200), yaw=40)
    assert quality_filter_reasons(turned, (640, 480), "HIGH") == ["EXTREME_POSE"]
    assert quality_filter_reasons(turned, (640, 480), "MEDIUM") == []
    dark = _face(Box(100, 100, 200, 200), brightness=5.0, sharpness=5.0, integrity=0.5)
    assert quality_filter_reasons(dark, (640, 480), "LOW") == ["LOW_BRIGHTNESS", "LOW_SHARPNESS", "LOW_FACE_QUALITY"]
    assert quality_filter_reasons(dark, (640, 480), "none") == []


def test_quality_filter_thresholds_tighten_with_level() -> None:
    low, med, high = LEVELS["LOW"], LEVELS["MEDIUM"], LEVELS["HIGH"]
    assert low.max_abs_yaw >= med.max_abs_yaw >= high.max_abs_yaw
    assert low.min_sharpness <= med.min_sharpness <= high.min_sharpness
    assert low.min_box_side <= med.min_box_side <= high.min_box_side


def test_quality_filter_rejects_bad_input() -> None:
    with pytest.raises(InvalidParameterError):
        quality_filter_reasons(_face(Box(0, 0, 100, 100)), (200, 200), "STRICT")
    # Without quality (or pose) only the reasons the face can support are checked.
    bare = Face(box=Box(0, 0, 100, 100), confidence=0.9)
    assert quality_filter_reasons(bare, (200, 200), "LOW") == []
    assert quality_filter_reasons(bare, (200, 200), "HIGH") == ["LOW_CONFIDENCE"]
