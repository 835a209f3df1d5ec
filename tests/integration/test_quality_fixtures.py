"""Face quality on the real fixtures: what is known of them, and transforms with a known effect."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from visage.analysis.icao import UNSUPPORTED
from visage.analysis.pipeline import AnalyzeOptions
from visage.analysis.quality import FaceInput, assess_faces
from visage.analysis.quality_filter import quality_filter_reasons
from visage.analysis.regions import OCCLUSION_PARTS

QUALITY = AnalyzeOptions(quality=True)
ICAO = AnalyzeOptions(quality=True, icao=True)

RANGES = {
    "integrity": (0, 1), "completeness": (0, 1), "size": (0, 1), "distance2center": (0, 1),
    "mouth_open": (0, 1), "mouth_open_ratio": (0, 3), "left_eye_aspect_ratio": (0, 1),
    "right_eye_aspect_ratio": (0, 1), "illumination": (0, 255), "brightness": (0, 100),
    "sharpness": (0, 100), "blur": (0, 1), "noise": (0, 100),
}


@pytest.fixture(scope="module")
def obama(engine, faces_dir):
    image = engine.decode((faces_dir / "obama.jpg").read_bytes()).rgb
    return image, engine.analyze(image, QUALITY).faces[0]


def _quality_of(image: np.ndarray, face) -> dict:
    """Quality of ``image`` measured with ``face``'s landmarks (isolates the pixel measure)."""
    return assess_faces(image, [FaceInput(face.box, face.landmarks, face.pose)])[0]


def _finite(value) -> bool:
    return value is None or isinstance(value, bool | str | list) or math.isfinite(float(value))


@pytest.mark.parametrize("name", ["obama.jpg", "obama-240p.jpg", "biden.jpg", "32bit.png", "two_people.jpg",
                                  "obama_partial_face.jpg", "scenes/obama_and_biden.jpg"])
def test_every_field_in_range_and_finite(engine, faces_dir, name: str) -> None:
    result = engine.analyze((faces_dir / name).read_bytes(), ICAO)
    assert result.faces
    for face in result.faces:
        q = face.quality
        for key, (lo, hi) in RANGES.items():
            assert lo <= q[key] <= hi, (key, q[key])
        occ = q["occlusion"]
        assert set(occ) == {*OCCLUSION_PARTS, "total"}
        assert all(0.0 <= v <= 1.0 for v in occ.values())
        icao = q["icao"]
        assert all(_finite(v) for v in icao.values())
        assert 0.0 <= icao["total_score"] <= 1.0 and icao["unsupported"] == list(UNSUPPORTED)
        assert not set(UNSUPPORTED) & set(icao)
    for key in ("quality", "quality.crop", "quality.occlusion", "quality.icao"):
        assert key in result.timings_ms


def test_quality_only_when_asked(engine, faces_dir) -> None:
    result = engine.analyze((faces_dir / "obama_small.jpg").read_bytes())
    assert result.faces[0].quality is None and "quality" not in result.timings_ms
    plain = engine.analyze((faces_dir / "obama_small.jpg").read_bytes(), QUALITY)
    assert "icao" not in plain.faces[0].quality


def test_whole_face_is_complete(obama) -> None:
    q = obama[1].quality
    assert q["integrity"] == 1.0 and q["completeness"] == 1


@pytest.mark.parametrize("name", ["obama_partial_face.jpg", "obama_partial_face2.jpg"])
def test_partial_faces_score_low_integrity(engine, faces_dir, name: str) -> None:
    face = engine.analyze((faces_dir / name).read_bytes(), ICAO).faces[0]
    assert face.quality["integrity"] < 0.85 and face.quality["completeness"] == 0
    assert face.quality["icao"]["is_margins_acceptable"] is False
    assert face.quality["icao"]["margin_outer_deviation"] > 0
    assert "LOW_FACE_QUALITY" in quality_filter_reasons(face, face_size(engine, faces_dir, name), "MEDIUM")


def face_size(engine, faces_dir, name: str) -> tuple[int, int]:
    decoded = engine.decode((faces_dir / name).read_bytes())
    return decoded.rgb.shape[1], decoded.rgb.shape[0]


def test_blurred_copy_is_less_sharp(obama) -> None:
    image, face = obama
    q = face.quality
    blurred = _quality_of(cv2.GaussianBlur(image, (0, 0), 3), face)
    assert blurred["sharpness"] < q["sharpness"] - 20 and blurred["blur"] > q["blur"]


def test_blur_is_monotone_through_the_pipeline(engine, obama) -> None:
    """Re-detected, not just re-measured: the whole path orders three blur levels."""
    image = obama[0]
    values = [engine.analyze(cv2.GaussianBlur(image, (0, 0), s) if s else image, QUALITY).faces[0].quality["sharpness"]
              for s in (0, 2, 4)]
    assert values[0] > values[1] > values[2]


def test_darkened_copy_is_less_bright(obama) -> None:
    image, face = obama
    dark = _quality_of((image.astype(np.float32) * 0.5).astype(np.uint8), face)
    assert dark["brightness"] < face.quality["brightness"] * 0.6
    assert dark["illumination"] == pytest.approx(face.quality["illumination"] * 0.5, rel=0.05)


def test_added_noise_raises_the_noise_estimate(obama) -> None:
    image, face = obama
    rng = np.random.default_rng(0)
    noisy = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    assert _quality_of(noisy, face)["noise"] > face.quality["noise"] + 5


@pytest.mark.parametrize("part", ["left_eye", "right_eye", "mouth", "nose"])
@pytest.mark.parametrize("fill", [0, 128])
def test_patch_over_a_part_lowers_its_score(obama, part: str, fill: int) -> None:
    image, face = obama
    from visage.analysis.regions import regions_from_landmarks

    poly = regions_from_landmarks(face.landmarks).parts[part]
    (x0, y0), (x1, y1) = np.floor(poly.min(0)).astype(int), np.ceil(poly.max(0)).astype(int)
    patched = image.copy()
    patched[y0:y1 + 1, x0:x1 + 1] = fill
    occ = _quality_of(patched, face)["occlusion"]
    clean = face.quality["occlusion"]
    assert clean[part] > 0.7 and occ[part] < 0.5
    assert occ["total"] < clean["total"]
    other = {"left_eye": "right_eye", "right_eye": "left_eye", "mouth": "chin", "nose": "left_cheek"}[part]
    assert occ[other] > 0.6


def test_turned_face_is_extreme_only_when_strict(engine, faces_dir) -> None:
    """john2.jpeg: yaw about -42 degrees."""
    result = engine.analyze((faces_dir / "people/kit_harington/john2.jpeg").read_bytes(), QUALITY)
    face, size = result.faces[0], (result.width, result.height)
    assert "EXTREME_POSE" in quality_filter_reasons(face, size, "HIGH")
    assert "EXTREME_POSE" not in quality_filter_reasons(face, size, "MEDIUM")
    assert quality_filter_reasons(face, size, "LOW") == []


def test_tiny_face_has_small_bounding_box(engine, obama) -> None:
    image = obama[0]
    small = cv2.resize(image, None, fx=0.18, fy=0.18, interpolation=cv2.INTER_AREA)
    result = engine.analyze(small, QUALITY)
    assert result.faces, "the downscaled face should still be detected"
    face = result.faces[0]
    assert face.box.width < 48
    assert "SMALL_BOUNDING_BOX" in quality_filter_reasons(face, (result.width, result.height), "MEDIUM")


def test_good_portraits_pass_medium(engine, faces_dir) -> None:
    for name in ("obama.jpg", "obama-720p.jpg", "lin-manuel-miranda.png", "people/rose_leslie/img2.jpg"):
        result = engine.analyze((faces_dir / name).read_bytes(), QUALITY)
        assert quality_filter_reasons(result.faces[0], (result.width, result.height), "MEDIUM") == [], name


def test_icao_eyes_distance_and_rotation(obama) -> None:
    image, face = obama
    icao = assess_faces(image, [FaceInput(face.box, face.landmarks, face.pose)], icao=True)[0]["icao"]
    assert icao["eyes_distance"] > 90 and icao["is_eyes_distance_acceptable"] is True
    angles = (face.pose.yaw, face.pose.pitch, face.pose.roll)
    assert abs(icao["max_rotation_deviation"]) == pytest.approx(max(abs(a) for a in angles), abs=0.01)


def _all_finite(value) -> bool:
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    return _finite(value)


def test_faces_larger_than_the_image_and_outside_it(obama) -> None:
    """A tight crop (face past every border) and landmarks wholly outside: finite, low, no error."""
    from visage.types import Box, Landmarks

    image, face = obama
    crop = np.ascontiguousarray(image[250:380, 420:580])
    shifted = FaceInput(Box(face.box.left - 420, face.box.top - 250, face.box.width, face.box.height),
                        Landmarks("dlib68", face.landmarks.points - np.array([420, 250], np.float32)), face.pose)
    q = assess_faces(crop, [shifted], icao=True)[0]
    assert _all_finite(q) and q["integrity"] < 0.5 and q["completeness"] == 0
    assert q["icao"]["margin_outer_deviation"] > 0
    away = FaceInput(Box(-500, -500, 100, 100), Landmarks("dlib68", face.landmarks.points - 2000), face.pose)
    q = assess_faces(image, [away], icao=True)[0]
    assert _all_finite(q) and q["integrity"] == 0.0 and q["occlusion"]["total"] == 0.0


def test_grey_scale_photo_has_no_false_occlusion(obama) -> None:
    image, face = obama
    mono = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    occ = _quality_of(mono, face)["occlusion"]
    assert min(occ.values()) > 0.7


# Seed 003, quality-assessment-estimator v2 response fields.
THREEDIVI_V2 = {
    "total_score", "is_sharp", "sharpness_score", "is_evenly_illuminated", "illumination_score", "no_flare",
    "is_left_eye_opened", "left_eye_openness_score", "is_right_eye_opened", "right_eye_openness_score",
    "is_background_uniform", "background_uniformity_score", "is_dynamic_range_acceptable", "dynamic_range_score",
    "is_eyes_distance_acceptable", "eyes_distance", "is_not_noisy", "noise_score", "is_margins_acceptable",
    "margin_inner_deviation", "margin_outer_deviation", "is_neutral_emotion", "neutral_emotion_score",
    "not_masked", "not_masked_score", "has_watermark", "watermark_score", "is_rotation_acceptable",
    "max_rotation_deviation",
}


def test_icao_fields_are_seed_003s_minus_the_unsupported(obama) -> None:
    image, face = obama
    icao = assess_faces(image, [FaceInput(face.box, face.landmarks, face.pose)], icao=True)[0]["icao"]
    assert set(icao) - {"unsupported"} == THREEDIVI_V2 - set(UNSUPPORTED)
    assert set(UNSUPPORTED) <= THREEDIVI_V2
