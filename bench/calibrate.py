"""Measure each embedder's genuine/impostor cosines on calib/; write its calibration and ROC tables.

    PYTHONPATH=src nice python bench/calibrate.py [--embedders all|a,b] [--write] [--cache /tmp/rec-cache]

Set: ../shared/fixtures/calib, every pair of its identity photos (264 photos of 60 identities: about 540
genuine and 34,000 impostor pairs), faces found and aligned by the default fast pipeline (the same
cached points as bench/bench_lfw.py). LFW is not used here: it is the check (bench/bench_lfw.py scores
it at the threshold written here). faces/people is never used (every model separates five people).

Operating points, the same rule for every model:
* similarity 0.5 (the default decision): the lowest cosine at which at most 1e-3 of calib's impostor
  pairs are accepted (FAR 1e-3, what 1:N search over a few hundred people needs);
* similarity 0.8 (Rekognition's default FaceMatchThreshold 80): the cosine of FAR 1e-4 on the same
  impostors (about 3 of 34k pairs: a coarse reading, stated as such); the logistic's scale follows,
  ``scale = (cos@1e-4 - cos@1e-3) / ln 4``.
The 3DiVi verify-matcher's ``fa_r``/``fr_r`` come from the same pairs: ``src/visage/data/roc_<model>.json``
holds every pair's cosine distance (``1 - cosine``), sorted, at 1e-4 resolution (base64 uint16).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from recognition_sets import CALIB, VisageFaces, calib_images, calib_pairs, embed_cached, pair_scores, tar_at_far

DATA = Path(__file__).resolve().parents[1] / "src" / "visage" / "data"
TABLE = DATA / "calibration.json"


def calibrate(genuine: np.ndarray, impostor: np.ndarray) -> dict:
    """The calibration row of one model from its calib/ genuine and impostor cosines."""
    # Rounded up to the stored 4 decimals, so the stored threshold keeps the FAR at or below its target.
    t3 = math.ceil(tar_at_far(genuine, impostor, 1e-3)[1] * 1e4) / 1e4
    t4 = math.ceil(tar_at_far(genuine, impostor, 1e-4)[1] * 1e4) / 1e4
    scale = (t4 - t3) / math.log(4.0) if t4 > t3 else 0.01
    return {
        "cosine_threshold": t3,
        "cosine_scale": round(max(scale, 1e-4), 4),
        "genuine_pairs": int(genuine.size), "impostor_pairs": int(impostor.size),
        "far_at_0.5": round(float((impostor >= t3).mean()), 5),
        "frr_at_0.5": round(float((genuine < t3).mean()), 4),
        "cosine_at_0.8": t4,
        "far_at_0.8": round(float((impostor >= t4).mean()), 5),
        "frr_at_0.8": round(float((genuine < t4).mean()), 4),
        "genuine_mean": round(float(genuine[np.isfinite(genuine)].mean()), 4),
        "impostor_mean": round(float(impostor[np.isfinite(impostor)].mean()), 4),
        "impostor_max": round(float(impostor[np.isfinite(impostor)].max()), 4),
    }


def encode_distances(cosines: np.ndarray) -> str:
    """Every pair's cosine distance, sorted, at 1e-4 resolution, as base64 uint16 (a 34k-pair table in ~90 kB)."""
    d = np.where(np.isfinite(cosines), 1.0 - cosines, 2.0)
    q = np.clip(np.round(np.sort(d) * 10000), 0, 20000).astype("<u2")
    return base64.b64encode(q.tobytes()).decode("ascii")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedders", default="all")
    parser.add_argument("--write", action="store_true", help="update calibration.json and roc_<model>.json")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rec-cache"))
    args = parser.parse_args()

    from visage.analysis.embedders import DEFAULT_EMBEDDER, EMBEDDERS, build_embedder
    from visage.analysis.fast_pipeline import FastPipeline
    from visage.config import Settings

    settings = Settings(pipeline="fast")
    names = list(EMBEDDERS) if args.embedders == "all" else args.embedders.split(",")
    cal = calib_images()
    gen_pairs, imp_pairs = calib_pairs(cal)
    pipe = FastPipeline.from_settings(settings.model_copy(update={"embedder": DEFAULT_EMBEDDER}))
    faces = VisageFaces(pipe, args.cache)
    points = faces.points(CALIB, [r for _, r in cal])
    no_face = sum(p is None for p in points.values())
    stages = [m for m in pipe.models()[:-1] if m not in pipe.embedder.model_names]
    identities = len({who for who, _ in cal})
    measured_on = (f"calib/: {len(gen_pairs)} genuine / {len(imp_pairs)} impostor pairs of {len(cal)} photos "
                   f"({identities} identities; {no_face} without a face, their pairs never accepted), faces and "
                   f"points from the fast pipeline ({', '.join(stages)}); bench/calibrate.py")
    table = json.loads(TABLE.read_text()) if TABLE.exists() else {"models": {}}
    table["protocol"] = ("similarity 0.5 = cosine at FAR 1e-3 on calib/ impostor pairs; similarity 0.8 = cosine at "
                         "FAR 1e-4; logistic in between (bench/calibrate.py); checked on LFW by bench/bench_lfw.py")
    for name in names:
        emb = build_embedder(name, settings.models_dir, settings.onnx_threads or 2)
        templates = embed_cached(emb, CALIB, points, faces.cache, [])
        genuine, impostor = pair_scores(templates, gen_pairs), pair_scores(templates, imp_pairs)
        row = calibrate(genuine, impostor)
        row["measured_on"] = measured_on
        print(json.dumps({emb.template_model: row}), flush=True)
        if args.write:
            table["models"][emb.template_model] = row
            (DATA / f"roc_{emb.template_model}.json").write_text(json.dumps({
                "model": emb.template_model, "distance": "1 - cosine of the unit templates",
                "measured_on": measured_on, "genuine_pairs": int(genuine.size), "impostor_pairs": int(impostor.size),
                "encoding": "sorted distances x 10000 as little-endian uint16, base64 (pairs without a face: 2.0)",
                "genuine_u16": encode_distances(genuine), "impostor_u16": encode_distances(impostor)}) + "\n")
    if args.write:
        TABLE.write_text(json.dumps(table, indent=2) + "\n")
        print(f"wrote {TABLE} and the roc_<model>.json tables")


if __name__ == "__main__":
    main()
