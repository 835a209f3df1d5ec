"""Per-part occlusion from pixels: no registry we know of ships an occlusion model.

Method (measured in bench/bench_quality.py, results in docs/quality.md). On the canonical face
crop, a pixel of a part counts as VISIBLE when it lies inside the image and either
* its chroma is close to the face's own skin chroma (``SKIN_CHROMA``), with a usable luma, or
* it is textured (3x3 luma std >= ``TEXTURE_STD``) and its chroma is not foreign to the face
  (distance <= ``FOREIGN_CHROMA``): eyes, brows and lip edges are textured, not skin-coloured;
and in any case not flat (3x3 std < ``FLAT_STD``): real skin at this scale is never that flat,
uniform occluders and digital patches are.
The skin reference is the median (Cr, Cb) of the face outline minus eyes and mouth, so a
single occluded part does not move it. A part's score is its visible fraction, seed 000's
"proportion not occluded" in [0, 1]; ``total`` is the visible fraction of all parts together.

Known blind spots (stated in the docs): a skin-coloured occluder (a hand) looks visible; on a
grey-scale photo the chroma cue is void and only texture and flatness remain.
"""

from __future__ import annotations

import cv2
import numpy as np

from visage.analysis.facecrop import FaceCrop
from visage.analysis.regions import OCCLUSION_PARTS, FaceRegions

SKIN_CHROMA = 12.0  # (Cr, Cb) Euclidean distance to the face's median skin chroma
FOREIGN_CHROMA = 30.0
TEXTURE_STD = 2.0  # grey levels, 3x3 window on the canonical crop
FLAT_STD = 0.75
LUMA_RANGE = (30.0, 245.0)  # chroma is unreliable in near-black and near-white pixels
OCCLUDED_BELOW = 0.5  # a part with a lower score is reported occluded (decision threshold)

_HULL_PARTS = {"left_eye", "right_eye", "nose", "mouth"}  # the others are concave polygons


def part_masks(crop: FaceCrop, regions: FaceRegions) -> dict[str, np.ndarray]:
    """Crop-space mask of each occlusion part (not limited to the image: outside counts occluded)."""
    return {name: crop.polygon_mask(regions.parts[name], hull=name in _HULL_PARTS) for name in OCCLUSION_PARTS}


def visible_pixels(crop: FaceCrop, regions: FaceRegions, masks: dict[str, np.ndarray]) -> np.ndarray:
    """Boolean crop-space map of pixels that look like unoccluded face (module docstring)."""
    ycc = cv2.cvtColor(crop.rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    luma = crop.luma
    usable = (luma > LUMA_RANGE[0]) & (luma < LUMA_RANGE[1]) & crop.inside
    skin_area = crop.polygon_mask(regions.outline) & usable
    for name in ("left_eye", "right_eye", "mouth"):
        skin_area &= ~masks[name]
    if skin_area.sum() < 20:
        return np.zeros(luma.shape, bool)
    ref = np.median(ycc[skin_area][:, 1:], axis=0)
    dist = np.linalg.norm(ycc[..., 1:] - ref, axis=-1)
    mean = cv2.blur(luma, (3, 3))
    std = np.sqrt(np.maximum(cv2.blur(luma * luma, (3, 3)) - mean * mean, 0.0))
    skin = (dist <= SKIN_CHROMA) & usable
    structure = (std >= TEXTURE_STD) & (dist <= FOREIGN_CHROMA)
    return crop.inside & (skin | structure) & (std >= FLAT_STD)


def occlusion_scores(crop: FaceCrop, regions: FaceRegions) -> dict[str, float]:
    """Visible fraction per part and ``total`` (all parts together), each in [0, 1]."""
    masks = part_masks(crop, regions)
    visible = visible_pixels(crop, regions, masks)
    scores: dict[str, float] = {}
    union = np.zeros(visible.shape, bool)
    for name, mask in masks.items():
        n = int(mask.sum())
        scores[name] = round(float((visible & mask).sum()) / n, 4) if n else 0.0
        union |= mask
    n = int(union.sum())
    scores["total"] = round(float((visible & union).sum()) / n, 4) if n else 0.0
    return scores
