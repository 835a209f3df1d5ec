"""Beard from landmarks and pixels: no beard model ships in a registry we can reach, so this is a
measured method (``bench/eval_attributes.py``, docs/attributes.md has its accuracy: below target).

Facial hair darkens the skin where it grows. On the aligned face
(:mod:`visage.analysis.attributes.aligned_face`), the median grey level of three zones, each over the
median of the cheeks (mesh 50, 280: above the beard line): the upper lip between nose and mouth
(mesh 2 / 0), the chin between lower lip and chin tip (mesh 17 / 152), and the two jaw corners
(mesh 172/58, 397/288). ``darkness`` = 1 - the mean of the three ratios; beard when
``darkness >= BEARD_THRESHOLD`` (chosen on the tune half of eval/beard, CelebA men, checked on the other).

``probability`` is a piecewise-linear rescale of ``darkness`` putting the threshold at 0.5, not a
calibrated probability. Dark skin with bright cheek highlights or a shadowed chin reads as beard; a
light or grey beard reads as none: the method is weak and documented as such.
"""

from __future__ import annotations

import numpy as np

from visage.analysis.attributes.aligned_face import EYE_DISTANCE, AlignedFace
from visage.analysis.attributes.eyes import rescale_at

BEARD_THRESHOLD = 0.205
_SPAN = 0.5  # darkness range mapped onto probability (threshold +- _SPAN)


def beard_features(face: AlignedFace) -> dict[str, float]:
    g, p = face.grey, face.points
    ref = float(np.median(face.cheek_values(g))) + 1.0
    lip_h = max(float(p[0][1] - p[2][1]), 3.0)
    chin_h = max(float(p[152][1] - p[17][1]), 4.0)
    upper_lip = float(np.median(g[face.box((p[2] + p[0]) / 2, 0.5 * EYE_DISTANCE, 0.7 * lip_h)])) / ref
    chin = float(np.median(g[face.box((p[17] + p[152]) / 2, 0.55 * EYE_DISTANCE, 0.6 * chin_h)])) / ref
    jaw = np.concatenate([g[face.box((p[a] + p[b]) / 2, 8, 8)].ravel() for a, b in ((172, 58), (397, 288))])
    return {"upper_lip": upper_lip, "chin": chin, "jaw": float(np.median(jaw)) / ref}


def beard_darkness(f: dict[str, float]) -> float:
    return 1.0 - (f["upper_lip"] + f["chin"] + f["jaw"]) / 3.0


def beard_value(darkness: float) -> dict[str, object]:
    """``{"value": bool, "probability": of that value, "score": darkness}``."""
    lo = BEARD_THRESHOLD - _SPAN
    p = rescale_at((darkness - lo) / (2 * _SPAN), 0.5)
    has = darkness >= BEARD_THRESHOLD
    return {"value": bool(has), "probability": round(p if has else 1.0 - p, 4), "score": round(float(darkness), 4)}
