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

import cv2
import numpy as np

from visage.analysis.detectors.base import Detection, weighted_nms
from visage.models.zoo import ZooModel


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


TILE_FRACTION = 0.6


class BlazeFacePair:
    """The short-range and full-range models on one downscaled copy of the image, plus tiles.

    With ``tiles`` and a long side of ``tile_min_side`` or more, the full-range model also runs on a
    2 x 2 grid of overlapping tiles (:func:`tiles`). Detections of every pass merge by weighted NMS.
    """

    model_names = ("human-facemesh-detection-short", "human-facemesh-detection-full")

    def __init__(self, short: BlazeFace, full: BlazeFace, min_score: float = 0.5, nms_iou: float = 0.3,
                 tiles: bool = True, tile_min_side: int = 1280) -> None:
        self.short, self.full = short, full
        self.min_score, self.nms_iou = min_score, nms_iou
        self.tiles, self.tile_min_side = tiles, tile_min_side

    def detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        tiled = self.tiles and max(h, w) >= self.tile_min_side
        # One area-averaged downscale serves every pass: long side 192 (whole-image pass), or 320 when
        # tiling, so that a 0.6 tile is 192 pixels, the full-range model's input, with no second resize.
        target = round(self.full.size / TILE_FRACTION) if tiled else self.full.size
        scale = min(1.0, target / max(h, w))
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        dets = self.short.detect(small, self.min_score)
        regions = [(0, 0, sw, sh)] + (tiles(sw, sh) if tiled else [])
        dets += self.full.detect(small, self.min_score, regions)
        if scale < 1.0:
            dets = [d.scaled(1.0 / scale) for d in dets]
        return weighted_nms(dets, self.nms_iou)


def tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """A 2 x 2 grid of overlapping tiles (x0, y0, x1, y1), each 0.6 of the image on both axes.

    At the full-range model's 192-pixel input a tile shows faces at about 1.7x the scale of the whole
    image's pass: the second chance for small faces in group photos (docs/models.md).
    """
    tw, th = round(width * TILE_FRACTION), round(height * TILE_FRACTION)
    return [(x, y, x + tw, y + th) for y in (0, height - th) for x in (0, width - tw)]
