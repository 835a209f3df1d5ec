"""Benchmark: every visage embedder and face_recognition on LFW View 2 and calib/, in one run.

    PYTHONPATH=src nice python bench/bench_lfw.py [--embedders all|a,b] [--folds 1-10] [--fr-folds 1]
                                                   [--cache /tmp/rec-cache] [--json bench/results/bench_lfw.json]

Per contender:
* LFW View 2 ten-fold accuracy (mean +- sd; per fold the threshold of best accuracy on the other nine),
  and accuracy at the engine's default threshold (similarity 0.5 of src/visage/data/calibration.json,
  set on calib/ before LFW is scored);
* TAR at FAR 1e-3 and 1e-4, the threshold read on calib/'s ~34k impostor pairs and the TAR on its
  ~540 genuine pairs; the FAR at the default threshold on the same impostors;
* images without a face (LFW and calib), and ms per face of the embed stage on a fixed sample of LFW
  images (``--timing-sample``, uncached, same run): wall and process CPU time (CPU time is what a loaded
  shared machine still reads right; on an idle machine the wall time on 2 threads is about half of it).
  face_recognition is timed per image (detect + encode) on a quarter of that sample.

visage's embedders all run on the same alignment points (the default fast pipeline's detector and
Face Mesh; the face nearest the centre of an LFW image, the largest holding the centre of a calib/ photo:
recognition_sets.choose_face, the same rule for face_recognition). face_recognition (dlib's HOG detector,
5-point chip and ResNet, the library's own pipeline) takes about 1 s per image here, so it runs on
the folds ``--fr-folds`` names (default: fold 1, 600 pairs) and on calib/; every visage contender is
also scored on those same folds at its default threshold, the like-for-like column. Templates are
cached (``--cache``), so a re-run only computes what changed. ``--pairs-per-fold N`` keeps the first N
genuine and first N impostor pairs of every fold (a fixed, balanced subset on which the ten-fold protocol
still runs) when the whole set does not fit the time at hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from recognition_sets import (
    CALIB,
    LFW,
    VisageFaces,
    accuracy_at,
    calib_images,
    calib_pairs,
    choose_face,
    embed_cached,
    lfw_pairs,
    pair_scores,
    tar_at_far,
    tenfold,
    time_embedder,
)

#: LFW's images are cut around the named person's face: the face nearest the centre is theirs.
LFW_FACE_RULE = "centred"
PUBLISHED = {"dlib": "99.38 (dlib's own detector and alignment)", "face_recognition": "99.38",
             "mobilefacenet-tflite": "99.4-99.5 (MobileFaceNet class, MS1M)"}


def parse_folds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out += list(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return out


def face_recognition_templates(root: Path, rel: list[str], cache: Path,
                               timings: list[float]) -> dict[str, np.ndarray | None]:
    """face_recognition's own pipeline (HOG detector, upsample 1; 5-point chip; ResNet), cached."""
    import face_recognition as fr

    cache.mkdir(parents=True, exist_ok=True)
    rule = LFW_FACE_RULE if root == LFW else "largest"
    stem = root.name if rule == "largest" else f"{root.name}-{rule}"
    path = cache / f"{stem}-face_recognition.npz"
    known = dict(np.load(path)) if path.is_file() else {}
    none_path = cache / f"{stem}-face_recognition-none.json"
    none = set(json.loads(none_path.read_text())) if none_path.is_file() else set()
    todo = [r for r in rel if r not in known and r not in none]
    for n, r in enumerate(todo, 1):
        t0 = time.perf_counter()
        img = fr.load_image_file(str(root / r))
        locs = fr.face_locations(img)
        boxes = [(float(lft), float(top), float(rgt), float(bot)) for top, rgt, bot, lft in locs]
        i = choose_face(boxes, img.shape[1], img.shape[0], rule)
        if i is None:
            none.add(r)
        else:
            known[r] = np.asarray(fr.face_encodings(img, known_face_locations=[locs[i]])[0], np.float32)
        timings.append((time.perf_counter() - t0) * 1000)
        if n % 100 == 0:
            np.savez(path, **known)
            none_path.write_text(json.dumps(sorted(none)))
            print(f"  face_recognition {root.name}: {n}/{len(todo)}", flush=True)
    if todo:
        np.savez(path, **known)
        none_path.write_text(json.dumps(sorted(none)))
    return {r: known.get(r) for r in rel}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedders", default="all", help="comma-separated names, 'all' or 'none'")
    parser.add_argument("--folds", default="1-10", help="LFW folds for visage (ten-fold needs all ten)")
    parser.add_argument("--pairs-per-fold", type=int, default=300,
                        help="use the first N genuine and first N impostor pairs of every fold (300 = all 6,000)")
    parser.add_argument("--fr-folds", default="1", help="LFW folds for face_recognition ('' = skip it)")
    parser.add_argument("--no-calib-fr", action="store_true", help="skip face_recognition on calib/")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rec-cache"))
    parser.add_argument("--timing-sample", type=int, default=100,
                        help="LFW images every contender is timed on, uncached (face_recognition: a quarter)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    from visage.analysis.embedders import DEFAULT_EMBEDDER, EMBEDDERS, TEMPLATE_MODELS, build_embedder
    from visage.analysis.fast_pipeline import FastPipeline
    from visage.calibration import get_calibration
    from visage.config import Settings
    from visage.errors import ModelUnavailableError

    settings = Settings(pipeline="fast")
    threads = settings.onnx_threads or 2
    names = list(EMBEDDERS) if args.embedders == "all" else [n for n in args.embedders.split(",") if n != "none"]
    folds = parse_folds(args.folds)
    fr_folds = parse_folds(args.fr_folds)
    per = args.pairs_per_fold
    all_pairs = lfw_pairs()
    chosen = {i for i in range(len(all_pairs)) if (i % 600) < per or 300 <= (i % 600) < 300 + per}
    pairs = [p for i, p in enumerate(all_pairs) if p.fold in folds and i in chosen]
    lfw_rel = sorted({r for p in pairs for r in (p.a, p.b)})
    lfw_keys = [(p.a, p.b) for p in pairs]
    same = np.array([p.same for p in pairs])
    fold_of = np.array([p.fold for p in pairs])
    cal = calib_images()
    cal_rel = [r for _, r in cal]
    gen_pairs, imp_pairs = calib_pairs(cal)
    print(f"LFW: {len(pairs)} pairs of folds {args.folds} (first {per} genuine + {per} impostor per fold), "
          f"{len(lfw_rel)} images; calib: {len(cal_rel)} photos, "
          f"{len(gen_pairs)} genuine / {len(imp_pairs)} impostor pairs", flush=True)

    pipe = FastPipeline.from_settings(settings.model_copy(update={"embedder": DEFAULT_EMBEDDER}))
    faces = VisageFaces(pipe, args.cache)
    lfw_points = faces.points(LFW, lfw_rel, LFW_FACE_RULE)
    cal_points = faces.points(CALIB, cal_rel)
    lfw_cache, cache = faces.cache_for(LFW_FACE_RULE), faces.cache
    sample = lfw_rel[:: max(1, len(lfw_rel) // args.timing_sample)][: args.timing_sample]
    rows = []
    for name in names:
        emb = build_embedder(name, settings.models_dir, threads)
        t_lfw = embed_cached(emb, LFW, lfw_points, lfw_cache, [])
        t_cal = embed_cached(emb, CALIB, cal_points, cache, [])
        ms = time_embedder(emb, LFW, lfw_points, sample)
        rows.append(score(name, emb.template_model, emb.dim, t_lfw, t_cal, ms, lfw_keys, same, fold_of,
                          fr_folds, gen_pairs, imp_pairs, get_calibration, ModelUnavailableError))
        print_row(rows[-1])
    if fr_folds:
        fr_pairs = [p for i, p in enumerate(all_pairs) if p.fold in fr_folds and i in chosen]
        fr_all = [p for p in all_pairs if p.fold in fr_folds]  # every pair of those folds, besides the subset
        # in fold order (cached every 100 images), so a run stopped early leaves its first folds complete
        fr_rel = list(dict.fromkeys(r for p in fr_all for r in (p.a, p.b)))
        t_lfw = face_recognition_templates(LFW, fr_rel, args.cache, [])
        t_cal = {} if args.no_calib_fr else face_recognition_templates(CALIB, cal_rel, args.cache, [])
        ms: list[float] = []
        with tempfile.TemporaryDirectory() as fresh:  # uncached: every image of the sample is timed
            face_recognition_templates(LFW, sample[: args.timing_sample // 4], Path(fresh), ms)
        rows.append(score_face_recognition(t_lfw, t_cal, fr_pairs, gen_pairs, imp_pairs, ms))
        whole = pair_scores(t_lfw, [(p.a, p.b) for p in fr_all], lambda a, b: -float(np.linalg.norm(a - b)))
        rows[-1]["lfw_acc_default_fr_folds_all_pairs"] = round(
            100 * accuracy_at(whole, np.array([p.same for p in fr_all]), -0.6), 2)
        rows[-1]["fr_folds_all_pairs"] = len(fr_all)
        print_row(rows[-1])
    detect = statistics.median(faces.detect_ms) if faces.detect_ms else None
    print(f"\nvisage detect+landmarks per image (median, this run; cached images not re-timed): "
          f"{detect if detect is None else round(detect, 1)} ms")
    print(f"alignment source tag {faces.tag} (pipeline models {', '.join(pipe.models())})")
    if args.json:
        args.json.write_text(json.dumps({"folds": args.folds, "fr_folds": args.fr_folds, "pairs_per_fold": per,
                                         "lfw_pairs": len(pairs), "lfw_face_rule": LFW_FACE_RULE,
                                         "detect_ms_per_image": detect, "alignment_tag": faces.tag,
                                         "template_models": TEMPLATE_MODELS, "rows": rows}, indent=1) + "\n")
        print(f"wrote {args.json}")


def score(name, model, dim, t_lfw, t_cal, ms, lfw_keys, same, fold_of, fr_folds, gen_pairs, imp_pairs,
          get_calibration, unavailable) -> dict:
    s = pair_scores(t_lfw, lfw_keys)
    row: dict = {"name": name, "template_model": model, "dim": dim,
                 "lfw_no_face": sum(v is None for v in t_lfw.values()),
                 "calib_no_face": sum(v is None for v in t_cal.values()),
                 "ms_per_face": round(ms[0], 1), "cpu_ms_per_face": round(ms[1], 1)}
    if len(np.unique(fold_of)) == 10:
        mean, sd, _ = tenfold(s, same, fold_of)
        row.update(lfw_tenfold=round(100 * mean, 2), lfw_sd=round(100 * sd, 2))
    try:
        thr = get_calibration(model).cosine_threshold
    except unavailable:
        thr = None
    g, i = pair_scores(t_cal, gen_pairs), pair_scores(t_cal, imp_pairs)
    for far in (1e-3, 1e-4):
        tar, t = tar_at_far(g, i, far)
        row[f"calib_tar_at_far_{far:g}"] = round(tar, 4)
        row[f"calib_threshold_at_far_{far:g}"] = round(t, 4)
    if thr is not None:
        row.update(default_cosine=thr, lfw_acc_default=round(100 * accuracy_at(s, same, thr), 2),
                   calib_far_default=round(float((i >= thr).mean()), 5),
                   calib_frr_default=round(float((g < thr).mean()), 4))
        sub = np.isin(fold_of, fr_folds)
        if sub.any():
            row["lfw_acc_default_fr_folds"] = round(100 * accuracy_at(s[sub], same[sub], thr), 2)
    return row


def score_face_recognition(t_lfw, t_cal, fr_pairs, gen_pairs, imp_pairs, ms) -> dict:
    def neg_dist(a, b):
        return -float(np.linalg.norm(a - b))

    s = pair_scores(t_lfw, [(p.a, p.b) for p in fr_pairs], neg_dist)
    same = np.array([p.same for p in fr_pairs])
    row: dict = {"name": "face_recognition", "template_model": "face_recognition 1.3.0 (dlib ResNet, HOG)",
                 "dim": 128, "lfw_no_face": sum(v is None for v in t_lfw.values()),
                 "calib_no_face": sum(v is None for v in t_cal.values()) if t_cal else None,
                 "ms_per_image": round(statistics.median(ms), 1) if ms else None, "images_timed": len(ms),
                 "default_rule": "distance <= 0.6", "lfw_acc_default_fr_folds": round(
                     100 * accuracy_at(s, same, -0.6), 2)}
    fold_of = np.array([p.fold for p in fr_pairs])
    if len(np.unique(fold_of)) == 10:  # --fr-folds 1-10: the published protocol, as for visage's rows
        mean, sd, _ = tenfold(s, same, fold_of)
        row.update(lfw_tenfold=round(100 * mean, 2), lfw_sd=round(100 * sd, 2),
                   lfw_acc_default=row["lfw_acc_default_fr_folds"])
    if t_cal:
        g, i = pair_scores(t_cal, gen_pairs, neg_dist), pair_scores(t_cal, imp_pairs, neg_dist)
        for far in (1e-3, 1e-4):
            row[f"calib_tar_at_far_{far:g}"] = round(tar_at_far(g, i, far)[0], 4)
        row["calib_far_default"] = round(float((i >= -0.6).mean()), 5)
        row["calib_frr_default"] = round(float((g < -0.6).mean()), 4)
    return row


def print_row(r: dict) -> None:
    ten = f"{r['lfw_tenfold']:.2f} +- {r['lfw_sd']:.2f}" if "lfw_tenfold" in r else "-"
    print(f"{r['name']:>26} {r['template_model'][:44]:<44} ten-fold {ten:>15}  "
          f"@default {r.get('lfw_acc_default', '-')}  (fr folds {r.get('lfw_acc_default_fr_folds', '-')})  "
          f"TAR@1e-3 {r.get('calib_tar_at_far_0.001', '-')} TAR@1e-4 {r.get('calib_tar_at_far_0.0001', '-')}  "
          f"FAR@default {r.get('calib_far_default', '-')}  no-face {r['lfw_no_face']}/{r['calib_no_face']}  "
          f"ms {r.get('ms_per_face', r.get('ms_per_image'))} (cpu {r.get('cpu_ms_per_face', '-')})", flush=True)


if __name__ == "__main__":
    main()
