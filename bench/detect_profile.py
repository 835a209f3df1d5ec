"""Where RetinaFace's time goes on a 1-megapixel photo, and what each input-size policy costs, same run.

    python bench/detect_profile.py [--photos 12] [--repeats 3] [--mesh]

Photos: ``--photos`` of eval/widerface (crowds) and of the annotated group photos, each rescaled to 1 MP as
bench/bench_detect.py's ``one_megapixel`` does. Per photo the best of ``--repeats`` calls (the least disturbed by
other processes on a shared machine), the repeats round-robin over the policies so that each samples the same
stretches of background load. Stages of one pass, each timed alone:
resize, input blob (the current one and the ``cv2.dnn.blobFromImage`` one it replaced), network, anchors and
decoding, NMS; for the default policy also the flip check's share. ``--mesh`` adds Face Mesh per detected face
(the fast pipeline's next stage, not part of detection). Printed: mean ms per photo and the ratio to the
default policy of the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detect import load_groups, load_wider, to_one_megapixel
from visage.analysis.detectors import retinaface as rf
from visage.analysis.detectors.base import nms
from visage.analysis.detectors.retinaface import RetinaFace, _resize, anchors, decode, input_blob
from visage.analysis.fast_pipeline import FastConfig, FastPipeline, seed_roi
from visage.config import Settings


class BlobFromImage(RetinaFace):
    """The detector with the input blob built as before (copyMakeBorder + cv2.dnn.blobFromImage)."""

    def run(self, image: np.ndarray, min_score: float) -> list:
        h, w = image.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        padded = cv2.copyMakeBorder(image, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=rf._MEAN_RGB)
        blob = cv2.dnn.blobFromImage(padded, 1.0, None, (104, 117, 123), swapRB=True)
        loc, conf, marks = self.session.run(self._outputs, {self._input: blob})
        boxes, scores, points = decode(loc[0], conf[0], marks[0], anchors(ph, pw), min_score)
        return [rf.Detection(box=b.astype(np.float32), score=float(s), keypoints=p.astype(np.float32),
                             points5=p.astype(np.float32)) for b, s, p in zip(boxes, scores, points, strict=True)]


def best_of(n: int, fn, *args) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return 1000 * best, out


def stages(det: RetinaFace, rgb: np.ndarray, side: int, n: int) -> dict[str, float]:
    """ms of each stage of one pass at long side ``side``."""
    out: dict[str, float] = {}
    scale = min(1.0, side / max(rgb.shape[:2])) if side else det.fine_scale(max(rgb.shape[:2]))
    out["resize"], im = best_of(n, _resize, rgb, scale, det.policy.interpolation)
    h, w = im.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    out["blob"], blob = best_of(n, input_blob, im, ph, pw)

    def old_blob() -> np.ndarray:
        padded = cv2.copyMakeBorder(im, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=rf._MEAN_RGB)
        return cv2.dnn.blobFromImage(padded, 1.0, None, (104, 117, 123), swapRB=True)

    out["blob (blobFromImage, before)"], _ = best_of(n, old_blob)
    out["network"], (loc, conf, marks) = best_of(n, det.session.run, det._outputs, {det._input: blob})

    def post() -> list:
        boxes, scores, points = decode(loc[0], conf[0], marks[0], anchors(ph, pw), 0.5)
        return [rf.Detection(box=b, score=float(s), keypoints=p, points5=p)
                for b, s, p in zip(boxes, scores, points, strict=True)]

    out["anchors + decode"], dets = best_of(n, post)
    out["NMS"], _ = best_of(n, nms, dets, det.nms_iou)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mesh", action="store_true")
    args = ap.parse_args()
    pipe = FastPipeline.from_settings(Settings(), FastConfig())
    base: RetinaFace = pipe.detector
    p = base.policy
    before = replace(p, coarse_side=640, flip_check_from=0.0)
    policies = {
        "default": base,
        "no flip check": RetinaFace(base.session, replace(p, flip_check_from=0.0)),
        "flip check as first set: from 0.5, 6x context, 448-px crops": RetinaFace(
            base.session, replace(p, flip_check_from=0.5, flip_check_context=6.0, flip_check_crop=448)),
        "coarse 640 (the previous default's)": RetinaFace(base.session, replace(p, coarse_side=640)),
        "previous default: coarse 640, blobFromImage, no flip check": BlobFromImage(base.session, before),
        "coarse 384": RetinaFace(base.session, replace(p, coarse_side=384)),
        "one pass (no coarse)": RetinaFace(base.session, replace(p, coarse_side=0)),
    }
    policies["previous default: coarse 640, blobFromImage, no flip check"].mesh_sure = None
    wider = load_wider(None)
    groups = load_groups()[0]
    for set_name, photos in (("WIDER", wider), ("groups", groups)):
        step = max(1, len(photos) // args.photos)
        copies = [to_one_megapixel(ph.rgb) for ph in photos[::step][:args.photos]]
        times: dict[str, list[float]] = {k: [] for k in policies}
        stage: dict[str, list[float]] = {}
        mesh_ms, faces, fine = [], 0, 0
        for rgb in copies:
            # round-robin repeats (every policy once, then again): each policy samples the same stretches of
            # background load; the best per policy is kept
            best = dict.fromkeys(policies, float("inf"))
            for _ in range(args.repeats):
                for name, det in policies.items():
                    ms, _ = best_of(1, det.detect, rgb)
                    best[name] = min(best[name], ms)
            for name, ms in best.items():
                times[name].append(ms)
            for side, label in ((p.coarse_side, "coarse"), (0, "full")):
                for k, v in stages(base, rgb, side, args.repeats).items():
                    stage.setdefault(f"{label} pass: {k}", []).append(v)
            dets = base.detect(rgb)
            if args.mesh and dets:
                rois = [seed_roi(d, *base.mesh_roi) for d in dets]
                ms, _ = best_of(args.repeats, pipe.mesh.run, rgb, rois)
                mesh_ms.append(ms)
                faces += len(dets)
            fine += int(any(d.size < p.coarse_small_px * max(rgb.shape[:2]) / p.coarse_side for d in dets))
        ref = float(np.mean(times["default"]))
        print(f"\n## {set_name}: {len(copies)} photos at 1 MP (best of {args.repeats} per photo)")
        print("| policy | ms per photo | x default |\n|---|---|---|")
        for name, v in times.items():
            print(f"| {name} | {np.mean(v):.1f} | {np.mean(v) / ref:.3f} |")
        print("\n| stage (default policy's passes) | ms per photo |\n|---|---|")
        for k, v in stage.items():
            print(f"| {k} | {np.mean(v):.2f} |")
        if mesh_ms:
            print(f"\nFace Mesh: {np.sum(mesh_ms) / faces:.2f} ms per face ({faces} faces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
