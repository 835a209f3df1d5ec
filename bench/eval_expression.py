"""Smile, mouth-open and expression (none/smile/laugh) against the hand labels of
bench/fixture_attribute_labels.py.

    PYTHONPATH=src python bench/eval_expression.py [--json out.json]

Prints per labelled face the emotion model's happy probability and the mesh mouth-open ratio
(visage.analysis.attributes.mouth_open_ratio), then for each attribute the agreement with the labels
per face and per distinct photo, and for mouth_open the ratios of both classes (the separating margin
the threshold sits in).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_attribute_labels import LABELS
from fixture_labels import FIXTURES
from visage.analysis import attributes as at
from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    fp = FastPipeline.from_settings(Settings())
    rows = []
    cache: dict[str, object] = {}
    for (rel, k), (photo, smile, mouth, expr) in sorted(LABELS.items()):
        if rel not in cache:
            rgb = cv2.cvtColor(cv2.imread(str(FIXTURES / rel)), cv2.COLOR_BGR2RGB)
            cache[rel] = fp.analyze(rgb, AnalyzeOptions(attributes="smile,mouth_open,expression,emotion"))
        res = cache[rel]
        f = res.faces[k]
        a = f.attributes
        rows.append({"file": rel, "face": k, "photo": photo, "label_smile": smile, "label_mouth_open": mouth,
                     "label_expression": expr, "happy": a["emotion"]["scores"]["happy"],
                     "smile": a["smile"]["value"], "mouth_open_ratio": a["mouth_open"]["ratio"],
                     "mouth_open": a["mouth_open"]["value"], "expression": a["expression"]["value"]})
    for r in rows:
        print(r)
    report: dict[str, object] = {"rows": rows}
    for key, got in (("smile", "smile"), ("mouth_open", "mouth_open"), ("expression", "expression")):
        lab = [r for r in rows if r[f"label_{key}"] is not None]
        ok = [r for r in lab if r[got] == r[f"label_{key}"]]
        photos = {r["photo"] for r in lab}
        photos_ok = {p for p in photos if all(r[got] == r[f"label_{key}"] for r in lab if r["photo"] == p)}
        report[key] = {"faces": len(lab), "correct": len(ok), "photos": len(photos),
                       "photos_all_correct": len(photos_ok), "wrong": [(r["file"], r["face"]) for r in lab
                                                                       if r not in ok]}
        print(key, report[key])
    closed = sorted(r["mouth_open_ratio"] for r in rows if r["label_mouth_open"] is False)
    opened = sorted(r["mouth_open_ratio"] for r in rows if r["label_mouth_open"] is True)
    report["mouth_ratio_closed_max"] = closed[-1]
    report["mouth_ratio_open_min"] = opened[0]
    print(f"mouth ratio: closed max {closed[-1]:.3f}, open min {opened[0]:.3f}; threshold {at.MOUTH_OPEN_RATIO}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
