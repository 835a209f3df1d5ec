"""BlazeFace face detection (MediaPipe short-range and full-range models of the TF.js zoo).

* ``facemesh-detection-short`` (128x128, 896 anchors on strides 8 and 16): faces that fill a
  good part of the frame (selfies, portraits, ID photos).
* ``facemesh-detection-full`` (192x192, 2304 anchors on stride 4; its first output is the face
  head, the second a person head we ignore): small faces in group photos.

The image is letterboxed (kept aspect, padded bottom/right) to the model's square input, scaled to
[-1, 1]; the padding is 0 (mid-grey): with -1 (black) padding the box regressors of the padding's
anchors reached 3e4, meaningless values where float32 cannot even hold 1e-3 parity. Each anchor row
is ``[logit, dx, dy, w, h, 6 x (kx, ky)]`` in input pixels relative to the anchor centre; the six
keypoints are the subject's right eye, left eye, nose tip, mouth centre, right ear tragion, left ear
tragion (MediaPipe order; "right" is the subject's, so it appears on the image's left). Detections
of both models are merged with NMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from visage.models.zoo import ZooModel


@dataclass(frozen=True, slots=True, eq=False)
class Detection:
    """A face in image pixels: box (x0, y0, x1, y1), score in [0, 1], 6 keypoints (6 x 2)."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


def _anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """Anchor centres in input pixels, MediaPipe order (row-major grid, then anchors per cell)."""
    out = []
    for stride, count in zip(strides, per_cell, strict=True):
        cells = (size + stride - 1) // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=-1).reshape(-1, 2)
        out.append(np.repeat(centres, count, axis=0))
    return np.concatenate(out).astype(np.float32)


# model name -> (anchor strides, anchors per cell, index of the face output)
_LAYOUTS: dict[str, tuple[tuple[int, ...], tuple[int, ...], int]] = {
    "human-facemesh-detection-short": ((8, 16), (2, 6), 0),
    "human-facemesh-detection-full": ((4,), (1,), 0),
}


class BlazeFace:
    """One BlazeFace model: ``detect(image)`` -> detections in image pixels."""

    def __init__(self, model: ZooModel) -> None:
        if model.spec.name not in _LAYOUTS:
            raise ValueError(f"no BlazeFace layout for {model.spec.name}")
        self.model = model
        self.size = model.input_size[0]
        strides, per_cell, self._face_output = _LAYOUTS[model.spec.name]
        self.anchors = _anchors(self.size, strides, per_cell)
        face_out = list(model.outputs.values())[self._face_output]
        self._output = [face_out]

    def letterbox(self, image: np.ndarray, out: np.ndarray) -> float:
        """Write ``image`` letterboxed into ``out`` (size x size x 3 float32, [-1, 1], padding 0); return its scale."""
        h, w = image.shape[:2]
        scale = self.size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(image, (nw, nh), interpolation=interp)
        out.fill(0.0)
        out[:nh, :nw] = small.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
        return scale

    def detect(self, image: np.ndarray, min_score: float = 0.5,
               regions: list[tuple[int, int, int, int]] | None = None) -> list[Detection]:
        """Detections in ``image`` pixels; ``regions`` (x0, y0, x1, y1) runs each region, one batch."""
        h, w = image.shape[:2]
        regions = regions or [(0, 0, w, h)]
        batch = np.empty((len(regions), self.size, self.size, 3), np.float32)
        scales = [self.letterbox(image[y0:y1, x0:x1], batch[k]) for k, (x0, y0, x1, y1) in enumerate(regions)]
        out = self.model.session.run(self._output, {self.model.input_name: batch})[0]
        dets = []
        for k, (x0, y0, _, _) in enumerate(regions):
            dets.extend(self._decode(out[k], scales[k], np.array([x0, y0], np.float32), min_score))
        return dets

    def _decode(self, rows: np.ndarray, scale: float, offset: np.ndarray, min_score: float) -> list[Detection]:
        logits = np.clip(rows[:, 0], -80.0, 80.0)
        scores = 1.0 / (1.0 + np.exp(-logits))
        dets = []
        for i in np.nonzero(scores >= min_score)[0]:
            r = rows[i]
            cx, cy = self.anchors[i] + r[1:3]
            bw, bh = r[3], r[4]
            if bw <= 0 or bh <= 0:
                continue
            box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], np.float32) / scale
            kps = (self.anchors[i] + r[5:17].reshape(6, 2)) / scale + offset
            dets.append(Detection(box=box + np.tile(offset, 2), score=float(scores[i]),
                                  keypoints=kps.astype(np.float32)))
        return dets


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def weighted_nms(dets: list[Detection], threshold: float = 0.3) -> list[Detection]:
    """MediaPipe-style NMS: each kept detection is the score-weighted mean of its overlapping group."""
    remaining = sorted(dets, key=lambda d: d.score, reverse=True)
    out = []
    while remaining:
        best = remaining[0]
        group = [d for d in remaining if iou(best.box, d.box) >= threshold]
        remaining = [d for d in remaining if iou(best.box, d.box) < threshold]
        weights = np.array([d.score for d in group], np.float32)
        weights /= weights.sum()
        box = np.sum([w * d.box for w, d in zip(weights, group, strict=True)], axis=0)
        kps = np.sum([w * d.keypoints for w, d in zip(weights, group, strict=True)], axis=0)
        out.append(Detection(box=box.astype(np.float32), score=best.score, keypoints=kps.astype(np.float32)))
    return out
