"""Detection benchmark: visage's detectors against face_recognition's, same run, same images.

    python bench/bench_detect.py [--wider N] [--cnn 5] [--policies 640,800,1024,1280,0] [--json out.json]

Sets (both under ../shared/fixtures, evaluation only):
* ``eval/widerface``: WIDER FACE validation photos with the official boxes (``wider_face_val_bbx_gt.txt``);
  faces flagged ``invalid`` are ignore regions;
* the annotated group photos of ``tests/data/detection_annotations.json`` (calib/_groups, faces/scenes,
  faces/two_people.jpg): 'hard' faces count in recall, 'ignore' regions count neither way; its face-free
  crops must get no box.

Protocol: a detection is right when its IoU with a not yet matched face is >= 0.5 (greedy, best score
first); a detection lying mostly (>= 0.5 of its area) inside an ignore region, or matching an invalid
face, is dropped; every other detection is a false positive. Recall is given per face-size bucket (face
height in pixels: < 24, 24-48, 48-96, > 96; WIDER's h, the annotation's y1 - y0), precision over all
detections. Time: wall time of the contender's call per image, summed, over the summed megapixels of the
images (ms per megapixel); contenders alternate image by image, so background load hits all alike. Then "ms for
a 1-megapixel photo": the default detector on ``--one-mp`` photos of each set rescaled to 1 MP (best of 3 calls)
against face_recognition's HOG on the same copies.

Box conventions. RetinaFace was trained on WIDER FACE and its box is WIDER's (hairline or forehead to
chin, cheek to cheek): compared as it is. The fast pipeline's face box is the Face Mesh's bounds (or the
detector's box where the mesh did not find the face) and dlib's boxes (face_recognition) are tighter
(eyebrows to chin): for those, a ``mapped`` row also applies the box mapping measured on the other half of
WIDER (two-fold: centre shift and size ratio as medians over faces matched at IoU >= 0.3 on the even
images apply to the odd ones and the other way round; on the group photos the mapping of all of WIDER),
and the mapping is printed. WIDER's easy/medium/hard AP needs the official per-face difficulty lists
(``wider_*_val.mat``), which the fixtures do not hold: not reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from visage.analysis.detectors.base import iou_matrix
from visage.analysis.detectors.retinaface import RetinaFace, SizePolicy
from visage.analysis.fast_pipeline import FastConfig, FastPipeline, build_detector
from visage.config import Settings
from visage.imaging.decode import load_image

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
WIDER = FIXTURES / "eval" / "widerface"
ANNOTATIONS = ROOT / "tests" / "data" / "detection_annotations.json"
BUCKETS = ((0, 24), (24, 48), (48, 96), (96, 1e9))
BUCKET_NAMES = ("<24", "24-48", "48-96", ">96")


@dataclass
class Photo:
    """One evaluated image: faces (N x 4, x0 y0 x1 y1), which are hard, ignore regions (M x 4)."""

    name: str
    rgb: np.ndarray
    faces: np.ndarray
    ignore: np.ndarray
    hard: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def megapixels(self) -> float:
        return self.rgb.shape[0] * self.rgb.shape[1] / 1e6


def load_wider(limit: int | None) -> list[Photo]:
    lines = (WIDER / "wider_face_val_bbx_gt.txt").read_text().split("\n")
    photos, i = [], 0
    while i < len(lines) and lines[i].strip():
        name, count = lines[i].strip(), int(lines[i + 1])
        rows = [list(map(int, lines[i + 2 + k].split())) for k in range(max(count, 1))][:count]
        i += 2 + max(count, 1)
        path = WIDER / "images" / name
        if not path.is_file():
            continue
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, *_ in rows], np.float64).reshape(-1, 4)
        invalid = np.array([r[7] == 1 for r in rows], bool)
        photos.append(Photo(name, load_image(path.read_bytes()).rgb, boxes[~invalid], boxes[invalid]))
        if limit and len(photos) >= limit:
            break
    return photos


def load_groups() -> tuple[list[Photo], list[Photo]]:
    doc = json.loads(ANNOTATIONS.read_text())
    photos = []
    for p in doc["photos"]:
        rgb = load_image((FIXTURES / p["image"]).read_bytes()).rgb
        faces = np.array([f["box"] for f in p["faces"]], np.float64).reshape(-1, 4)
        hard = np.array([bool(f.get("hard")) for f in p["faces"]], bool)
        photos.append(Photo(p["image"], rgb, faces, np.array(p["ignore"], np.float64).reshape(-1, 4), hard))
    negatives = []
    for n in doc["negatives"]:
        x0, y0, x1, y1 = n["crop"]
        rgb = np.ascontiguousarray(load_image((FIXTURES / n["image"]).read_bytes()).rgb[y0:y1, x0:x1])
        negatives.append(Photo(f"{n['image']}[{x0},{y0},{x1},{y1}]", rgb, np.zeros((0, 4)), np.zeros((0, 4))))
    return photos, negatives


# -- matching ---------------------------------------------------------------------------------

@dataclass
class Tally:
    """Counts of one contender on one set."""

    found: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), int))
    total: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), int))
    tp: int = 0
    fp: int = 0
    seconds: float = 0.0
    megapixels: float = 0.0
    missed: list[str] = field(default_factory=list)

    def recall(self, lo: int = 0, hi: int = len(BUCKETS)) -> float:
        t = self.total[lo:hi].sum()
        return float(self.found[lo:hi].sum() / t) if t else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def ms_per_mp(self) -> float:
        return 1000 * self.seconds / self.megapixels if self.megapixels else float("nan")


def match(photo: Photo, boxes: np.ndarray, scores: np.ndarray, tally: Tally, iou_min: float = 0.5) -> None:
    """Add one image's outcome to ``tally`` (protocol in the module docstring)."""
    faces = photo.faces
    heights = faces[:, 3] - faces[:, 1]
    bucket = np.searchsorted([b[1] for b in BUCKETS], heights, side="right")
    bucket = np.minimum(bucket, len(BUCKETS) - 1)
    matched = np.zeros(len(faces), bool)
    order = np.argsort(-scores)
    ious = iou_matrix(boxes, faces) if len(faces) and len(boxes) else np.zeros((len(boxes), len(faces)))
    for i in order:
        cand = np.where(matched, -1.0, ious[i]) if len(faces) else np.zeros(0)
        if len(cand) and cand.max() >= iou_min:
            matched[int(cand.argmax())] = True
            tally.tp += 1
        elif not _ignored(boxes[i], photo.ignore):
            tally.fp += 1
    for b in range(len(BUCKETS)):
        tally.total[b] += int((bucket == b).sum())
        tally.found[b] += int((matched & (bucket == b)).sum())
    tally.missed += [f"{photo.name}:{faces[k].astype(int).tolist()}" for k in np.nonzero(~matched)[0]
                     if heights[k] >= 20]


def _ignored(box: np.ndarray, regions: np.ndarray) -> bool:
    if not len(regions):
        return False
    ix = np.clip(np.minimum(box[2], regions[:, 2]) - np.maximum(box[0], regions[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], regions[:, 3]) - np.maximum(box[1], regions[:, 1]), 0, None)
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return bool((ix * iy / area).max() >= 0.5)


# -- box mapping ------------------------------------------------------------------------------

def fit_mapping(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Median (dcx/w, dcy/h, gt_w/w, gt_h/h) over (detection, face) pairs; identity when there are none."""
    rows = []
    for boxes, faces in pairs:
        if not len(boxes) or not len(faces):
            continue
        ious = iou_matrix(boxes, faces)
        for i, j in zip(*np.nonzero(ious >= 0.3), strict=True):
            if ious[i, j] < ious[:, j].max() or ious[i, j] < ious[i].max():
                continue
            d, g = boxes[i], faces[j]
            w, h = d[2] - d[0], d[3] - d[1]
            rows.append([((g[0] + g[2]) - (d[0] + d[2])) / 2 / w, ((g[1] + g[3]) - (d[1] + d[3])) / 2 / h,
                         (g[2] - g[0]) / w, (g[3] - g[1]) / h])
    return np.median(np.array(rows), axis=0) if rows else np.array([0.0, 0.0, 1.0, 1.0])


def apply_mapping(boxes: np.ndarray, m: np.ndarray) -> np.ndarray:
    if not len(boxes):
        return boxes
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 + m[0] * w, (boxes[:, 1] + boxes[:, 3]) / 2 + m[1] * h
    nw, nh = w * m[2], h * m[3]
    return np.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], axis=1)


# -- contenders -------------------------------------------------------------------------------

Detect = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
Trust = float | tuple[tuple[float, float], ...]


SWEEP_MIN = 0.5   # RetinaFace contenders run down to this score; thresholds apply when tallying


def retinaface(detector: RetinaFace, policy: SizePolicy, keep: dict | None = None) -> Detect:
    det = RetinaFace(detector.session, policy, SWEEP_MIN, detector.nms_iou)

    def run(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dets = det.detect(rgb)
        if keep is not None:
            keep["last"] = (rgb, dets)
        return (np.array([d.box for d in dets], np.float64).reshape(-1, 4), np.array([d.score for d in dets]))

    return run


def mesh_scores(pipe: FastPipeline, keep: dict) -> Detect:
    """Untimed helper: Face Mesh scores of the detections the previous contender returned (the gate sweep)."""

    def run(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        last_rgb, dets = keep["last"]
        assert last_rgb is rgb
        from visage.analysis.fast_pipeline import seed_roi

        scale, shift = pipe.detector.mesh_roi
        meshes = pipe.mesh.run(rgb, [seed_roi(d, scale, shift) for d in dets]) if dets else []
        boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
        return boxes, np.array([[d.score, m.score] for d, m in zip(dets, meshes, strict=True)]).reshape(-1, 2)

    return run


def pipeline(pipe: FastPipeline) -> Detect:
    """The fast pipeline's detect and landmarks stages: the faces it keeps, with their output boxes."""

    def run(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kept = pipe.landmarks(rgb, pipe.detect(rgb))
        boxes = np.array([pipe.face_box(d, m) for d, m in kept], np.float64).reshape(-1, 4)
        return boxes, np.array([d.score for d, _ in kept])

    return run


def face_recognition_detector(model: str, upsample: int) -> Detect:
    import face_recognition

    def run(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        locs = face_recognition.face_locations(rgb, number_of_times_to_upsample=upsample, model=model)
        boxes = np.array([[left, top, right, bottom] for top, right, bottom, left in locs], np.float64)
        return boxes.reshape(-1, 4), np.ones(len(locs))

    return run


def evaluate(contenders: dict[str, Detect], photos: list[Photo], only: dict[str, int] | None = None
             ) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Every contender on every photo (alternating per photo); raw outputs per contender."""
    outputs: dict[str, list] = {name: [] for name in contenders}
    for k, photo in enumerate(photos):
        for name, run in contenders.items():
            if only and name in only and k >= only[name]:
                outputs[name].append(None)
                continue
            t0 = time.perf_counter()
            boxes, scores = run(photo.rgb)
            outputs[name].append((boxes, scores, time.perf_counter() - t0))
    return outputs


def tally(photos: list[Photo], outs: list, mapping: Callable[[int], np.ndarray] | None = None,
          min_score: float = 0.0, gate: tuple[float, Trust] | None = None) -> Tally:
    """Counts over ``outs``; ``min_score`` drops weaker detections; ``gate`` (mesh, trust) keeps a detection of
    the mesh-score helper when its mesh score is >= mesh or its detector score >= trust."""
    t = Tally()
    for k, (photo, out) in enumerate(zip(photos, outs, strict=True)):
        if out is None:
            continue
        boxes, scores, seconds = out
        if gate is not None:
            keep = (scores[:, 0] >= min_score) & ((scores[:, 1] >= gate[0]) | _trusted(boxes, scores[:, 0], gate[1]))
            boxes, scores = boxes[keep], scores[keep, 0]
        else:
            keep = scores >= min_score
            boxes, scores = boxes[keep], scores[keep]
        if mapping is not None:
            boxes = apply_mapping(boxes, mapping(k))
        match(photo, boxes, scores, t)
        t.seconds += seconds
        t.megapixels += photo.megapixels
    return t


def row(name: str, t: Tally) -> dict[str, object]:
    return {"contender": name, **{f"recall {b}": round(t.recall(i, i + 1), 3) for i, b in enumerate(BUCKET_NAMES)},
            "recall >=24": round(t.recall(1), 3), "recall >=20 (groups)": None, "negatives with a box": None,
            "precision": round(t.precision, 3),
            "tp": t.tp, "fp": t.fp, "faces": int(t.total.sum()), "ms/MP": round(t.ms_per_mp, 1)}


def print_table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n## {title}")
    keys = [k for k in rows[0] if any(r[k] is not None for r in rows)]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wider", type=int, default=0, help="WIDER photos to use (0 = all)")
    ap.add_argument("--groups", type=int, default=0, help="annotated group photos to use (0 = all)")
    ap.add_argument("--wider-offset", type=int, default=0, help="first WIDER photo of the --wider-step subset")
    ap.add_argument("--only", default="", help="comma-separated contender name prefixes to run (default: all)")
    ap.add_argument("--wider-step", type=int, default=1, help="use every Nth WIDER photo (a spread subset)")
    ap.add_argument("--cnn", type=int, default=3, help="photos per set for face_recognition's CNN detector")
    ap.add_argument("--policies", default="768,896,1024,1024a",
                    help="RetinaFace one-pass long-side caps to compare (0 = full resolution; N+ = enlarge to N too;"
                    " Na = INTER_AREA downscaling instead of bilinear)")
    ap.add_argument("--one-mp", type=int, default=12,
                    help="photos per set rescaled to 1 megapixel for the ms-per-1-MP-photo figure (0 = skip)")
    ap.add_argument("--no-peer", action="store_true", help="skip face_recognition (not installed)")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--render", type=Path, help="only draw the annotations on PNGs in this folder (to check by eye)")
    args = ap.parse_args()
    if args.render:
        return render(args.render)

    settings = Settings()
    base = build_detector(FastConfig(detector="retinaface"), settings)
    default_policy = base.policy
    contenders: dict[str, Detect] = {}
    for spec in [c.strip() for c in args.policies.split(",") if c.strip()]:
        # "1024": long side at most 1024 (one pass, bilinear downscale); "1024a": the same with INTER_AREA;
        # "1536+": long side exactly 1536 (small images enlarged)
        cap = int(spec.rstrip("+a"))
        pol = SizePolicy(max_side=cap or 100_000, min_side=cap if spec.endswith("+") else 0, tile_above=10**9,
                         interpolation="area" if spec.endswith("a") else "linear")
        contenders[f"retinaface long side {spec if cap else 'full'}"] = retinaface(base, pol)
    keep: dict = {}
    fast = FastPipeline.from_settings(settings, FastConfig())
    contenders["retinaface default policy"] = retinaface(base, default_policy, keep)
    contenders["(gate sweep, untimed)"] = mesh_scores(fast, keep)
    contenders["fast pipeline (retinaface)"] = pipeline(fast)
    contenders["fast pipeline (blazeface)"] = pipeline(
        FastPipeline.from_settings(settings, FastConfig(detector="blazeface")))
    only = {}
    if not args.no_peer:
        contenders["face_recognition hog"] = face_recognition_detector("hog", 1)   # its default upsampling
        # The CNN (MMOD) at upsample 0: at its default 1 it took 300+ s per megapixel here.
        contenders["face_recognition cnn"] = face_recognition_detector("cnn", 0)
        only["face_recognition cnn"] = args.cnn
    mapped = ("fast pipeline (retinaface)", "fast pipeline (blazeface)", "face_recognition hog", "face_recognition cnn")

    print(f"# bench_detect on {platform.node()} ({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d %H:%M')}")
    wider = load_wider(args.wider or None)[args.wider_offset::args.wider_step]
    if args.only:
        prefixes = tuple(p.strip() for p in args.only.split(","))
        contenders = {k: v for k, v in contenders.items() if k.startswith(prefixes)}
    groups, negatives = load_groups()
    groups = groups[:args.groups or None]
    print(f"WIDER: {len(wider)} photos, {sum(len(p.faces) for p in wider)} faces; groups: {len(groups)} photos,"
          f" {sum(len(p.faces) for p in groups)} faces; negatives: {len(negatives)} crops")
    report: dict[str, object] = {"default_policy": default_policy.__dict__ if hasattr(default_policy, "__dict__")
                                 else str(default_policy)}

    out_w = evaluate(contenders, wider, only)
    out_g = evaluate(contenders, groups, only)
    out_n = evaluate(contenders, negatives, only)
    rows_w, rows_g, mappings = [], [], {}
    threshold = base.min_score
    for name in contenders:
        if name.startswith("(gate"):
            continue
        floor = threshold if name.startswith("retinaface") else 0.0
        label = f"{name} @{floor}" if floor else name
        rows_w.append(row(label, tally(wider, out_w[name], min_score=floor)))
        rg = row(label, tally(groups, out_g[name], min_score=floor))
        rg["recall >=20 (groups)"] = round(_recall_at_least(groups, out_g[name], 20, min_score=floor), 3)
        rg["negatives with a box"] = sum(1 for o in out_n[name] if o is not None and (o[1] >= floor).any())
        rows_g.append(rg)
        if name == "retinaface default policy":
            for other in (0.5, 0.6, 0.8, 0.9):
                rows_w.append(row(f"{name} @{other}", tally(wider, out_w[name], min_score=other)))
                rg = row(f"{name} @{other}", tally(groups, out_g[name], min_score=other))
                rg["recall >=20 (groups)"] = round(_recall_at_least(groups, out_g[name], 20, min_score=other), 3)
                rg["negatives with a box"] = sum(1 for o in out_n[name] if o is not None and (o[1] >= other).any())
                rows_g.append(rg)
            sweep = "(gate sweep, untimed)"
            by_size = RetinaFace.trusted_scores
            for det_min, mesh_min, trust in ((0.7, 0.5, 0.9), (0.7, 0.5, 0.8), (0.7, 0.5, 0.75), (0.6, 0.5, 0.8),
                                             (0.7, 0.5, by_size), (0.7, 0.5, ((24.0, 0.8), (48.0, 0.75), (1e9, 0.8))),
                                             (0.7, 0.5, ((24.0, 0.8), (48.0, 0.7), (1e9, 0.95)))):
                shown = trust if isinstance(trust, float) else "/".join(
                    f"{sc}{'' if below > 1e8 else f' <{below:g}px'}" for below, sc in trust)
                gname = f"gate: det >= {det_min}, mesh >= {mesh_min} or det >= {shown}"
                gw = tally(wider, out_w[sweep], min_score=det_min, gate=(mesh_min, trust))
                gg = tally(groups, out_g[sweep], min_score=det_min, gate=(mesh_min, trust))
                rows_w.append({**row(gname, gw), "ms/MP": None})
                rg = {**row(gname, gg), "ms/MP": None}
                gated = [None if o is None else _gated(o, det_min, mesh_min, trust) for o in out_g[sweep]]
                rg["recall >=20 (groups)"] = round(_recall_at_least(groups, gated, 20), 3)
                rg["negatives with a box"] = sum(1 for o in out_n[sweep] if o is not None and len(o[1]) and (
                    (o[1][:, 0] >= det_min) & ((o[1][:, 1] >= mesh_min) | _trusted(o[0], o[1][:, 0], trust))).any())
                rows_g.append(rg)
        if name in mapped:
            halves = [[(o[0], p.faces) for k, (p, o) in enumerate(zip(wider, out_w[name], strict=True))
                       if o is not None and k % 2 == h] for h in (0, 1)]
            m_even, m_odd = fit_mapping(halves[0]), fit_mapping(halves[1])
            m_all = fit_mapping(halves[0] + halves[1])
            mappings[name] = m_all.round(3).tolist()
            # Two-fold: each half of WIDER is scored with the mapping fitted on the other half.
            rows_w.append(row(f"{name} mapped", tally(wider, out_w[name], _cross(m_even, m_odd))))
            rg = row(f"{name} mapped", tally(groups, out_g[name], lambda k, m=m_all: m))
            rg["recall >=20 (groups)"] = round(_recall_at_least(groups, out_g[name], 20, m_all), 3)
            rg["negatives with a box"] = rows_g[-1]["negatives with a box"]
            rows_g.append(rg)
    print_table("WIDER FACE validation (eval/widerface)", rows_w)
    print_table("annotated group photos (tests/data/detection_annotations.json)", rows_g)
    print("\n## box mappings to WIDER's convention (dcx/w, dcy/h, w ratio, h ratio; all WIDER)")
    for name, m in mappings.items():
        print(f"- {name}: {m}")
    hog = next((r for r in rows_w if r["contender"] == "face_recognition hog"), None)
    if hog:
        print("\n## ratios to face_recognition hog (same run)")
        for r in rows_w:
            name = str(r["contender"])
            if name.endswith(f"@{threshold}") or name in ("fast pipeline (retinaface)", "fast pipeline (blazeface)"):
                print(f"- {name}: WIDER ms/MP {r['ms/MP']} vs {hog['ms/MP']} ({hog['ms/MP'] / r['ms/MP']:.2f}x"
                      f" faster); recall >=24 {r['recall >=24']} vs {hog['recall >=24']}")
    if args.one_mp:
        report["one_megapixel"] = one_megapixel(base, wider, groups, args.one_mp, not args.no_peer)
    missed = tally(groups, out_g["fast pipeline (retinaface)"]).missed if "fast pipeline (retinaface)" in out_g else []
    print(f"\ngroup faces >= 20 px the default pipeline missed: {missed or 'none'}")
    if args.json:
        report.update({"wider": rows_w, "groups": rows_g, "mappings": mappings, "missed": missed})
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


def to_one_megapixel(rgb: np.ndarray) -> np.ndarray:
    """The photo rescaled (aspect kept) to 1,000,000 pixels, give or take rounding."""
    h, w = rgb.shape[:2]
    f = (1e6 / (h * w)) ** 0.5
    return cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def one_megapixel(detector: RetinaFace, wider: list[Photo], groups: list[Photo], n: int, peer: bool) -> dict:
    """ms per photo of the default detector (its whole ``detect``: resize, network, decoding, NMS) on 1-MP copies
    of ``n`` photos of each set, the best of 3 calls per photo (the least disturbed by other processes),
    face_recognition's HOG on the same copies alternating photo by photo (one call each: it is slow)."""
    contenders: dict[str, Detect] = {"retinaface default": lambda rgb: (detector.detect(rgb), None)}
    if peer:
        contenders["face_recognition hog"] = face_recognition_detector("hog", 1)
    out: dict[str, dict[str, float]] = {}
    print("\n## ms for a 1-megapixel photo (default detector; best of 3 per photo; HOG one call)")
    for set_name, photos in (("WIDER", wider), ("groups", groups)):
        step = max(1, len(photos) // n)
        copies = [to_one_megapixel(p.rgb) for p in photos[::step][:n]]
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for rgb in copies:
            for name, run in contenders.items():
                best = float("inf")
                for _ in range(3 if name.startswith("retinaface") else 1):
                    t0 = time.perf_counter()
                    run(rgb)
                    best = min(best, time.perf_counter() - t0)
                times[name].append(best)
        out[set_name] = {k: round(1000 * float(np.mean(v)), 1) for k, v in times.items()}
        line = ", ".join(f"{k} {v} ms" for k, v in out[set_name].items())
        ratio = ""
        if peer:
            ratio = f" ({out[set_name]['face_recognition hog'] / out[set_name]['retinaface default']:.1f}x faster)"
        print(f"- {set_name}, {len(copies)} photos at 1 MP: {line}{ratio}")
    return out


def render(folder: Path) -> int:
    """Annotated faces (green; hard: orange), ignore regions (grey) and the face-free crops, as PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    photos, negatives = load_groups()
    for k, p in enumerate(photos):
        bgr = np.ascontiguousarray(p.rgb[:, :, ::-1])
        for box, hard in zip(p.faces.astype(int), p.hard, strict=True):
            cv2.rectangle(bgr, tuple(box[:2]), tuple(box[2:]), (0, 165, 255) if hard else (0, 255, 0), 2)
        for box in p.ignore.astype(int):
            cv2.rectangle(bgr, tuple(box[:2]), tuple(box[2:]), (128, 128, 128), 2)
        cv2.imwrite(str(folder / f"photo{k:02d}.png"), bgr)
    for k, n in enumerate(negatives):
        cv2.imwrite(str(folder / f"negative{k}.png"), np.ascontiguousarray(n.rgb[:, :, ::-1]))
    print(f"{len(photos)} photos and {len(negatives)} face-free crops drawn in {folder}")
    return 0


def _trusted(boxes: np.ndarray, det_scores: np.ndarray, trust: Trust) -> np.ndarray:
    """Which detections the trust rule keeps whatever the mesh says: one score, or (below height, score) rows
    (RetinaFace.trusted_scores' form)."""
    rule = ((float("inf"), trust),) if isinstance(trust, float | int) else trust
    heights = boxes[:, 3] - boxes[:, 1]
    need = np.array([next(sc for below, sc in rule if h < below) for h in heights])
    return det_scores >= need if len(heights) else np.zeros(0, bool)


def _gated(out: tuple, det_min: float, mesh_min: float, trust: Trust) -> tuple:
    """A mesh-score helper output reduced to the detections the gate keeps (boxes, detector scores, time)."""
    boxes, scores, seconds = out
    keep = (scores[:, 0] >= det_min) & ((scores[:, 1] >= mesh_min) | _trusted(boxes, scores[:, 0], trust))
    return boxes[keep], scores[keep, 0], seconds


def _cross(m_even: np.ndarray, m_odd: np.ndarray) -> Callable[[int], np.ndarray]:
    """Image k's mapping: the one fitted on the half it is not in."""
    return lambda k: m_odd if k % 2 == 0 else m_even


def _recall_at_least(photos: list[Photo], outs: list, min_height: float, m: np.ndarray | None = None,
                     min_score: float = 0.0) -> float:
    found = total = 0
    for photo, out in zip(photos, outs, strict=True):
        if out is None:
            continue
        keep = (photo.faces[:, 3] - photo.faces[:, 1]) >= min_height
        sub = Photo(photo.name, photo.rgb, photo.faces[keep], photo.ignore)
        t = Tally()
        strong = out[1] >= min_score
        boxes = out[0][strong]
        match(sub, boxes if m is None else apply_mapping(boxes, m), out[1][strong], t)
        found += int(t.found.sum())
        total += int(t.total.sum())
    return found / total if total else float("nan")


if __name__ == "__main__":
    sys.exit(main())
