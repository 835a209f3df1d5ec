"""Measure an embedder's ROC on the labelled fixtures for 3DiVi verify-matcher's fa_r / fr_r.

    PYTHONPATH=src python bench/roc_threedivi.py [--pipeline fast|dlib] [--embedder faceres-deep] [--write]

Every pair of the labelled single-face photos (bench/fixture_labels.py) is compared; the cosine
distances (1 - cosine) of genuine (same identity) and impostor pairs are printed as a summary and,
with --write, stored in src/visage/data/roc_<model>.json, which the dialect interpolates.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fixture_labels import labelled_images
from visage.api.dialects.threedivi.roc import Roc
from visage.config import Settings
from visage.engine import Engine

DATA = Path(__file__).resolve().parents[1] / "src" / "visage" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", default="fast")
    parser.add_argument("--embedder", default=None, help="fast pipeline embedder (default: the setting's)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    kwargs = {"pipeline": args.pipeline}
    if args.embedder:
        kwargs["embedder"] = args.embedder
    engine = Engine(Settings(**kwargs))
    images = labelled_images()
    templates = [(who, engine.largest_template(path.read_bytes())) for who, path in images]
    genuine, impostor = [], []
    for (wa, ta), (wb, tb) in itertools.combinations(templates, 2):
        (genuine if wa == wb else impostor).append(round(1.0 - ta.cosine(tb), 6))
    model = engine.embedder_model
    identities = len({who for who, _ in images})
    measured_on = (f"{len(genuine)} genuine / {len(impostor)} impostor pairs of {len(images)} labelled photos "
                   f"({identities} identities) in shared/fixtures/faces, bench/roc_threedivi.py")
    roc = Roc.from_distances(model, genuine, impostor, measured_on)
    print(f"model {model}: {measured_on}")
    print(f"genuine distance  min {min(genuine):.4f} mean {sum(genuine) / len(genuine):.4f} max {max(genuine):.4f}")
    print(f"impostor distance min {min(impostor):.4f} mean {sum(impostor) / len(impostor):.4f} "
          f"max {max(impostor):.4f}")
    for d in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        far, frr = roc.rates(d)
        print(f"  distance {d:.2f}: fa_r {far:.4f}  fr_r {frr:.4f}")
    if args.write:
        out = DATA / f"roc_{model}.json"
        out.write_text(json.dumps({
            "model": model, "distance": "1 - cosine of the unit templates", "measured_on": measured_on,
            "genuine_distances": sorted(genuine), "impostor_distances": sorted(impostor),
        }, indent=1) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
