"""What every face detector returns, and the box arithmetic they share (IoU, NMS)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Order of the five detector points (image pixels) that seed the Face Mesh region and the embedder's
# alignment: eyes and mouth corners named by the side of the IMAGE they lie on for an upright face.
POINTS5 = ("image_left_eye", "image_right_eye", "nose_tip", "image_left_mouth", "image_right_mouth")


@dataclass(frozen=True, slots=True, eq=False)
class Detection:
    """A face in image pixels: box (x0, y0, x1, y1), score in [0, 1] and the model's own keypoints.

    ``keypoints`` start with the image-left then the image-right eye for every detector (the Face Mesh
    region's eye line). ``points5`` are the five points in :data:`POINTS5` order where the model gives
    them (RetinaFace), None where it does not (BlazeFace has no mouth corners).
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray
    points5: np.ndarray | None = None

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    def scaled(self, factor: float) -> Detection:
        """The same detection with every coordinate multiplied by ``factor`` (a resized image's)."""
        return Detection(box=self.box * factor, score=self.score, keypoints=self.keypoints * factor,
                         points5=None if self.points5 is None else self.points5 * factor)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N x 4, x0 y0 x1 y1) with every box of ``b`` (M x 4): N x M."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(dets: list[Detection], threshold: float = 0.4) -> list[Detection]:
    """Greedy NMS: keep the best-scored detection, drop every other one overlapping it at IoU > threshold."""
    if not dets:
        return []
    order = sorted(dets, key=lambda d: d.score, reverse=True)
    overlaps = iou_matrix(np.array([d.box for d in order]), np.array([d.box for d in order]))
    alive = np.ones(len(order), bool)
    kept = []
    for i in range(len(order)):
        if alive[i]:
            kept.append(order[i])
            alive &= overlaps[i] <= threshold
    return kept


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
        out.append(Detection(box=box.astype(np.float32), score=best.score, keypoints=kps.astype(np.float32),
                             points5=best.points5))
    return out
