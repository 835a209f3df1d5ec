"""Person detection (CenterNet): does each face's person box cover the person? Vote decoding vs the graph's.

    PYTHONPATH=src python bench/eval_body.py [--mask N] [--json out.json]

No person boxes are labelled here, so the checks need none. On the fixture photos (faces/, every person
shows their face) and on ``../shared/fixtures/eval/mask`` (street and group photos), each face the
engine's detector finds should lie inside a person box at least 2.5x its height (or reaching as far
down as the image allows: ``visage.analysis.body.covers_face``). Printed for the decoder
:class:`BodyDetector` uses (``person_boxes``, a vote over each peak's heat region) and for the peer in
the same run: the TF graph's own decoder (``decode_persons``, the box read at the peak), at score
thresholds 0.3..0.5. On the fixtures, also the number of person boxes against the number of faces.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_labels import FIXTURES
from visage.analysis.body import BodyDetector, covers_face, decode_persons, nms, person_boxes
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings
from visage.engine import Engine
from visage.imaging.decode import load_image
from visage.types import Box

MASK = FIXTURES.parent / "eval" / "mask" / "images"
DECODERS = {"vote (visage)": person_boxes, "graph peak (peer)": decode_persons}


def _photos(limit: int) -> dict[str, list[Path]]:
    seen, fixtures = set(), []
    for p in sorted(FIXTURES.rglob("*")):
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.read_bytes() not in seen:
            seen.add(p.read_bytes())
            fixtures.append(p)
    return {"fixtures": fixtures, "eval/mask": sorted(MASK.glob("*"))[:limit] if MASK.is_dir() else []}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mask", type=int, default=1000, help="at most this many eval/mask photos")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    settings = Settings()
    engine = Engine(settings)
    bd = BodyDetector(settings.models_dir)
    rows, ms = [], []
    for set_name, paths in _photos(args.mask).items():
        data = []
        for p in paths:
            rgb = load_image(p.read_bytes()).rgb
            faces = engine.analyze(rgb, AnalyzeOptions(landmarks=False, pose=False)).faces
            batch, scale = bd.letterbox(rgb)
            t0 = time.perf_counter()
            heads = bd.heads(batch)
            person_boxes(*heads, 0.3)
            ms.append((time.perf_counter() - t0) * 1000)
            data.append((rgb.shape[0], faces, heads, scale))
        for decoder, fn in DECODERS.items():
            for thr in (0.3, 0.4, 0.5):
                covered = nfaces = exact = 0
                for height, faces, (hm, wh), scale in data:
                    found = fn(hm, wh, thr)
                    found = nms(found, bd.nms_iou) if len(found) else found
                    boxes = [Box(x1 / scale, y1 / scale, (x2 - x1) / scale, (y2 - y1) / scale)
                             for x1, y1, x2, y2, _ in found]
                    exact += len(boxes) == len(faces)
                    nfaces += len(faces)
                    covered += sum(any(covers_face(b, f.box, height) for b in boxes) for f in faces)
                row = {"set": set_name, "decoder": decoder, "threshold": thr, "images": len(data), "faces": nfaces,
                       "face_in_person_box": covered, "share": round(covered / max(nfaces, 1), 3)}
                if set_name == "fixtures":
                    row["count_exact"] = exact
                rows.append(row)
                print(row)
    print(f"heads + vote decode ms: median {np.median(ms):.1f} over {len(ms)} images (letterbox 512, CPU)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "median_ms": float(np.median(ms))}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
