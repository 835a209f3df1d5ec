"""Age, gender and emotion models on the labelled fixture photos, and per-attribute cost.

    PYTHONPATH=src python bench/eval_attributes.py [--json out.json] [--repeats 5]

Labels known here (bench/fixture_labels.py): identity per photo; everyone is an adult; rose_leslie is
female, every other identity male. Ages of the photos are not known (only birth years), so age is
checked as "adult" and reported per identity. Compares the model visage uses (FaceRes-Deep's heads)
with the zoo's other age/gender models: GEAR (7 age bins, 2 genders), SSR-Net age, oarriaga gender.
Timing: median of ``--repeats`` runs of each attribute alone on two_people.jpg (2 faces), onnxruntime CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_labels import FIXTURES, labelled_images
from visage.analysis.attributes import ATTRIBUTE_MODELS, face_crops, to_gray_unit
from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings
from visage.models.zoo import load_zoo_model

FEMALE = {"rose_leslie"}
GEAR_AGES = (15, 23, 28, 35.5, 45.5, 55.5, 65)  # Human's bin centres for GEAR's 7 age classes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    settings = Settings()
    fp = FastPipeline.from_settings(settings)
    md = settings.models_dir
    gear, ssr_age, oar_gender = (load_zoo_model(n, md) for n in ("gear", "age", "gender"))
    rows = []
    for who, path in labelled_images():
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        r = fp.analyze(rgb, AnalyzeOptions(attributes="age,gender,emotion,smile,liveness"))
        if not r.faces:
            continue
        f = r.faces[0]
        mesh = [f.landmarks.points]
        g_out = dict(zip(gear.outputs, gear.run(face_crops(rgb, mesh, 198, 1.0).astype(np.float32) / 255.0),
                         strict=True))
        g_age = float(np.dot(g_out["Identity"][0], GEAR_AGES))
        g_gender = "male" if g_out["Identity_1"][0][0] > g_out["Identity_1"][0][1] else "female"
        s_age = float(ssr_age.run(face_crops(rgb, mesh, 64, 1.0).astype(np.float32))[0].reshape(-1)[0])
        og = oar_gender.run(to_gray_unit(face_crops(rgb, mesh, 64, 1.0)))[0][0]
        o_gender = "female" if og[0] > og[1] else "male"
        a = f.attributes
        rows.append({"identity": who, "file": str(path.relative_to(FIXTURES)), "truth_gender": "female" if who in FEMALE
                     else "male", "faceres_age": a["age"], "faceres_gender": a["gender"], "gear_age": round(g_age, 1),
                     "gear_gender": g_gender, "ssrnet_age": round(s_age, 1), "oarriaga_gender": o_gender,
                     "emotion": a["emotion"]["dominant"], "happy": a["emotion"]["scores"]["happy"],
                     "liveness": a["liveness"]["value"]})
    n = len(rows)
    summary = {"photos": n}
    for key in ("faceres_gender", "gear_gender", "oarriaga_gender"):
        got = [r[key]["value"] if isinstance(r[key], dict) else r[key] for r in rows]
        summary[f"{key}_correct"] = sum(g == r["truth_gender"] for g, r in zip(got, rows, strict=True))
    for key in ("faceres_age", "gear_age", "ssrnet_age"):
        ages = [r[key]["value"] if isinstance(r[key], dict) else r[key] for r in rows]
        summary[f"{key}_adult"] = sum(a >= 18 for a in ages)
        summary[f"{key}_by_identity"] = {w: round(statistics.median(a for a, r in zip(ages, rows, strict=True)
                                                                     if r["identity"] == w), 1)
                                         for w in sorted({r["identity"] for r in rows})}
    for r in rows:
        print(r)
    print(json.dumps(summary, indent=1))

    # Per-attribute cost: each attribute alone, on a two-face photo, median of repeats.
    rgb = cv2.cvtColor(cv2.imread(str(FIXTURES / "two_people.jpg")), cv2.COLOR_BGR2RGB)
    timing: dict[str, float] = {}
    for name in (*ATTRIBUTE_MODELS, "all"):
        opts = AnalyzeOptions(attributes=name)
        fp.analyze(rgb, opts)  # warm (loads the model)
        ms = []
        for _ in range(args.repeats):
            res = fp.analyze(rgb, opts)
            ms.append(sum(v for k, v in res.timings_ms.items() if k.startswith("attr_")))
        timing[name] = round(statistics.median(ms), 2)
    base_ms = statistics.median(sum(fp.analyze(rgb, AnalyzeOptions()).timings_ms.values())
                                for _ in range(args.repeats))
    print(f"per-attribute ms on two_people.jpg (2 faces), median of {args.repeats}: {timing}; "
          f"detect+landmarks without attributes: {base_ms:.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary, "attribute_ms_2_faces": timing,
                                               "pipeline_ms_without_attributes": round(base_ms, 2)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
