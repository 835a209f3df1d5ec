"""Person detection (CenterNet) on the fixture photos: counts and face coverage.

    PYTHONPATH=src python bench/eval_body.py [--json out.json]

No person boxes are labelled here, so two checks that need none: on each photo the number of person
boxes should equal the number of people, taken as the faces the fast pipeline finds (every fixture
photo shows each person's face), and each face centre should lie inside some person box. Printed for
score thresholds 0.3..0.5; the default threshold (0.4) comes from this table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_labels import FIXTURES
from visage.analysis.body import BodyDetector
from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    settings = Settings()
    fp = FastPipeline.from_settings(settings)
    bd = BodyDetector(settings.models_dir)
    seen, files = set(), []
    for p in sorted(FIXTURES.rglob("*")):
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.read_bytes() not in seen:
            seen.add(p.read_bytes())
            files.append(p)
    rows, ms = [], []
    data = []
    for p in files:
        img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        faces = fp.analyze(img, AnalyzeOptions(landmarks=False, pose=False)).faces
        t0 = time.perf_counter()
        dets = bd.detect(img, 0.0)
        ms.append((time.perf_counter() - t0) * 1000)
        data.append((faces, dets))
    for thr in (0.3, 0.4, 0.5):
        exact = extra = missing = covered = nfaces = 0
        for faces, dets in data:
            boxes = [d.box for d in dets if d.confidence >= thr]
            exact += len(boxes) == len(faces)
            extra += max(0, len(boxes) - len(faces))
            missing += max(0, len(faces) - len(boxes))
            for f in faces:
                nfaces += 1
                cx, cy = f.box.center
                covered += any(b.left <= cx <= b.right and b.top <= cy <= b.bottom for b in boxes)
        row = {"threshold": thr, "images": len(data), "count_exact": exact, "extra": extra, "missing": missing,
               "faces": nfaces, "face_inside_person_box": covered}
        rows.append(row)
        print(row)
    print(f"detect ms: median {np.median(ms):.1f} over {len(ms)} images (letterbox 512, onnxruntime CPU)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "median_ms": float(np.median(ms))}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
