"""Rekognition ``FaceOccluded`` on real street photos: masked faces vs unmasked ones (``eval/mask``).

    PYTHONPATH=src python bench/eval_face_occluded.py [--limit N] [--pipeline fast|dlib]

``FaceOccluded`` is the dialect's rule (``mapping.face_occluded``): an eye, the nose or the mouth less
than half visible by the quality occlusion measure, or the mask attribute saying "mask". Printed for the
rule as served and for its occlusion half alone. ``eval/mask`` labels each face box
with_mask / without_mask / mask_weared_incorrect (VOC XML); each face the engine finds is matched to a
labelled box (IoU >= 0.4). Printed: how often FaceOccluded is true per label (a mask over nose and mouth is
an occlusion; a bare face is not), and the balanced accuracy of with_mask vs without_mask. No peer can
run here (AWS's FaceOccluded is a cloud model). The mask attribute's threshold was chosen on a tune half of
this set (docs/attributes.md), so the served figure is partly in-sample; the occlusion measure's is not.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from visage.analysis.pipeline import AnalyzeOptions
from visage.api.dialects.rekognition.mapping import face_occluded
from visage.config import Settings
from visage.engine import Engine
from visage.types import Box

MASK = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "eval" / "mask"


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    iy = max(0.0, min(a.bottom, b.bottom) - max(a.top, b.top))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def labelled_boxes(xml: Path, names: dict[str, str]) -> list[tuple[Box, str]]:
    out = []
    for obj in ET.parse(xml).getroot().iter("object"):
        bb = obj.find("bndbox")
        x1, y1, x2, y2 = (float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        out.append((Box(x1, y1, x2 - x1, y2 - y1), names.get(obj.find("name").text, obj.find("name").text)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--pipeline", default=None)
    args = ap.parse_args(argv)
    if not MASK.is_dir():
        print(f"no eval/mask at {MASK}", file=sys.stderr)
        return 1
    names = json.loads((MASK / "label_map.json").read_text())
    settings = Settings(**({"pipeline": args.pipeline} if args.pipeline else {}))
    engine = Engine(settings)
    counts: dict[str, list[int]] = {}
    matched = labelled = 0
    for xml in sorted((MASK / "annotations").glob("*.xml"))[: args.limit]:
        image = MASK / "images" / (xml.stem + ".png")
        if not image.is_file():
            image = next(iter((MASK / "images").glob(xml.stem + ".*")), None)
            if image is None:
                continue
        truth = labelled_boxes(xml, names)
        labelled += len(truth)
        analysis = engine.analyze(image.read_bytes(), AnalyzeOptions(quality=True, attributes=frozenset({"mask"})))
        for face in analysis.faces:
            best = max(truth, key=lambda t: _iou(face.box, t[0]), default=None)
            if best is None or _iou(face.box, best[0]) < 0.4:
                continue
            served, occlusion_only = face_occluded(face), face_occluded(replace(face, attributes=None))
            if served is None or occlusion_only is None:
                continue
            matched += 1
            row = counts.setdefault(best[1], [0, 0, 0])
            row[0] += int(served)
            row[1] += int(occlusion_only)
            row[2] += 1
    print(f"pipeline {settings.pipeline}: {matched} detected faces matched to {labelled} labelled boxes")
    for label, (occ, occ_only, n) in sorted(counts.items()):
        print(f"  {label:24s} FaceOccluded true {occ:4d} / {n:4d} = {occ / max(n, 1):.3f}"
              f"   (occlusion measure alone {occ_only / max(n, 1):.3f})")
    if "with_mask" in counts and "without_mask" in counts:
        for i, what in ((0, "as served"), (1, "occlusion measure alone")):
            tpr = counts["with_mask"][i] / max(counts["with_mask"][2], 1)
            tnr = 1 - counts["without_mask"][i] / max(counts["without_mask"][2], 1)
            print(f"  balanced accuracy {what} (with_mask = occluded, without_mask = not): {(tpr + tnr) / 2:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
