"""Sunglasses and mask detection (visage.analysis.occluders) on SYNTHETIC occluders over the fixture faces.

    PYTHONPATH=src python bench/eval_occluders.py [--pipeline fast|dlib] [--json out.json] [--features]

Every distinct photo under ../shared/fixtures/faces: the fast pipeline finds its faces; each face gets
every variant of VARIANTS drawn on a copy of the photo, from the clean face's mesh, and the pipeline
runs again on the copy (so occluded landmarks are what the detector sees); ``--pipeline dlib`` finds
the faces of the copies with the dlib pipeline (HOG + 68 points) instead, the occluders are still drawn
from the clean face's mesh. Prints per variant the faces
found and how many were called "sun" / masked. Positives: sun_*, mask_*; everything else is a negative.
The occluders are drawings, not photos of real sunglasses or masks: the rates say how the method treats
these drawings, nothing more.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_liveness import images
from fixture_attribute_labels import LABELS
from visage.analysis.facecrop import face_crop
from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.occluders import glasses_value, mask_value, occluder_features
from visage.analysis.regions import regions_from_landmarks
from visage.config import Settings
from visage.imaging.decode import load_image
from visage.types import Landmarks

# Mesh face-oval indices, clockwise from the forehead top.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
EYE_L, EYE_R = (33, 133), (362, 263)  # image-left eye corners, image-right eye corners


def _jpeg(img: np.ndarray, quality: int = 85) -> np.ndarray:
    _ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _paint(img: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], rng: np.random.Generator,
           gradient: float = 0.0, noise: float = 3.0) -> np.ndarray:
    """Fill ``mask`` with ``colour`` plus a vertical gradient (top lighter by ``gradient``) and noise."""
    out = img.astype(np.float32)
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return img
    t = (ys - ys.min()) / max(ys.max() - ys.min(), 1)
    val = np.array(colour, np.float32)[None, :] + (gradient * (1.0 - t))[:, None]
    val += rng.normal(0.0, noise, (len(ys), 1)) + rng.normal(0.0, noise / 2, (len(ys), 3))
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)[ys, xs][:, None]
    out[ys, xs] = out[ys, xs] * (1 - soft) + val * soft
    return np.clip(out, 0, 255).astype(np.uint8)


def _lens_mask(shape, mesh: np.ndarray, which: tuple[str, ...], bridge: bool) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    cl, cr = mesh[list(EYE_L), :2].mean(0), mesh[list(EYE_R), :2].mean(0)
    d = float(np.linalg.norm(cr - cl))
    angle = float(np.degrees(np.arctan2(cr[1] - cl[1], cr[0] - cl[0])))
    down = np.array([-np.sin(np.radians(angle)), np.cos(np.radians(angle))])
    axes = (round(0.42 * d), round(0.30 * d))
    for side, c in (("left", cl), ("right", cr)):
        if side in which:
            centre = c + 0.08 * d * down
            cv2.ellipse(m, (round(centre[0]), round(centre[1])), axes, angle, 0, 360, 1, -1)
    if bridge:
        a, b = cl + (cr - cl) * 0.3, cl + (cr - cl) * 0.7
        cv2.line(m, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, max(2, int(0.05 * d)))
    return m


def sunglasses(colour: tuple[int, int, int], gradient: float = 0.0, bridge: bool = True,
               which: tuple[str, ...] = ("left", "right")) -> Callable:
    def f(img: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _jpeg(_paint(img, _lens_mask(img.shape, mesh, which, bridge), colour, rng, gradient), 85)
    return f


def face_mask(colour: tuple[int, int, int]) -> Callable:
    """Nose-to-chin polygon: the face oval below a line halfway down the nose, its top edge over the nose."""
    def f(img: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = mesh[:, :2]
        top = (p[168, 1] + p[4, 1]) / 2.0
        oval = p[list(FACE_OVAL)]
        lower = [q for q in oval if q[1] >= top]
        poly = np.array([*lower, p[4] + (p[168] - p[4]) * 0.5], np.float32)
        m = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(m, [np.round(cv2.convexHull(poly)).astype(np.int32)], 1)
        return _jpeg(_paint(img, m, colour, rng, gradient=-15.0, noise=4.0), 80)
    return f


def mouth_skin(img: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand-like skin patch copied from the (image-left) cheek over the mouth."""
    p = mesh[:, :2]
    lips = p[[61, 291, 0, 17]]
    margin = np.array([0.25 * np.ptp(lips[:, 0]), 0.3 * np.ptp(lips[:, 1])])
    x0, y0 = lips.min(0) - margin
    x1, y1 = lips.max(0) + margin
    w, h = int(x1 - x0), int(y1 - y0)
    cheek = (p[205] + p[50]) / 2.0  # image-left cheek centre
    side = max(int(0.5 * min(w, h)), 4)
    cx, cy = int(cheek[0]), int(cheek[1])
    patch = img[max(cy - side // 2, 0):cy + side // 2, max(cx - side // 2, 0):cx + side // 2]
    if patch.size == 0 or w < 2 or h < 2:
        return img
    patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)
    out = img.copy()
    m = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(m, (int(x0 + w / 2), int(y0 + h / 2)), (w // 2, h // 2), 0, 0, 360, 1, -1)
    sub = out[int(y0):int(y0) + h, int(x0):int(x0) + w]
    ms = m[int(y0):int(y0) + h, int(x0):int(x0) + w].astype(bool)
    sub[ms] = patch[:sub.shape[0], :sub.shape[1]][ms[:patch.shape[0], :patch.shape[1]]]
    return _jpeg(out, 85)


def grey(img: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def dark(img: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (img.astype(np.float32) * 0.4).astype(np.uint8)


VARIANTS: dict[str, Callable | None] = {
    "clean": None,
    "sun_black": sunglasses((18, 18, 20)),
    "sun_black_nobridge": sunglasses((18, 18, 20), bridge=False),
    "sun_brown": sunglasses((62, 42, 28)),
    "sun_brown_nobridge": sunglasses((62, 42, 28), bridge=False),
    "sun_grey_reflective": sunglasses((60, 62, 66), gradient=45.0),
    "sun_grey_reflective_nobridge": sunglasses((60, 62, 66), gradient=45.0, bridge=False),
    "mask_lightblue": face_mask((165, 200, 228)),
    "mask_white": face_mask((236, 236, 238)),
    "mask_black": face_mask((28, 28, 30)),
    "one_eye_covered": sunglasses((18, 18, 20), bridge=False, which=("left",)),
    "mouth_skin_patch": mouth_skin,
    "greyscale": grey,
    "darkened_x0.4": dark,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--features", action="store_true", help="print every face's raw measures")
    ap.add_argument("--pipeline", choices=("fast", "dlib"), default="fast", help="landmarks of the copies")
    args = ap.parse_args(argv)
    pipe = FastPipeline.from_settings(Settings())
    if args.pipeline == "dlib":
        from visage.analysis.dlib_pipeline import DlibPipeline
        from visage.analysis.pipeline import AnalyzeOptions

        dlib_pipe = DlibPipeline.from_settings(Settings(pipeline="dlib"))

        def find(img: np.ndarray) -> list[Landmarks]:
            return [f.landmarks for f in dlib_pipe.analyze(img, AnalyzeOptions(landmarks=True)).faces]
    else:
        def find(img: np.ndarray) -> list[Landmarks]:
            found = pipe.landmarks(img, pipe.detect(img))
            return [Landmarks(scheme="mesh468", points=m.points[:, :2]) for _, m in found]
    laugh = {f for (f, _), v in LABELS.items() if v[3] == "laugh"}
    rows: dict[str, list[dict]] = {k: [] for k in [*VARIANTS, "laughing (clean)"]}
    for path in images():
        image = load_image(path.read_bytes()).rgb
        meshes = [m.points for _, m in pipe.landmarks(image, pipe.detect(image))]
        for fi, mesh in enumerate(meshes):
            centre = mesh[:, :2].mean(0)
            for vi, (name, fn) in enumerate(VARIANTS.items()):
                rng = np.random.default_rng(1000 * fi + vi)
                img = image if fn is None else fn(image, mesh, rng)
                found = find(img)
                near = [lm for lm in found
                        if np.linalg.norm(lm.points.mean(0) - centre) < 0.25 * np.ptp(mesh[:, 0])]
                row: dict = {"image": str(path.relative_to(path.parents[1])) if path.parent.name != "faces"
                             else path.name, "face": fi, "found": bool(near)}
                if near:
                    regions = regions_from_landmarks(near[0])
                    f = occluder_features(face_crop(img, regions), regions)
                    row.update(glasses=glasses_value(f), mask=mask_value(f),
                               features={k: round(v, 3) for k, v in f.items()})
                rows[name].append(row)
                if name == "clean" and path.name in laugh:
                    rows["laughing (clean)"].append(row)
    summary = {}
    print(f"{'variant':32s} {'faces':>5s} {'found':>5s} {'sun':>5s} {'mask':>5s}   "
          "sun score min/med/max   mask score min/med/max")
    for name, rs in rows.items():
        ok = [r for r in rs if r["found"]]
        sun = sum(r["glasses"]["value"] == "sun" for r in ok)
        msk = sum(r["mask"]["value"] for r in ok)
        gs = np.array([r["glasses"]["score"] for r in ok] or [np.nan])
        ms = np.array([r["mask"]["score"] for r in ok] or [np.nan])
        summary[name] = {"faces": len(rs), "found": len(ok), "sun": sun, "mask": msk,
                         "sun_score": [float(np.min(gs)), float(np.median(gs)), float(np.max(gs))],
                         "mask_score": [float(np.min(ms)), float(np.median(ms)), float(np.max(ms))]}
        print(f"{name:32s} {len(rs):5d} {len(ok):5d} {sun:5d} {msk:5d}   "
              f"{gs.min():.2f}/{np.median(gs):.2f}/{gs.max():.2f}          "
              f"{ms.min():.2f}/{np.median(ms):.2f}/{ms.max():.2f}")
        if args.features:
            for r in ok:
                print("   ", r["image"], r["face"], r["features"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"pipeline": args.pipeline, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
