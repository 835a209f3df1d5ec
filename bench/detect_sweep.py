"""Gate and threshold sweep over cached RetinaFace detections (bench/detect_cache.py), without the network.

    python bench/detect_cache.py --side 1024 --out /tmp/d1024.pkl            # once per input-size policy
    python bench/detect_sweep.py /tmp/d1024.pkl [/tmp/d768.pkl ...] [--losses]

Per cache and rule: WIDER's even-indexed half (where rules are chosen) and odd-indexed half (where they are
checked), recall of faces under 24 px and of 24 px and more, precision (bench_detect's protocol: IoU >= 0.5 with
the detector's box, greedy by score, ignore regions and ``invalid`` faces excepted); the annotated group photos
(recall of faces of 20 px and more, precision, face-free crops with a box); and the mask set (eval/mask: share
of the labelled faces found, IoU >= 0.3 with the box the pipeline reports, as bench/eval_attributes.py counts
them). Rules: ``raw T`` keeps detections scoring T or more; ``gate M/T`` keeps those scoring 0.7 or more whose
Face Mesh score is at least M or whose detector score reaches T (a number, or by box height as in
``RetinaFace.trusted_scores``). ``--losses`` splits WIDER's missed faces by cause at the default gate.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detect import Photo, Tally, _trusted, match
from visage.analysis.detectors.base import iou_matrix
from visage.analysis.detectors.retinaface import RetinaFace

Rule = Callable[[dict], np.ndarray]
SIZE_RULE = RetinaFace.trusted_scores


def raw(threshold: float) -> Rule:
    return lambda p: p["scores"] >= threshold


def gate(trust, mesh_min: float = 0.5, floor: float = 0.7) -> Rule:
    return lambda p: (p["scores"] >= floor) & ((p["mesh"] >= mesh_min) | _trusted(p["boxes"], p["scores"], trust))


def mesh_sure(rule: Rule, floor: float, mesh_min: float) -> Rule:
    """``rule``, plus detections scoring ``floor`` or more that Face Mesh is sure of (``mesh_min``)."""
    return lambda p: rule(p) | ((p["scores"] >= floor) & (p["mesh"] >= mesh_min))


DEFAULT_RULE = mesh_sure(gate(SIZE_RULE), *RetinaFace.mesh_sure)   # the fast pipeline's (fast_pipeline._keeps)

RULES: dict[str, Rule] = {
    "raw 0.7": raw(0.7),
    "raw 0.5": raw(0.5),
    "gate 0.5/0.8 (size-blind, before)": gate(0.8),
    "gate 0.5/0.75": gate(0.75),
    "gate 0.5/by size": gate(SIZE_RULE),
    "gate 0.5/0.8, 0.75 for 24-48 px": gate(((24.0, 0.8), (48.0, 0.75), (1e9, 0.8))),
    "gate 0.5/0.8, 0.6 for 24-48, 0.95 above": gate(((24.0, 0.8), (48.0, 0.6), (1e9, 0.95)), floor=0.6),
    "gate 0.5/by size, or score >= 0.5 and mesh >= 0.95 (default)": DEFAULT_RULE,
    "gate 0.5/by size, or score >= 0.5 and mesh >= 0.9": mesh_sure(gate(SIZE_RULE), 0.5, 0.9),
    "gate 0.5/by size, or score >= 0.4 and mesh >= 0.95": mesh_sure(gate(SIZE_RULE), 0.4, 0.95),
}


def evaluate(photos: list[dict], rule: Rule, mesh_box: bool = False, iou_min: float = 0.5,
             min_height: float = 0.0) -> tuple[Tally, int]:
    t, boxes_on_negatives = Tally(), 0
    for p in photos:
        keep = rule(p) if len(p["scores"]) else np.zeros(0, bool)
        boxes = p["boxes"][keep]
        if mesh_box:   # the pipeline's reported box: the mesh's bounds where the mesh found the face
            boxes = np.where((p["mesh"][keep] >= 0.5)[:, None], p["mesh_boxes"][keep], boxes)
        if p.get("negative"):
            boxes_on_negatives += int(keep.sum())
            continue
        faces = p["faces"]
        sel = (faces[:, 3] - faces[:, 1]) >= min_height
        match(Photo(p["name"], None, faces[sel], p.get("ignore", np.zeros((0, 4)))), boxes, p["scores"][keep], t,
              iou_min)
    return t, boxes_on_negatives


def summary(cache: dict, rule: Rule) -> str:
    cells = []
    for half in (0, 1):
        t, _ = evaluate(cache["wider"][half::2], rule)
        cells += [f"{t.recall(0, 1):.3f}", f"{t.recall(1):.3f}", f"{t.precision:.3f}"]
    if "groups" in cache:
        g, negatives = evaluate(cache["groups"], rule, min_height=20)
        g_all, _ = evaluate(cache["groups"], rule)
        cells += [f"{g.recall():.3f}", f"{g_all.precision:.3f}", str(negatives)]
    if "mask" in cache:
        m, _ = evaluate(cache["mask"], rule, mesh_box=True, iou_min=0.3)
        cells += [f"{m.recall():.3f}"]
    return " | ".join(cells)


def losses(cache: dict) -> None:
    """WIDER faces by cause of loss at the default gate (detector box IoU >= 0.5; best-scored match)."""
    print("\n| half | face height | faces | no box at score 0.3 | box scoring 0.3-0.7 | dropped by the gate | kept |")
    print("|---|---|---|---|---|---|---|")
    for half in (0, 1):
        for lo, hi in ((0, 24), (24, 48), (48, 1e9)):
            counts = np.zeros(4, int)
            for p in cache["wider"][half::2]:
                f = p["faces"]
                h = f[:, 3] - f[:, 1]
                sel = (h >= lo) & (h < hi)
                if not sel.any():
                    continue
                kept = DEFAULT_RULE(p) if len(p["scores"]) else np.zeros(0, bool)
                ious = iou_matrix(f[sel], p["boxes"]) if len(p["boxes"]) else np.zeros((int(sel.sum()), 1))
                for r in ious:
                    ok = r >= 0.5
                    if not ok.any():
                        counts[0] += 1
                    elif p["scores"][ok].max() < 0.7:
                        counts[1] += 1
                    elif not kept[ok].any():
                        counts[2] += 1
                    else:
                        counts[3] += 1
            span = f"{lo}-{hi:g}" if hi < 1e9 else f">= {lo}"
            cells = " | ".join(map(str, counts))
            print(f"| {'even' if half == 0 else 'odd'} | {span} | {counts.sum()} | {cells} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("caches", nargs="+", type=Path)
    ap.add_argument("--losses", action="store_true")
    args = ap.parse_args()
    print("| cache | rule | even <24 | even >=24 | even P | odd <24 | odd >=24 | odd P | groups >=20 | groups P"
          " | face-free with a box | mask found |")
    print("|" + "---|" * 12)
    for path in args.caches:
        cache = pickle.loads(path.read_bytes())
        for name, rule in RULES.items():
            print(f"| {path.stem} | {name} | {summary(cache, rule)} |")
        if args.losses:
            losses(cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
