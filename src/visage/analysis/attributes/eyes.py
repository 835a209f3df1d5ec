"""Open or closed eyes from faceplugin's eye-state model (``faceplugin-fr_eye``).

The model takes a 24x24 grey crop of one eye, /255, and gives two logits (class 0 = closed,
class 1 = open). Its reference JS (faceplugin-face-recognition-js ``lib/fr_eye.js``) cuts a square
around the mean of the four lid points, 1.6 x the corner-to-corner eye width; here the same square
is cut from the Face Mesh's six eye points (the dlib-68 eye points' counterparts), turned so the
eye corners are level (one rotated warp per eye), so tilted heads give the model what it expects.

``eyes_open`` is open when the mean of the two eyes' open probabilities reaches
:data:`EYES_OPEN_THRESHOLD`, chosen on the tune half of eval/eyes + lfw + calib and checked on the
other half (``bench/eval_attributes.py``; docs/attributes.md).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from visage.analysis.attributes.onnx_model import OnnxModel, softmax
from visage.analysis.facemesh import Roi, warp_crops

EYE_MODEL = "faceplugin-fr_eye"
EYE_SIZE = 24
EYE_PAD = 1.6  # square side / eye width (the reference JS's padding_rate)
EYES_OPEN_THRESHOLD = 0.50

# Face Mesh indices in dlib-68 eye order: corner, two upper-lid points, the other corner, two lower-lid
# points (visage.analysis.regions). Image-left eye first (the subject's right eye).
MESH_EYES: tuple[tuple[int, ...], tuple[int, ...]] = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))


def eye_roi(points: np.ndarray) -> Roi:
    """The eye's square: centre = mean of the four lid points, side = EYE_PAD x the corner distance,
    turned so the two corners are level."""
    p = np.asarray(points, np.float64)[:, :2]
    a, b = (p[0], p[3]) if p[0][0] <= p[3][0] else (p[3], p[0])
    angle = math.atan2(float(b[1] - a[1]), float(b[0] - a[0]))
    centre = p[[1, 2, 4, 5]].mean(axis=0)
    side = max(float(np.linalg.norm(b - a)) * EYE_PAD, 2.0)
    return Roi(cx=float(centre[0]), cy=float(centre[1]), side=side, angle=angle)


def eye_inputs(image: np.ndarray, meshes: list[np.ndarray]) -> np.ndarray:
    """(2N) x 1 x 24 x 24 float32 grey crops in [0, 1]: image-left then image-right eye of each face."""
    rois = [eye_roi(m[list(idx)]) for m in meshes for idx in MESH_EYES]
    crops, _ = warp_crops(image, rois, EYE_SIZE)
    grey = np.stack([cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops]) if len(crops) else np.zeros((0, 24, 24))
    return (grey.astype(np.float32) / np.float32(255.0))[:, None]


def open_probabilities(model: OnnxModel, image: np.ndarray, meshes: list[np.ndarray]) -> np.ndarray:
    """N x 2 probabilities of an open eye (image-left, image-right) per face."""
    probs = softmax(model.run_each(eye_inputs(image, meshes)))[:, 1]
    return probs.reshape(len(meshes), 2)


def eyes_open_value(p_left: float, p_right: float, threshold: float = EYES_OPEN_THRESHOLD) -> dict[str, object]:
    """``{"value", "probability" (of that value), "left", "right" (p_open per eye, image sides)}``.

    ``probability`` maps the mean open probability piecewise-linearly so that the threshold reads 0.5
    (the value given is always the likelier side); it is a rescale, not a calibration."""
    mean = (float(p_left) + float(p_right)) / 2.0
    is_open = mean >= threshold
    p_open = rescale_at(mean, threshold)
    return {"value": bool(is_open), "probability": round(p_open if is_open else 1.0 - p_open, 4),
            "left": round(float(p_left), 4), "right": round(float(p_right), 4)}


def rescale_at(score: float, threshold: float) -> float:
    """Monotone map of [0, 1] onto [0, 1] with ``threshold`` -> 0.5 (linear on each side)."""
    s = min(max(float(score), 0.0), 1.0)
    t = min(max(float(threshold), 1e-6), 1.0 - 1e-6)
    return 0.5 * s / t if s < t else 0.5 + 0.5 * (s - t) / (1.0 - t)
