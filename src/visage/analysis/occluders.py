"""Sunglasses and face masks from landmarks and pixels: no registry we can reach ships either model.

Both read the canonical face crop (:mod:`visage.analysis.facecrop`, so every measure is at one scale)
and the named regions (:mod:`visage.analysis.regions`, so they run on ``dlib68`` and ``mesh468`` alike;
the part polygons are the occlusion measure's, :mod:`visage.analysis.occlusion`). Measured only on
SYNTHETIC occluders drawn on the fixture faces (``bench/eval_occluders.py``; docs/attributes.md).

All luma ratios are relative to a reference on the same face, so a darker or grey-scale photo keeps them.

Sunglasses (``glasses``). A real eye part (lids, lashes, iris, sclera) is textured; a tinted lens is
flat and dark. Per eye part: ``spread`` = (90th - 10th percentile of luma in the eye part) / the median
luma of the face outline, ``luma`` = the eye part's median luma / the same reference;
``flat`` = clip((SUN_FLAT_AT - spread) / SUN_FLAT_RANGE, 0, 1), ``dark`` = clip((SUN_DARK_AT - luma) /
SUN_DARK_RANGE, 0, 1); eye score = flat x dark. ``score`` = the smaller of the two eyes' scores, so one
covered eye is not sunglasses. ``value`` = ``"sun"`` when ``score >= SUN_SCORE``, else ``"none"``.
Clear ("common") glasses are NOT detected: nothing here tells a clear lens from no lens, so
``"common"`` is never returned (docs: ``common_supported: false``).

Mask (``mask``, v3). Three regions against the skin around the eyes and between them (``upper``: each
eye contour grown 2.6x minus the eye part, plus the top of the nose part): the lower 40 % of the nose
part's rows (``nose_low``: the nose tip and wings, which a worn mask covers and which carry no lips), and
the mouth and chin parts together (``lower``). Skin is red in YCrCb's Cr (lips redder still) and
saturated; the masks people wear (white, blue, grey, black, patterned) are neither:

* ``nose_cr_drop`` = median Cr of ``upper`` - median Cr of ``nose_low``;
* ``lower_cr_drop`` = median Cr of ``upper`` - median Cr of ``lower`` (v2's only cue: it needs a large drop
  now, since lips, beards and shade move the mouth and chin more than the nose);
* ``lower_sat_ratio`` = median HSV saturation of ``lower`` / that of ``upper`` (white and grey masks on
  pale skin, where the Cr drop is small); where the eyes read as sunglasses the reference is the top of
  the nose part alone (a tinted lens is saturated but no skin); void (never masked) when the reference
  itself is unsaturated (median saturation < MASK_MIN_SKIN_SAT: grey-scale photos).

Each cue is mapped onto [0, 1] with 0.5 at its threshold (``MASK_NOSE_CR_DROP`` +- ``MASK_CR_RANGE``,
``MASK_LOWER_CR_DROP`` +- ``MASK_CR_RANGE``, ``MASK_SAT_RATIO`` -+ ``MASK_SAT_RANGE``); ``score`` = the
largest, masked at score >= 0.5 (any cue past its threshold). The three thresholds were chosen together
on the tune half of eval/mask (real street photos with VOC boxes; bench/eval_attributes.py): the best
accuracy among those leaving at most 3.3 % of the bare CelebA faces of eval/glasses + eval/beard (tune
half) masked. A skin-coloured cover (a hand) keeps the skin's colour and reads bare; a red, pink or
skin-toned mask reads bare (a known miss). v1's homogeneity and brightness terms were dropped: on real
masks (folds, prints, shading) they rejected 9 of 10 masked faces.

Both attributes report ``score`` (the monotone score above, in [0, 1]) and ``probability`` = the score
for a positive value and 1 - score for a negative one (the confidence of the value given, as for
``gender``). Neither is a calibrated probability: nothing here could calibrate it.
"""

from __future__ import annotations

import cv2
import numpy as np

from visage.analysis.facecrop import FaceCrop, face_crop
from visage.analysis.occlusion import part_masks
from visage.analysis.regions import FaceRegions, regions_from_landmarks
from visage.types import Landmarks

SUN_FLAT_AT, SUN_FLAT_RANGE = 0.45, 0.35  # eye luma spread: 0.45 -> flat 0, 0.10 -> flat 1
SUN_DARK_AT, SUN_DARK_RANGE = 1.1, 0.3  # eye luma / face luma: 1.1 -> dark 0, 0.8 -> dark 1
SUN_SCORE = 0.5
MASK_NOSE_CR_DROP = 3.5  # Cr units (0..255 scale) the nose tip is less red than the upper-face skin
MASK_LOWER_CR_DROP = 16.5  # the same for mouth + chin (lips, beards and shade move them more)
MASK_CR_RANGE = 6.0  # each Cr cue: threshold -/+ 6 -> score 0 / 1
MASK_SAT_RATIO = 0.48  # mouth + chin saturation / upper-face skin saturation at or below: masked
MASK_SAT_RANGE = 0.2
MASK_MIN_SKIN_SAT = 20.0  # HSV saturation (0..255) under which the skin is taken as grey: no sat cue
MASK_SCORE = 0.5

OCCLUDER_METHOD = "visage_occluders_v3"  # the name responses list for these two (methods, not models)


def _clip01(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))


def _top_rows(mask: np.ndarray, fraction: float) -> np.ndarray:
    """The upper ``fraction`` of a mask's rows (crop space, eyes level)."""
    rows = np.nonzero(mask.any(axis=1))[0]
    if rows.size == 0:
        return mask
    out = mask.copy()
    out[int(rows[0] + fraction * (rows[-1] - rows[0] + 1)):] = False
    return out


def _spread(values: np.ndarray) -> float:
    lo, hi = np.percentile(values, [10, 90])
    return float(hi - lo)


def occluder_features(crop: FaceCrop, regions: FaceRegions) -> dict[str, float]:
    """Raw measures both decisions read (module docstring; the bench prints them)."""
    masks = part_masks(crop, regions)
    luma = crop.luma
    inside = crop.inside
    face = crop.polygon_mask(regions.outline) & inside
    face_luma = max(float(np.median(luma[face])) if face.sum() >= 10 else float(np.median(luma)), 1.0)
    out: dict[str, float] = {"face_luma": face_luma}
    root = _top_rows(masks["nose"], 0.45) & inside
    upper = root.copy()
    for eye in ("left_eye", "right_eye"):
        m = masks[eye] & inside
        if m.sum() >= 10:
            out[f"{eye}_spread"] = _spread(luma[m]) / face_luma
            out[f"{eye}_luma"] = float(np.median(luma[m])) / face_luma
        else:  # outside the image: no evidence either way
            out[f"{eye}_spread"], out[f"{eye}_luma"] = 1.0, 1.0
        contour = getattr(regions, eye)
        upper |= crop.polygon_mask(contour.mean(0) + (contour - contour.mean(0)) * 2.6) & ~masks[eye]
    upper &= inside
    # A tinted lens is saturated but no skin: behind sunglasses the saturation reference is the nose root.
    sat_ref = root if sunglasses_score(out) >= SUN_SCORE and root.sum() >= 10 else upper
    lower = (masks["mouth"] | masks["chin"]) & inside
    nose_low = masks["nose"] & ~_top_rows(masks["nose"], 0.6) & inside
    if lower.sum() >= 10 and upper.sum() >= 10:
        ycc = cv2.cvtColor(crop.rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
        sat = cv2.cvtColor(crop.rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)
        up, lo = np.median(ycc[upper], axis=0), np.median(ycc[lower], axis=0)
        out["lower_spread"] = _spread(luma[lower]) / max(float(up[0]), 1.0)
        out["lower_chroma_diff"] = float(np.linalg.norm(lo[1:] - up[1:]))
        out["lower_cr_drop"] = float(up[1] - lo[1])  # > 0: the lower face is less red than the skin
        out["lower_cb_rise"] = float(lo[2] - up[2])  # > 0: bluer
        out["lower_luma_ratio"] = float(max(lo[0], 1.0) / max(up[0], 1.0))
        out["upper_sat"] = float(np.median(sat[sat_ref]))
        out["lower_sat_ratio"] = float(np.median(sat[lower])) / max(out["upper_sat"], 1.0)
        out["nose_cr_drop"] = float(up[1] - np.median(ycc[nose_low][:, 1])) if nose_low.sum() >= 5 else 0.0
    else:
        out["lower_spread"], out["lower_chroma_diff"], out["lower_luma_ratio"] = 1.0, 0.0, 1.0
        out["lower_cr_drop"], out["lower_cb_rise"], out["nose_cr_drop"] = 0.0, 0.0, 0.0
        out["upper_sat"], out["lower_sat_ratio"] = 0.0, 1.0
    return out


def sunglasses_score(f: dict[str, float]) -> float:
    def eye(e: str) -> float:
        flat = _clip01((SUN_FLAT_AT - f[f"{e}_spread"]) / SUN_FLAT_RANGE)
        dark = _clip01((SUN_DARK_AT - f[f"{e}_luma"]) / SUN_DARK_RANGE)
        return flat * dark
    return min(eye("left_eye"), eye("right_eye"))


def mask_cues(f: dict[str, float]) -> dict[str, float]:
    """Each mask cue on [0, 1], 0.5 at its threshold (module docstring)."""
    def cr(drop: float, at: float) -> float:
        return _clip01(0.5 + (drop - at) / (2.0 * MASK_CR_RANGE))
    sat = 0.0
    if f["upper_sat"] >= MASK_MIN_SKIN_SAT:
        sat = _clip01(0.5 + (MASK_SAT_RATIO - f["lower_sat_ratio"]) / (2.0 * MASK_SAT_RANGE))
    return {"nose": cr(f["nose_cr_drop"], MASK_NOSE_CR_DROP), "lower": cr(f["lower_cr_drop"], MASK_LOWER_CR_DROP),
            "saturation": sat}


def mask_score(f: dict[str, float]) -> float:
    return max(mask_cues(f).values())


def glasses_value(f: dict[str, float]) -> dict[str, object]:
    """``{"value": "sun"|"none", "probability": of that value, "score": the sunglasses score}``."""
    s = sunglasses_score(f)
    sun = s >= SUN_SCORE
    return {"value": "sun" if sun else "none", "probability": round(s if sun else 1.0 - s, 4), "score": round(s, 4)}


def mask_value(f: dict[str, float]) -> dict[str, object]:
    """``{"value": bool, "probability": of that value, "score": the mask score}``."""
    s = mask_score(f)
    masked = s >= MASK_SCORE
    return {"value": bool(masked), "probability": round(s if masked else 1.0 - s, 4), "score": round(s, 4)}


def occluder_attributes(image: np.ndarray, landmarks: Landmarks, names: frozenset[str]) -> dict[str, object]:
    """``glasses`` and/or ``mask`` (those in ``names``) of one face of the RGB ``image``."""
    regions = regions_from_landmarks(landmarks)
    f = occluder_features(face_crop(image, regions), regions)
    out: dict[str, object] = {}
    if "glasses" in names:
        out["glasses"] = glasses_value(f)
    if "mask" in names:
        out["mask"] = mask_value(f)
    return out
