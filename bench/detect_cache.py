"""Cache RetinaFace's raw detections (down to a low score) with their Face Mesh scores, so gates and
thresholds can be swept offline without rerunning the network.

    python bench/detect_cache.py --side 1024 --out /tmp/det1024.pkl [--sets wider,groups,mask]

Each photo's record: ground truth (faces, ignore regions, hard flags), and per detection its box, score,
five points and mesh score. Evaluation sets only (../shared/fixtures/eval, the annotated group photos).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detect import FIXTURES, load_groups, load_wider
from visage.analysis.detectors.retinaface import RetinaFace, SizePolicy
from visage.analysis.fast_pipeline import FastConfig, FastPipeline, seed_roi
from visage.config import Settings
from visage.imaging.decode import load_image

MASK = FIXTURES / "eval" / "mask"


def load_mask() -> list[dict]:
    out = []
    for a in sorted((MASK / "annotations").glob("*.xml")):
        img = next((MASK / "images").glob(a.stem + ".*"))
        boxes, labels = [], []
        for obj in ET.parse(a).getroot().iter("object"):
            bb = obj.find("bndbox")
            boxes.append([float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")])
            labels.append(obj.find("name").text)
        out.append({"name": a.stem, "rgb": load_image(img.read_bytes()).rgb,
                    "faces": np.array(boxes, np.float64).reshape(-1, 4), "labels": labels})
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=1024)
    ap.add_argument("--min-side", type=int, default=0)
    ap.add_argument("--interp", default="area", choices=["area", "linear"])
    ap.add_argument("--coarse", type=int, default=0, help="coarse pass long side (0 = off)")
    ap.add_argument("--min-score", type=float, default=0.3)
    ap.add_argument("--sets", default="wider,groups,mask")
    ap.add_argument("--flip-check", type=float, default=SizePolicy().flip_check_score,
                    help="flip check confirming score (0 = flip check off)")
    ap.add_argument("--flip-from", type=float, default=SizePolicy().flip_check_from)
    ap.add_argument("--flip-context", type=float, default=SizePolicy().flip_check_context)
    ap.add_argument("--flip-crop", type=int, default=SizePolicy().flip_check_crop)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    pipe = FastPipeline.from_settings(Settings(), FastConfig())
    base = pipe.detector
    det = RetinaFace(base.session, SizePolicy(max_side=args.side, min_side=args.min_side, interpolation=args.interp,
                                              coarse_side=args.coarse, flip_check_score=args.flip_check or 1.0,
                                              flip_check_from=args.flip_from if args.flip_check else 0.0,
                                              flip_check_context=args.flip_context, flip_check_crop=args.flip_crop),
                     args.min_score, base.nms_iou)
    scale, shift = base.mesh_roi
    result: dict[str, list[dict]] = {}
    sets = args.sets.split(",")
    for s in sets:
        if s == "wider":
            photos = [{"name": p.name, "rgb": p.rgb, "faces": p.faces, "ignore": p.ignore} for p in load_wider(None)]
        elif s == "groups":
            g, n = load_groups()
            photos = [{"name": p.name, "rgb": p.rgb, "faces": p.faces, "ignore": p.ignore, "hard": p.hard} for p in g]
            photos += [{"name": p.name, "rgb": p.rgb, "faces": p.faces, "ignore": p.ignore, "negative": True}
                       for p in n]
        else:
            photos = load_mask()
        t_all = 0.0
        for p in photos:
            rgb = p.pop("rgb")
            t0 = time.perf_counter()
            dets = det.detect(rgb)
            t_all += time.perf_counter() - t0
            meshes = pipe.mesh.run(rgb, [seed_roi(d, scale, shift) for d in dets]) if dets else []
            p["shape"] = rgb.shape[:2]
            p["boxes"] = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
            p["scores"] = np.array([d.score for d in dets])
            p["points5"] = np.array([d.points5 for d in dets], np.float64).reshape(-1, 5, 2)
            p["mesh"] = np.array([m.score for m in meshes])
            p["mesh_boxes"] = np.array([[m.points[:, 0].min(), m.points[:, 1].min(), m.points[:, 0].max(),
                                         m.points[:, 1].max()] for m in meshes], np.float64).reshape(-1, 4)
        result[s] = photos
        print(f"{s}: {len(photos)} photos, detect {1000 * t_all / len(photos):.1f} ms/photo", flush=True)
    args.out.write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
