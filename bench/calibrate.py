"""Measure an embedder's genuine/impostor cosines on the labelled fixtures; write its calibration.

    python bench/calibrate.py [--pipeline dlib] [--write]

Threshold: the midpoint of the gap between the highest impostor and the lowest genuine cosine
when the labelled pairs separate, else the equal-error-rate point. Scale: the logistic is set so
the mean impostor cosine maps to similarity 0.01 (a clear non-match).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_labels import labelled_images
from visage.config import Settings
from visage.engine import Engine

TABLE = Path(__file__).resolve().parents[1] / "src" / "visage" / "data" / "calibration.json"


def measure(engine: Engine) -> tuple[list[float], list[float]]:
    templates = [(who, engine.largest_template(path.read_bytes())) for who, path in labelled_images()]
    genuine, impostor = [], []
    for (wa, ta), (wb, tb) in itertools.combinations(templates, 2):
        (genuine if wa == wb else impostor).append(ta.cosine(tb))
    return genuine, impostor


def eer_threshold(genuine: list[float], impostor: list[float]) -> float:
    best = min(sorted(genuine + impostor), key=lambda t: abs(
        sum(g < t for g in genuine) / len(genuine) - sum(i >= t for i in impostor) / len(impostor)))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", default="dlib")
    parser.add_argument("--write", action="store_true", help="update src/visage/data/calibration.json")
    args = parser.parse_args()
    settings = Settings(pipeline=args.pipeline)
    engine = Engine(settings)
    pipeline = engine.pipeline
    genuine, impostor = measure(engine)
    lo_gen, hi_imp = min(genuine), max(impostor)
    threshold = (lo_gen + hi_imp) / 2 if lo_gen > hi_imp else eer_threshold(genuine, impostor)
    mean_imp = sum(impostor) / len(impostor)
    scale = (threshold - mean_imp) / math.log(99)
    row = {
        "cosine_threshold": round(threshold, 4),
        "cosine_scale": round(scale, 4),
        "genuine_pairs": len(genuine), "impostor_pairs": len(impostor),
        "genuine_min": round(lo_gen, 4), "genuine_mean": round(sum(genuine) / len(genuine), 4),
        "impostor_max": round(hi_imp, 4), "impostor_mean": round(mean_imp, 4),
        "separable": lo_gen > hi_imp,
        "measured_on": f"{len(genuine)} genuine / {len(impostor)} impostor pairs from shared/fixtures/faces "
                       "(people/ + labelled portraits), bench/calibrate.py",
    }
    print(json.dumps({pipeline.embedder_model: row}, indent=2))
    if args.write:
        table = json.loads(TABLE.read_text()) if TABLE.exists() else {"models": {}}
        table["models"][pipeline.embedder_model] = row
        TABLE.write_text(json.dumps(table, indent=2) + "\n")
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
