"""Every annotated group face of 20 px or more that the default fast pipeline misses, and why.

    python bench/detect_misses.py [--render DIR]

For each missed face (tests/data/detection_annotations.json, bench/bench_detect.py's protocol: no kept box at
IoU >= 0.5): the detector's best box on it at the default policy (score down to 0.3, IoU, Face Mesh score,
whether the gate trusts it), and the network's best score on it (IoU >= 0.5) when the whole photo is run at
the full pass's scale, mirrored, and enlarged 1.5x and 2x: which view, if any, would have found it. ``--render``
writes a PNG per missed face (the face red, the other annotated faces green, 2x context) to look at.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detect import load_groups
from visage.analysis.detectors.base import iou_matrix
from visage.analysis.detectors.retinaface import RetinaFace, _resize
from visage.analysis.fast_pipeline import FastConfig, FastPipeline, seed_roi
from visage.config import Settings


def best_score(det: RetinaFace, rgb: np.ndarray, face: np.ndarray, scale: float, mirror: bool) -> float:
    """The network's best score (from 0.05) on ``face`` at IoU >= 0.5, one pass at ``scale``, optionally mirrored."""
    im = _resize(rgb, scale)
    if mirror:
        im = np.ascontiguousarray(im[:, ::-1])
    width = im.shape[1]
    dets = det.run(im, 0.05)
    if not dets:
        return 0.0
    boxes = np.array([d.box for d in dets], np.float64)
    if mirror:
        boxes = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)
    overlap = iou_matrix(face[None], boxes / scale)[0]
    return float(np.where(overlap >= 0.5, [d.score for d in dets], 0.0).max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--render", type=Path)
    args = ap.parse_args()
    pipe = FastPipeline.from_settings(Settings(), FastConfig())
    det: RetinaFace = pipe.detector
    low = RetinaFace(det.session, det.policy, 0.3, det.nms_iou)
    photos, _ = load_groups()
    if args.render:
        args.render.mkdir(parents=True, exist_ok=True)
    missed = total = 0
    for photo in photos:
        rgb = photo.rgb
        kept = pipe.landmarks(rgb, pipe.detect(rgb))
        boxes = np.array([d.box for d, _ in kept], np.float64).reshape(-1, 4)
        found = iou_matrix(photo.faces, boxes).max(axis=1) if len(boxes) else np.zeros(len(photo.faces))
        cands = low.detect(rgb)
        meshes = pipe.mesh.run(rgb, [seed_roi(d, *det.mesh_roi) for d in cands]) if cands else []
        scale = det.fine_scale(max(rgb.shape[:2]))
        for k, face in enumerate(photo.faces):
            if face[3] - face[1] < 20:
                continue
            total += 1
            if found[k] >= 0.5:
                continue
            missed += 1
            hard = ", hard" if photo.hard[k] else ""
            line = f"- {photo.name} {face.astype(int).tolist()} ({face[3] - face[1]:.0f} px{hard}):"
            overlap = iou_matrix(face[None], np.array([d.box for d in cands]))[0] if cands else np.zeros(1)
            j = int(overlap.argmax())
            if overlap[j] < 0.3:
                line += " no box from score 0.3 overlaps it (IoU >= 0.3);"
            else:
                line += (f" best box IoU {overlap[j]:.2f} score {cands[j].score:.2f} mesh {meshes[j].score:.2f}"
                         f" trusted {det.trusts(cands[j])};")
            views = {f"{f:g}x{' mirrored' if m else ''}": best_score(det, rgb, face, f * scale, m)
                     for f in (1.0, 1.5, 2.0) for m in (False, True)}
            line += " network's best on it: " + ", ".join(f"{k} {v:.2f}" for k, v in views.items())
            print(line, flush=True)
            if args.render:
                bgr = np.ascontiguousarray(rgb[:, :, ::-1]).copy()
                for other in photo.faces.astype(int):
                    cv2.rectangle(bgr, tuple(other[:2]), tuple(other[2:]), (0, 255, 0), 1)
                x0, y0, x1, y1 = face.astype(int)
                cv2.rectangle(bgr, (x0, y0), (x1, y1), (0, 0, 255), 2)
                side = 2 * max(x1 - x0, y1 - y0)
                f = 400 / (2 * side)
                warp = np.float32([[f, 0, 200 - f * (x0 + x1) / 2], [0, f, 200 - f * (y0 + y1) / 2]])
                cv2.imwrite(str(args.render / f"miss{missed:02d}.png"), cv2.warpAffine(bgr, warp, (400, 400)))
    print(f"\n{missed} of {total} faces of 20 px or more missed (recall {(total - missed) / total:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
