"""Liveness on real fixture faces vs simulated recaptures of the same photos (bench/spoof_set.py).

    PYTHONPATH=src python bench/eval_liveness.py [--seeds 2] [--json out.json]

For every fixture photo (people/, top-level portraits, scenes/) the fast pipeline finds the faces;
each photo is also passed through every transform of spoof_set.TRANSFORMS (``--seeds`` variants) and
its faces found again. Prints, per model score (antispoof, liveness, their mean and min) and crop
scale, the ROC AUC of real vs each attack and the real-accept / spoof-reject rates at 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_labels import FIXTURES
from spoof_set import ATTACKS, TRANSFORMS
from visage.analysis import liveness as lv
from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a real face > score of a spoof), ties counted half (Mann-Whitney)."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def images() -> list[Path]:
    out = sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    seen, unique = set(), []
    for p in out:
        b = p.read_bytes()
        if b not in seen:
            seen.add(b)
            unique.append(p)
    return unique


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--crops", default="1.0,1.5")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    settings = Settings()
    fp = FastPipeline.from_settings(settings)
    live = lv.Liveness(settings.models_dir)
    crops = [float(c) for c in args.crops.split(",")]
    # scores[crop][kind] -> list of (antispoof, liveness)
    scores: dict[float, dict[str, list[tuple[float, float]]]] = {c: {} for c in crops}
    counts: dict[str, list[int]] = {}
    for path in images():
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        variants = [("real", rgb)]
        for name, fn in TRANSFORMS.items():
            variants += [(name, fn(rgb, seed)) for seed in range(args.seeds)]
        for kind, img in variants:
            faces = fp.analyze(img, AnalyzeOptions(pose=False)).faces
            counts.setdefault(kind, [0, 0])
            counts[kind][0] += 1
            counts[kind][1] += len(faces)
            meshes = [f.landmarks.points for f in faces if f.box.width >= 40]
            if not meshes:
                continue
            for c in crops:
                lv.CROP = c
                r, v = live.raw_scores(img, meshes)
                scores[c].setdefault(kind, []).extend(zip(r.tolist(), v.tolist(), strict=True))
    report: dict[str, object] = {"images": counts, "rows": []}
    print("faces per kind (images, faces >= 40 px counted below):", counts)
    for c in crops:
        real = np.array(scores[c]["real"])
        rules = {"antispoof": lambda a: a[:, 0], "liveness": lambda a: a[:, 1],
                 "mean": lambda a: a.mean(axis=1), "min": lambda a: a.min(axis=1)}
        for rule, f in rules.items():
            pos = f(real)
            line = (f"crop {c:.1f} {rule:9s} real n={len(pos):3d} accept@0.5={np.mean(pos >= 0.5):.2f}"
                    f" med={np.median(pos):.2f}")
            row = {"crop": c, "rule": rule, "n_real": len(pos), "real_accept_at_0.5": float(np.mean(pos >= 0.5)),
                   "real_median": float(np.median(pos)), "attacks": {}}
            for kind in TRANSFORMS:
                if kind not in scores[c]:
                    continue
                neg = f(np.array(scores[c][kind]))
                a = auc(pos, neg)
                row["attacks"][kind] = {"n": len(neg), "auc": a, "reject_at_0.5": float(np.mean(neg < 0.5)),
                                        "median": float(np.median(neg))}
                line += f" | {kind} n={len(neg)} AUC={a:.2f} rej={np.mean(neg < 0.5):.2f} med={np.median(neg):.2f}"
            print(line)
            sweep = {}
            for thr in (0.5, 0.8, 0.9, 0.95, 0.99):
                neg_all = np.concatenate([f(np.array(scores[c][k])) for k in ATTACKS if k in scores[c]])
                sweep[thr] = {"real_accept": float(np.mean(pos >= thr)), "attack_reject": float(np.mean(neg_all < thr))}
            row["threshold_sweep_attacks"] = sweep
            print("    threshold sweep (attacks = " + ",".join(ATTACKS) + "): " + "; ".join(
                f"{t}: real_accept={v['real_accept']:.2f} attack_reject={v['attack_reject']:.2f}"
                for t, v in sweep.items()))
            report["rows"].append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
