"""Measure each zoo embedder (and its crop/normalisation variants) on the labelled fixtures.

    python bench/eval_embedders.py [--set people|labelled]

Detection and mesh run once per image (largest face); every variant embeds the same mesh.
Prints, per variant: genuine/impostor cosine ranges, the margin (lowest genuine - highest
impostor; > 0 means the pairs separate), accuracy at the best threshold, and ms per face.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_labels import labelled_images, people_images
from visage.analysis.embedders.align import FacePoints
from visage.analysis.embedders.zoo import EMBEDDERS, ZooEmbedder
from visage.analysis.fast_pipeline import FastConfig, FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings
from visage.models.zoo import load_zoo_model

VARIANTS = {
    "faceres": [("box", 1.5, (0.0, 1.0), False), ("box", 1.5, (0.0, 255.0), False),
                ("box", 1.3, (0.0, 255.0), False), ("box", 1.2, (0.0, 255.0), True),
                ("box", 1.3, (0.0, 255.0), True), ("box", 1.4, (0.0, 255.0), True),
                ("arcface", 0.8, (0.0, 255.0), True)],
    "faceres-deep": [("box", 1.5, (0.0, 255.0), False), ("box", 1.3, (0.0, 255.0), False),
                     ("box", 1.2, (0.0, 255.0), True), ("box", 1.3, (0.0, 255.0), True),
                     ("box", 1.4, (0.0, 255.0), True), ("arcface", 0.8, (0.0, 255.0), True)],
    "mobilefacenet": [("arcface", 1.0, (-1.0, 1.0), False), ("arcface", 1.0, (0.0, 1.0), False),
                      ("arcface", 1.0, (0.0, 255.0), False), ("arcface", 1.0, (-1.0, 1.0), True)],
    "mobileface": [("arcface", 1.0, (0.0, 255.0), False), ("arcface", 1.0, (0.0, 255.0), True)],
}


def best_accuracy(genuine: list[float], impostor: list[float]) -> tuple[float, float]:
    best = (0.0, 0.0)
    for t in sorted(genuine + impostor):
        acc = (sum(g >= t for g in genuine) + sum(i < t for i in impostor)) / (len(genuine) + len(impostor))
        best = max(best, (acc, t))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", choices=["people", "labelled"], default="labelled")
    ap.add_argument("--models", default=",".join(VARIANTS))
    ap.add_argument("--no-refine", action="store_true", help="one Face Mesh pass instead of two")
    args = ap.parse_args()
    settings = Settings()
    pipe = FastPipeline.from_settings(settings, FastConfig(refine=not args.no_refine))
    items = people_images() if args.set == "people" else labelled_images()
    meshes = []
    for who, path in items:
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        res = pipe.analyze(img, AnalyzeOptions(landmarks=True, pose=False))
        dets = pipe.detect(img)
        faces = pipe.landmarks(img, dets)
        if not faces:
            print(f"no face in {path}")
            continue
        meshes.append((who, img, faces[0][1].points, res))
    print(f"{len(meshes)} images, set={args.set}, refine={not args.no_refine}")
    for name in args.models.split(","):
        model = load_zoo_model(EMBEDDERS[name].model, settings.models_dir)
        for alignment, crop, rng, bgr in VARIANTS[name]:
            cfg = replace(EMBEDDERS[name], alignment=alignment, crop=crop, input_range=rng, bgr=bgr)
            emb = ZooEmbedder(model, cfg)
            t0 = time.perf_counter()
            temps = [(who, emb.embed(img, [FacePoints.from_mesh(pts)])[0]) for who, img, pts, _ in meshes]
            ms = (time.perf_counter() - t0) * 1000 / len(meshes)
            gen, imp = [], []
            for (wa, ta), (wb, tb) in itertools.combinations(temps, 2):
                (gen if wa == wb else imp).append(ta.cosine(tb))
            acc, thr = best_accuracy(gen, imp)
            order = "bgr" if bgr else "rgb"
            print(f"{name:14s} {alignment:8s} crop={crop:<4} range={rng!s:12s} {order} dim={emb.dim:<5d} "
                  f"gen[min {min(gen):.3f} mean {sum(gen)/len(gen):.3f}] imp[max {max(imp):.3f} "
                  f"mean {sum(imp)/len(imp):.3f}] margin={min(gen)-max(imp):+.3f} "
                  f"best_acc={acc:.3f}@{thr:.3f} pairs={len(gen)}/{len(imp)} {ms:.1f} ms/face")


if __name__ == "__main__":
    main()
