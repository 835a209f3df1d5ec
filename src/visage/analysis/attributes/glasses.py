"""Glasses (``common`` / ``sun`` / ``none``) from landmarks and pixels: no glasses model ships in
a registry we can reach, so this is a measured method (``bench/eval_attributes.py``).

Frames: a spectacle frame's bridge crosses the nose root as a thin dark line with skin above and
below it. On the aligned face (:mod:`visage.analysis.attributes.aligned_face`: eyes level, 36 px
apart) the grey rows of a narrow strip on the nose root (mesh 168, 2 x 0.05 eye distances wide) are
averaged into a profile over the rows from 0.25 eye distances above the eye line to 0.10 below it;
``line`` = the largest dip of a row below the *brighter-darker* of its two neighbours 2 px above and
below, over the profile's median: ``max_i (min(p[i-2], p[i+2]) - p[i]) / (median(p) + 1)``.

Why a line and not edges: the previous measure (vertical-gradient energy at the bridge and temples)
also fired on every horizontal edge there, and high-resolution bare faces have many: brow shadows,
frown lines, wrinkles (it read 10 of 30 bare fixture faces as "common"). Requiring a row darker than
*both* its neighbours rejects an edge (one side dark) and a broad shadow (no bright row below it);
stopping the window 0.25 eye distances above the eye line keeps out the brow line, where bridges are
rare (the sunglasses, whose bridges sit high, are the lens method's).

``common`` when ``line >= LINE_THRESHOLD`` (chosen on the tune half of eval/glasses, CelebA
"Eyeglasses" vs none, and checked on the other half). Sunglasses are the tinted-lens method of
:mod:`visage.analysis.occluders` (flat, dark eye parts): ``sun`` wins over ``common``.

``score`` = line / (2 x LINE_THRESHOLD), clipped to [0, 1] (0.5 at the threshold): monotone, not a
calibrated probability; ``probability`` is the score for "common", 1 - score for "none" and the
sunglasses score for "sun".
"""

from __future__ import annotations

import numpy as np

from visage.analysis.attributes.aligned_face import EYE_DISTANCE, AlignedFace

LINE_THRESHOLD = 0.044
SUN_SCORE = 0.5
_HALF_WIDTH = 0.05   # strip half-width, eye distances
_ABOVE, _BELOW = 0.25, 0.10  # window around the eye line, eye distances
_GAP = 2             # px to the neighbours a line must be darker than


def bridge_line(face: AlignedFace) -> float:
    """The bridge-line measure (module docstring): 0 for no line, ~0.05 at the threshold."""
    p = face.points
    eye_y = float(p[[33, 133, 362, 263], 1].mean())
    xc = float(p[168, 0])
    e = EYE_DISTANCE
    size = face.grey.shape[1]
    x0 = min(max(round(xc - _HALF_WIDTH * e), 0), size - 1)
    x1 = min(max(round(xc + _HALF_WIDTH * e) + 1, x0 + 1), size)
    y0 = max(round(eye_y - _ABOVE * e) - _GAP, 0)
    y1 = min(round(eye_y + _BELOW * e) + 1 + _GAP, face.grey.shape[0])
    prof = face.grey[y0:y1, x0:x1].mean(axis=1)
    if prof.size <= 2 * _GAP:
        return 0.0
    k = _GAP
    dip = np.minimum(prof[: -2 * k], prof[2 * k:]) - prof[k:-k]
    return float(max(dip.max(), 0.0) / (float(np.median(prof)) + 1.0))


def glasses_value(line: float, sun_score: float) -> dict[str, object]:
    """``{"value": "common"|"sun"|"none", "probability": of that value, "score": line score in [0, 1]}``."""
    score = min(max(line / (2.0 * LINE_THRESHOLD), 0.0), 1.0)
    if sun_score >= SUN_SCORE:
        return {"value": "sun", "probability": round(float(sun_score), 4), "score": round(score, 4)}
    value = "common" if score >= 0.5 else "none"
    return {"value": value, "probability": round(score if value == "common" else 1.0 - score, 4),
            "score": round(score, 4)}
