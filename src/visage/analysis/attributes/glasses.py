"""Glasses (``common`` / ``sun`` / ``none``) from landmarks and pixels: no glasses model ships in
a registry we can reach, so this is a measured method (``bench/eval_attributes.py``).

Frames: a spectacle frame draws horizontal edges where a bare face has none: the bridge across the
nose root between the eyes and the arms at the temples beside the outer eye corners. On the
aligned face (:mod:`visage.analysis.attributes.aligned_face`) with ``gy`` = |vertical Sobel|:

* ``bridge`` = the strongest row mean of ``gy`` in an 8 x 10 px box on the nose root (mesh 168),
  over the mean gradient magnitude on the cheeks (+4, so flat skin does not divide by ~0);
* ``temple`` = the same on 7 x 13 px boxes just outside each outer eye corner (mesh 33, 263), averaged.

``frame`` = bridge + 0.5 x temple; glasses when ``frame >= FRAME_THRESHOLD`` (chosen on the tune half of
eval/glasses, CelebA "Eyeglasses" vs none, and checked on the other half). Sunglasses are the tinted-lens
method of :mod:`visage.analysis.occluders` (flat, dark eye parts): ``sun`` wins over ``common``.

``score`` = frame / (2 x FRAME_THRESHOLD), clipped to [0, 1] (0.5 at the threshold): monotone, not a
calibrated probability; ``probability`` is the score for "common", 1 - score for "none" and the
sunglasses score for "sun".
"""

from __future__ import annotations

import cv2
import numpy as np

from visage.analysis.attributes.aligned_face import EYE_DISTANCE, AlignedFace

FRAME_THRESHOLD = 1.467
TEMPLE_WEIGHT = 0.5
SUN_SCORE = 0.5


def frame_features(face: AlignedFace) -> dict[str, float]:
    g = face.grey
    gy = np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
    mag = gy + np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3))
    ref = float(face.cheek_values(mag).mean()) + 4.0
    p = face.points
    bridge = float(gy[face.box(p[168], 8, 10)].mean(axis=1).max()) / ref
    w, h = 0.2 * EYE_DISTANCE, 0.35 * EYE_DISTANCE
    temples = [gy[face.box(p[i] + np.array([dx * 0.25 * EYE_DISTANCE, -2.0]), w, h)].mean(axis=1).max()
               for i, dx in ((33, -1.0), (263, 1.0))]
    return {"bridge": bridge, "temple": float(np.mean(temples)) / ref}


def frame_score(f: dict[str, float]) -> float:
    return f["bridge"] + TEMPLE_WEIGHT * f["temple"]


def glasses_value(frame: float, sun_score: float) -> dict[str, object]:
    """``{"value": "common"|"sun"|"none", "probability": of that value, "score": frame score in [0, 1]}``."""
    score = min(max(frame / (2.0 * FRAME_THRESHOLD), 0.0), 1.0)
    if sun_score >= SUN_SCORE:
        return {"value": "sun", "probability": round(float(sun_score), 4), "score": round(score, 4)}
    value = "common" if score >= 0.5 else "none"
    return {"value": value, "probability": round(score if value == "common" else 1.0 - score, 4),
            "score": round(score, 4)}
