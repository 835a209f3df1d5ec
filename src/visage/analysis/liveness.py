"""Single-image liveness (presentation-attack detection) from faceplugin's ``fr_liveness`` model.

``faceplugin-fr_liveness`` (MiniFASNet-shaped, 3 classes) takes a 128x128 crop of 0..255 pixels,
NCHW. The crop is the reference's (Silent-Face-Anti-Spoofing's ``CropImage``, which faceplugin's JS
copies): an axis-aligned box ``CROP`` x the face box, its scale capped so it fits in the photo and the
box **shifted inside the photo** at a border, never padded. A crop that runs off the photo and is
filled with black (the rotated, zero-padded square every other attribute uses) draws the straight dark
edge of a screen or a print beside the face, and the model reads it as one: the real face on the left
of ``two_people.jpg`` (near the top edge) scored 0.32 that way and 1.00 with this crop. Measured on
eval/antispoof (CelebA-Spoof live vs print/replay, ``bench/eval_attributes.py``): the square of side
2.0 x the Face Mesh extent separates best (tune-half ROC AUC 1.000; test half 0.9999, where the padded
crop had 0.994), in BGR channel order (RGB, as the JS reads a canvas, separates far worse), and class 0
is the live class.

``score`` = the class-0 probability; ``value`` is ``real`` when ``score >= threshold``;
:data:`LIVENESS_THRESHOLD` (0.44) lies inside the interval that separates the tune half of
eval/antispoof completely with this crop (every tune spoof below 0.27, every tune live face above
0.85) and is checked on the other half (docs/attributes.md).

Replaced: human-models' ``liveness`` and ``antispoof`` (caught 6 of 94 spoofs at their default).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from visage.analysis.attributes.onnx_model import OnnxModel, load_onnx_model, softmax

LIVENESS_MODEL = "faceplugin-fr_liveness"
CROP = 2.0
SIZE = 128
LIVE_CLASS = 0
LIVENESS_THRESHOLD = 0.44


def crop_box(image_shape: tuple[int, ...], mesh: np.ndarray, scale: float = CROP) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` (inclusive) of the reference crop: the square on the mesh's axis-aligned
    extent, ``scale`` x its side, capped to fit the photo and shifted inside it (no padding)."""
    h, w = image_shape[:2]
    p = np.asarray(mesh, np.float64)[:, :2]
    lo, hi = p.min(axis=0), p.max(axis=0)
    side = max(float((hi - lo).max()), 1.0)
    cx, cy = (lo + hi) / 2.0
    s = min((h - 1) / side, (w - 1) / side, scale)
    half = side * s / 2.0
    x0, y0, x1, y1 = cx - half, cy - half, cx + half, cy + half
    if x0 < 0:
        x1, x0 = x1 - x0, 0.0
    if y0 < 0:
        y1, y0 = y1 - y0, 0.0
    if x1 > w - 1:
        x0, x1 = x0 - (x1 - w + 1), w - 1.0
    if y1 > h - 1:
        y0, y1 = y0 - (y1 - h + 1), h - 1.0
    return int(max(x0, 0)), int(max(y0, 0)), max(int(x1), 0), max(int(y1), 0)


def liveness_inputs(image: np.ndarray, meshes: list[np.ndarray]) -> np.ndarray:
    """N x 3 x 128 x 128 float32, BGR 0..255: the reference crop (:func:`crop_box`) of each face."""
    out = np.empty((len(meshes), SIZE, SIZE, 3), np.uint8)
    for i, mesh in enumerate(meshes):
        x0, y0, x1, y1 = crop_box(image.shape, mesh)
        patch = image[y0:y1 + 1, x0:x1 + 1]
        out[i] = cv2.resize(patch, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32)


class Liveness:
    def __init__(self, models_dir: Path, threads: int | None = None, model: OnnxModel | None = None,
                 threshold: float = LIVENESS_THRESHOLD) -> None:
        self.model = model or load_onnx_model(LIVENESS_MODEL, models_dir, threads)
        self.threshold = float(threshold)

    def models(self) -> list[str]:
        return [self.model.spec.name]

    def scores(self, image: np.ndarray, meshes: list[np.ndarray]) -> np.ndarray:
        """Live-class probability per face."""
        if not meshes:
            return np.zeros(0)
        return softmax(self.model.run_each(liveness_inputs(image, meshes)))[:, LIVE_CLASS]

    def run(self, image: np.ndarray, meshes: list[np.ndarray]) -> list[dict[str, object]]:
        thr = self.threshold
        return [{"value": "real" if s >= thr else "spoof", "score": round(float(s), 4), "threshold": thr,
                 "model": self.model.spec.name} for s in self.scores(image, meshes)]
