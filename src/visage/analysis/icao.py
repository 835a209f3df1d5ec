"""ICAO-style portrait assessment: the fields of seed 003's quality-assessment-estimator.

Every supported field is a landmark or pixel measure with a threshold from :data:`THRESHOLDS`
(data, documented with what was measured in docs/quality.md). Field names are 3DiVi's v2
snake_case names; the v1 camelCase names are a dialect's renaming.

Not computed, listed under ``unsupported`` instead (never a made-up value):
* ``is_neutral_emotion``/``neutral_emotion_score`` need the emotion model, which runs only when a
  request asks for attributes (the 3DiVi dialect fills them from it then);
* ``has_watermark``/``watermark_score``: no sound landmark/pixel method was found (a watermark is
  any overlaid graphic; telling it from background texture needs a trained model).

``total_score`` is the fraction of the evaluated pass/fail checks that pass: plain and
inspectable, not a learned quality score.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visage.analysis import pixel_measures as pm
from visage.analysis.facecrop import FaceCrop
from visage.analysis.occluders import MASK_SCORE, mask_score, occluder_features
from visage.analysis.regions import FaceRegions
from visage.types import Box, Pose

THRESHOLDS: dict[str, float] = {
    "sharpness_min": 0.5,  # sharpness_score = quality sharpness / 100
    "illumination_min": 0.7,  # darker / brighter face half mean luma
    "flare_max_fraction": 0.01,  # share of face pixels with luma >= flare_luma
    "flare_luma": 250.0,
    "eye_open_ear_min": 0.15,  # eye aspect ratio; open fixture eyes measured 0.175-0.415, see docs
    "eye_open_ear_full": 0.3,  # EAR at which the openness score reaches 1
    "yaw_max": 10.0,  # degrees; ISO/IEC 19794-5 asks 5, see docs/quality.md for why wider
    "pitch_max": 15.0,
    "roll_max": 8.0,
    "eyes_distance_min": 90.0,  # pixels between eye centres, ISO/IEC 19794-5 full frontal
    "margin_ratio": 0.25,  # required free space beyond the face box, per side, times box size
    "noise_sigma_max": 3.0,  # grey levels
    "noise_sigma_zero_score": 10.0,  # sigma at which noise_score reaches 0
    "dynamic_range_min_bits": 7.0,  # ISO/IEC 19794-5: 7 bits of intensity variation on the face
    "background_score_min": 0.5,
    "background_gradient_scale": 6.0,  # mean gradient (grey levels/px) at which the score is 1/e
}

UNSUPPORTED = ("is_neutral_emotion", "neutral_emotion_score", "has_watermark", "watermark_score")


def _halves_ratio(crop: FaceCrop, regions: FaceRegions, face: np.ndarray) -> float | None:
    """min/max of the mean luma of the face's two halves, split by the nose-root-to-chin line."""
    a, b = crop.to_crop(regions.nose_root), crop.to_crop(regions.chin)
    ys, xs = np.mgrid[0:face.shape[0], 0:face.shape[1]]
    side = (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0])
    left, right = face & (side > 0), face & (side <= 0)
    if left.sum() < 20 or right.sum() < 20:
        return None
    ml, mr = float(crop.luma[left].mean()), float(crop.luma[right].mean())
    return min(ml, mr) / max(ml, mr) if max(ml, mr) > 0 else 1.0


def _background_mask(crop: FaceCrop, regions: FaceRegions) -> np.ndarray:
    """Crop pixels beside and above the head: outline grown upwards (forehead, hair) and outwards."""
    outline = regions.outline
    lift = np.array([0.0, regions.eye_mouth_distance * 1.2])
    head = np.vstack([outline, outline - lift])
    center = head.mean(axis=0)
    head_mask = crop.polygon_mask(center + (head - center) * 1.2)
    rows = np.arange(crop.luma.shape[0])[:, None]
    above_mouth = rows < crop.to_crop(regions.mouth_center)[1]
    return crop.inside & ~head_mask & np.broadcast_to(above_mouth, crop.luma.shape)


def _rotation(pose: Pose | None) -> tuple[float | None, bool | None]:
    if pose is None:
        return None, None
    angles = {"yaw": pose.yaw, "pitch": pose.pitch, "roll": pose.roll}
    worst = max(angles.values(), key=abs)
    ok = all(abs(v) <= THRESHOLDS[f"{k}_max"] for k, v in angles.items())
    return round(worst, 2), ok


def _margins(box: Box, width: int, height: int) -> tuple[float, float]:
    """(outer, inner) deviation in pixels: how far the box goes past the image, and how far short
    of ``margin_ratio`` x box size the free space beyond the box falls, worst side each."""
    gaps = {"left": box.left, "top": box.top, "right": width - box.right, "bottom": height - box.bottom}
    outer = max(0.0, *(-g for g in gaps.values()))
    need_x, need_y = THRESHOLDS["margin_ratio"] * box.width, THRESHOLDS["margin_ratio"] * box.height
    needs = {"left": need_x, "right": need_x, "top": need_y, "bottom": need_y}
    inner = max(0.0, *(needs[s] - max(g, 0.0) for s, g in gaps.items()))
    return round(outer, 1), round(inner, 1)


def icao_assessment(crop: FaceCrop, regions: FaceRegions, quality: dict[str, Any], pose: Pose | None,
                    box: Box, width: int, height: int) -> dict[str, Any]:
    """The supported 3DiVi quality fields for one face (module docstring for the rest)."""
    t = THRESHOLDS
    face = crop.polygon_mask(regions.outline) & crop.inside
    out: dict[str, Any] = {}

    out["sharpness_score"] = round(float(quality["sharpness"]) / 100.0, 4)
    out["is_sharp"] = out["sharpness_score"] >= t["sharpness_min"]

    ratio = _halves_ratio(crop, regions, face)
    out["illumination_score"] = None if ratio is None else round(ratio, 4)
    out["is_evenly_illuminated"] = None if ratio is None else ratio >= t["illumination_min"]

    flare = float((crop.luma[face] >= t["flare_luma"]).mean()) if face.any() else 0.0
    out["no_flare"] = flare <= t["flare_max_fraction"]

    for side in ("left", "right"):
        ear = float(quality[f"{side}_eye_aspect_ratio"])
        out[f"{side}_eye_openness_score"] = round(min(1.0, ear / t["eye_open_ear_full"]), 4)
        out[f"is_{side}_eye_opened"] = ear >= t["eye_open_ear_min"]

    out["max_rotation_deviation"], out["is_rotation_acceptable"] = _rotation(pose)

    # The mask attribute's measured pixel method (docs/attributes.md, bench/eval_occluders.py).
    masked = mask_score(occluder_features(crop, regions))
    out["not_masked_score"] = round(1.0 - masked, 4)
    out["not_masked"] = masked < MASK_SCORE

    eyes = float(np.linalg.norm(regions.left_eye_center - regions.right_eye_center))
    out["eyes_distance"] = round(eyes, 1)
    out["is_eyes_distance_acceptable"] = eyes >= t["eyes_distance_min"]

    outer, inner = _margins(box, width, height)
    out["margin_outer_deviation"], out["margin_inner_deviation"] = outer, inner
    out["is_margins_acceptable"] = outer == 0.0 and inner == 0.0

    sigma = float(quality["noise"])
    out["noise_score"] = round(max(0.0, 1.0 - sigma / t["noise_sigma_zero_score"]), 4)
    out["is_not_noisy"] = sigma <= t["noise_sigma_max"]

    bits = pm.span_bits(crop.luma, face)
    out["dynamic_range_score"] = round(bits, 3)
    out["is_dynamic_range_acceptable"] = bits >= t["dynamic_range_min_bits"]

    background = _background_mask(crop, regions)
    grad = pm.mean_gradient(crop.luma, background) if background.sum() >= 0.02 * background.size else None
    if grad is None:
        out["background_uniformity_score"] = out["is_background_uniform"] = None
    else:
        score = math.exp(-grad / t["background_gradient_scale"])
        out["background_uniformity_score"] = round(score, 4)
        out["is_background_uniform"] = score >= t["background_score_min"]

    checks = [v for k, v in out.items() if (k.startswith("is_") or k == "no_flare") and v is not None]
    out["total_score"] = round(sum(bool(v) for v in checks) / len(checks), 4) if checks else 0.0
    out["unsupported"] = list(UNSUPPORTED)
    return out

