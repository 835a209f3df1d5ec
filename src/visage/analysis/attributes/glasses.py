"""Glasses (``common`` / ``sun`` / ``none``) from landmarks and pixels: no glasses model ships in
a registry we can reach, so this is a measured method (``bench/eval_attributes.py``).

Frames (v4): a spectacle frame's bridge crosses the nose root as a thin dark line with skin above
and below it. On the aligned face (:mod:`visage.analysis.attributes.aligned_face`: eyes level, 36 px
apart) three narrow strips (each 2 x 0.03 eye distances wide) stand on the nose root, one on mesh 168
and one 0.06 eye distances to either side; each strip's grey rows from 0.30 eye distances above the
eye line to 0.13 below it are averaged into a profile ``p`` and its dip taken: the largest amount a
row lies below the *brighter-darker* of its two neighbours 2 px above and below, over the profile's
median, ``max_i (min(p[i-2], p[i+2]) - p[i]) / (median(p) + 1)``. ``line`` = the mean of the three
dips: a bridge runs across all three strips, a spot or a crease at one side of the nose does not.

Why a line and not edges: an earlier measure (vertical-gradient energy at the bridge and temples)
fired on every horizontal edge there, and high-resolution bare faces have many: brow shadows, frown
lines, wrinkles. Requiring a row darker than *both* its neighbours rejects an edge (one side dark)
and a broad shadow (no bright row below it). Why three strips and this window (v3 had one strip on
168, from 0.25 above to 0.10 below): frames whose bridge is light or patterned in its middle (tortoise
shell, keyhole bridges) stay dark beside it, and low bridges sit down to ~0.13 eye distances under the
eye line; both were misses of v3 on eval/glasses.

Tinted lenses: a tinted lens darkens the skin it covers and takes the red out of it. Per eye, the
median YCrCb of two boxes inside a typical lens (eye-corner width, 0.16 eye distances tall centred
0.22 below the eye centre, and 0.10 tall centred 0.20 above it) against the skin of the nose tip and
lower cheeks (mesh 4, 205, 425; outside any lens): ``tint_eye = max(Cr_skin - Cr_lens, 0) x max(1 -
Y_lens / Y_skin, 0)``; ``tint`` = the smaller eye's (both lenses must be tinted). This catches
lighter or mirrored sunglasses that the flat-dark-eye measure of :mod:`visage.analysis.occluders`
misses (reflections break its flatness). A grey-scale photo has no Cr signal: tint reads 0 there.

``sun`` when the occluders' sunglasses score is >= 0.5 or ``tint >= TINT_THRESHOLD``; else
``common`` when ``line >= LINE_THRESHOLD``; else ``none``. Both thresholds chosen on the tune half of
eval/glasses (CelebA "Eyeglasses" incl. sunglasses vs none) and checked on the other half.

``score`` = line / (2 x LINE_THRESHOLD), clipped to [0, 1] (0.5 at the threshold): monotone, not a
calibrated probability; ``probability`` is the score for "common", 1 - score for "none", and for
"sun" the larger of the sunglasses score and the tint score (tint / (2 x TINT_THRESHOLD), clipped).
"""

from __future__ import annotations

import numpy as np

from visage.analysis.attributes.aligned_face import EYE_DISTANCE, AlignedFace

LINE_THRESHOLD = 0.052
TINT_THRESHOLD = 3.2
SUN_SCORE = 0.5
_STRIPS = (-0.06, 0.0, 0.06)  # strip centres beside mesh 168, eye distances
_HALF_WIDTH = 0.03   # strip half-width, eye distances
_ABOVE, _BELOW = 0.30, 0.13  # window around the eye line, eye distances
_GAP = 2             # px to the neighbours a line must be darker than
_SKIN = (4, 205, 425)  # nose tip, lower cheeks: skin outside any lens
_EYES = ((33, 133), (263, 362))


def _dip(prof: np.ndarray) -> float:
    k = _GAP
    if prof.size <= 2 * k:
        return 0.0
    dip = np.minimum(prof[: -2 * k], prof[2 * k:]) - prof[k:-k]
    return float(max(dip.max(), 0.0) / (float(np.median(prof)) + 1.0))


def bridge_line(face: AlignedFace) -> float:
    """The bridge-line measure (module docstring): 0 for no line, ~0.05 at the threshold."""
    p = face.points
    eye_y = float(p[[33, 133, 362, 263], 1].mean())
    e = EYE_DISTANCE
    size = face.grey.shape[1]
    y0 = max(round(eye_y - _ABOVE * e) - _GAP, 0)
    y1 = min(round(eye_y + _BELOW * e) + 1 + _GAP, face.grey.shape[0])
    dips = []
    for dx in _STRIPS:
        xc = float(p[168, 0]) + dx * e
        x0 = min(max(round(xc - _HALF_WIDTH * e), 0), size - 1)
        x1 = min(max(round(xc + _HALF_WIDTH * e) + 1, x0 + 1), size)
        dips.append(_dip(face.grey[y0:y1, x0:x1].mean(axis=1)))
    return float(np.mean(dips))


def lens_tint(face: AlignedFace) -> float:
    """The tinted-lens measure (module docstring): ~0 on bare faces, > TINT_THRESHOLD behind tinted lenses."""
    ycc, p, e = face.ycrcb, face.points, EYE_DISTANCE
    skin = np.median(np.concatenate([ycc[face.box(p[i], 7, 7)].reshape(-1, 3) for i in _SKIN]), axis=0)
    per_eye = []
    for outer, inner in _EYES:
        c = (p[outer] + p[inner]) / 2
        w = abs(float(p[outer, 0] - p[inner, 0]))
        below = ycc[face.box(c + np.array([0.0, 0.22 * e]), w, 0.16 * e)].reshape(-1, 3)
        above = ycc[face.box(c + np.array([0.0, -0.20 * e]), w, 0.10 * e)].reshape(-1, 3)
        lens = np.median(np.concatenate([below, above]), axis=0)
        per_eye.append(max(float(skin[1] - lens[1]), 0.0) * max(1.0 - float(lens[0]) / max(float(skin[0]), 1.0), 0.0))
    return float(min(per_eye))


def glasses_value(line: float, sun_score: float, tint: float = 0.0) -> dict[str, object]:
    """``{"value": "common"|"sun"|"none", "probability": of that value, "score": line score in [0, 1]}``."""
    score = min(max(line / (2.0 * LINE_THRESHOLD), 0.0), 1.0)
    if sun_score >= SUN_SCORE or tint >= TINT_THRESHOLD:
        p = max(float(sun_score), min(tint / (2.0 * TINT_THRESHOLD), 1.0))
        return {"value": "sun", "probability": round(p, 4), "score": round(score, 4)}
    value = "common" if score >= 0.5 else "none"
    return {"value": value, "probability": round(score if value == "common" else 1.0 - score, 4),
            "score": round(score, 4)}
