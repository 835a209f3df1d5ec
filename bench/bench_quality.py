"""Measure the face-quality methods on the fixtures and on transforms of them with a known effect.

    PYTHONPATH=src python bench/bench_quality.py [--quick]

Prints (markdown) the per-measure cost, sharpness/blur against Gaussian blur, the same photo
at four resolutions, brightness against darkening, noise against added noise, integrity of the
partial-face crops against the truth from their uncut original, synthetic occlusion detection
rates per part and patch kind, eye/mouth ratios, ICAO check pass rates and quality-filter
outcomes. Synthetic variants are measured with the landmarks of the clean image, so each number
is about the measure, not the landmarker. docs/quality.md quotes this script's output.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fixture_labels import FIXTURES
from visage.analysis.occlusion import OCCLUDED_BELOW
from visage.analysis.pipeline import AnalyzeOptions
from visage.analysis.quality import FaceInput, Timer, assess_faces
from visage.analysis.quality_filter import quality_filter_reasons
from visage.analysis.regions import OCCLUSION_PARTS, regions_from_landmarks
from visage.config import Settings
from visage.engine import Engine

ALL = AnalyzeOptions(quality=True, icao=True)


def fixture_images(root: Path) -> list[tuple[str, np.ndarray]]:
    """Every fixture photo once (people/ repeats some top-level files byte for byte)."""
    seen: set[bytes] = set()
    out = []
    for path in sorted(root.glob("*.*")) + sorted(root.glob("scenes/*")) + sorted(root.glob("people/*/*")):
        data = path.read_bytes()
        if data in seen:
            continue
        seen.add(data)
        out.append((str(path.relative_to(root)), data))
    return out


def measure(image: np.ndarray, face, icao: bool = False) -> dict:
    return assess_faces(image, [FaceInput(face.box, face.landmarks, face.pose)], icao=icao)[0]


def jpeg(image: np.ndarray, q: int = 75) -> np.ndarray:
    _ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="first 6 photos only")
    args = parser.parse_args()
    engine = Engine(Settings())
    photos = fixture_images(FIXTURES)
    if args.quick:
        photos = photos[:6]
    rng = np.random.default_rng(0)

    # Clean analysis (also the per-measure cost).
    faces = []  # (name, image, face, size)
    cost: dict[str, list[float]] = defaultdict(list)
    for name, data in photos:
        image = engine.decode(data).rgb
        result = engine.analyze(image, ALL)
        n = len(result.faces)
        for key, ms in result.timings_ms.items():
            if key.startswith("quality") and n:
                cost[key].append(ms / n)
        for face in result.faces:
            faces.append((name, image, face, (result.width, result.height)))
    print(f"# bench_quality: {len(photos)} photos, {len(faces)} faces\n")
    print("## Cost per face (ms, median [min, max]; 2-core CPU)\n")
    for key in sorted(cost):
        print(f"- {key}: {fmt(cost[key])}")
    # Pure timing of assess_faces, repeated, for a stable number.
    timer = Timer()
    t0 = time.perf_counter()
    for _, image, face, _ in faces:
        assess_faces(image, [FaceInput(face.box, face.landmarks, face.pose)], icao=True, timer=timer)
    total = (time.perf_counter() - t0) * 1000 / len(faces)
    print(f"- all quality + icao, one pass over every face: {total:.2f} ms/face; split: "
          + ", ".join(f"{k.split('.', 1)[1]} {v / len(faces):.2f}" for k, v in sorted(timer.ms.items())))

    # Sharpness / blur against Gaussian blur, sigma in canonical-crop pixels (scaled per face).
    print("\n## Sharpness and blur against Gaussian blur (sigma in canonical-face pixels)\n")
    print("| sigma | sharpness | blur | faces ordered below the previous level |")
    print("|---|---|---|---|")
    prev = None
    for sigma in (0.0, 0.5, 1.0, 2.0, 4.0):
        sharp, blur, below = [], [], 0
        for i, (_, image, face, _) in enumerate(faces):
            regions = regions_from_landmarks(face.landmarks)
            s = sigma * regions.eye_mouth_distance / 48.0
            q = measure(cv2.GaussianBlur(image, (0, 0), s) if s else image, face)
            sharp.append(q["sharpness"])
            blur.append(q["blur"])
            if prev is not None and q["sharpness"] < prev[0][i] and q["blur"] > prev[1][i]:
                below += 1
        ordered = "-" if prev is None else f"{below}/{len(faces)}"
        print(f"| {sigma} | {fmt(sharp)} | {fmt(blur)} | {ordered} |")
        prev = (sharp, blur)

    print("\n## One photo at four resolutions (obama-240p/480p/720p/1080p)\n")
    for name, _image, face, _ in faces:
        if name.startswith("obama-"):
            q = face.quality
            print(f"- {name}: face box {face.box.width:.0f} px, sharpness {q['sharpness']}, blur {q['blur']}, "
                  f"brightness {q['brightness']}, noise {q['noise']}")

    print("\n## Brightness against darkening (x factor), and noise against added Gaussian noise\n")
    for factor in (1.0, 0.75, 0.5, 0.25):
        ratios = []
        for _, image, face, _ in faces:
            q = measure((image.astype(np.float32) * factor).astype(np.uint8), face)
            ratios.append(q["brightness"] / face.quality["brightness"])
        print(f"- darkened x{factor}: brightness / original {fmt(ratios)}")
    for sigma in (0, 5, 10, 20):
        est = []
        for _, image, face, _ in faces:
            noisy = image if sigma == 0 else np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)
            est.append(measure(noisy, face)["noise"])
        # Independent noise per RGB channel reaches luma scaled by |(0.299, 0.587, 0.114)| = 0.668.
        print(f"- added noise sigma {sigma} per channel (luma sigma {0.668 * sigma:.2f} on top of the photo's own): "
              f"estimated luma sigma {fmt(est)}")

    print("\n## Integrity of the partial-face crops\n")
    by_name = {name: (image, face) for name, image, face, _ in faces}
    if "obama.jpg" in by_name:
        full_img, full_face = by_name["obama.jpg"]
        for name in ("obama_partial_face.jpg", "obama_partial_face2.jpg"):
            if name not in by_name:
                continue
            img, face = by_name[name]
            h, w = img.shape[:2]
            dx = min(range(full_img.shape[1] - w + 1),
                     key=lambda x: np.abs(full_img[:200, x:x + w].astype(int) - img[:200].astype(int)).mean())
            true_pts = full_face.landmarks.points - np.array([dx, 0], np.float32)
            hull = cv2.convexHull(true_pts[17:68]).reshape(-1, 2)
            rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
            inside, _ = cv2.intersectConvexConvex(hull, rect)
            outline = cv2.convexHull(true_pts).reshape(-1, 2)
            inside_o, _ = cv2.intersectConvexConvex(outline, rect)
            true_features = inside / cv2.contourArea(hull)
            true_face = inside_o / cv2.contourArea(outline)
            print(f"- {name}: integrity {face.quality['integrity']} (true five-feature fraction "
                  f"{true_features:.3f}, true whole-face fraction {true_face:.3f})")

    print(f"\n## Synthetic occlusion: a part's bounding box filled; detected when score < {OCCLUDED_BELOW}\n")
    print("Clean faces, share of parts wrongly reported occluded:")
    for part in OCCLUSION_PARTS:
        wrong = sum(f.quality["occlusion"][part] < OCCLUDED_BELOW for _, _, f, _ in faces)
        print(f"- {part}: {wrong}/{len(faces)} (scores {fmt([f.quality['occlusion'][part] for _, _, f, _ in faces])})")
    kinds = ("grey", "black", "noise", "skin", "own_cheek", "background")
    print("\n| part | " + " | ".join(kinds) + " | grey, JPEG q75 | other parts flagged (grey) |")
    print("|---|" + "---|" * (len(kinds) + 2))
    for part in OCCLUSION_PARTS:
        hits = dict.fromkeys((*kinds, "grey_jpeg"), 0)
        collateral = 0
        for _, image, face, _ in faces:
            regions = regions_from_landmarks(face.landmarks)
            poly = regions.parts[part]
            (x0, y0), (x1, y1) = np.floor(poly.min(0)).astype(int), np.ceil(poly.max(0)).astype(int)
            x0, y0 = max(x0, 0), max(y0, 0)
            cheek = regions.parts["left_cheek"]
            cx, cy = cheek.mean(axis=0).astype(int)
            skin = np.median(image[max(cy - 3, 0):cy + 4, max(cx - 3, 0):cx + 4].reshape(-1, 3), axis=0)
            for kind in (*kinds, "grey_jpeg"):
                patched = image.copy()
                region = patched[y0:y1 + 1, x0:x1 + 1]
                if kind in ("grey", "grey_jpeg"):
                    region[...] = 128
                elif kind == "black":
                    region[...] = 0
                elif kind == "noise":
                    region[...] = rng.integers(0, 256, region.shape)
                elif kind == "skin":
                    region[...] = skin.astype(np.uint8)
                elif kind == "own_cheek":  # real skin texture and colour: stands in for a hand
                    cb = np.vstack([cheek, regions.parts["right_cheek"]])
                    (a0, b0), (a1, b1) = np.floor(cb.min(0)).astype(int), np.ceil(cb.max(0)).astype(int)
                    tile = image[max(b0, 0):b1 + 1, max(a0, 0):a1 + 1]
                    region[...] = cv2.resize(tile, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_AREA)
                else:  # a tile of the photo's top-left corner: real texture, not face
                    hh, ww = region.shape[:2]
                    region[...] = image[:hh, :ww] if image.shape[0] > 2 * hh else np.roll(image, ww, 1)[:hh, :ww]
                if kind == "grey_jpeg":
                    patched = jpeg(patched)
                occ = measure(patched, face)["occlusion"]
                hits[kind] += occ[part] < OCCLUDED_BELOW
                if kind == "grey":
                    collateral += sum(occ[p] < OCCLUDED_BELOW and face.quality["occlusion"][p] >= OCCLUDED_BELOW
                                      for p in OCCLUSION_PARTS if p != part)
        n = len(faces)
        print(f"| {part} | " + " | ".join(f"{hits[k]}/{n}" for k in (*kinds, "grey_jpeg")) + f" | {collateral} |")

    print("\nGrey-scale copies of the photos (the chroma cue is void): parts scored below the threshold")
    print("\n| part | clean grey-scale | grey patch | black patch | own cheek copied |")
    print("|---|---|---|---|---|")
    for part in OCCLUSION_PARTS:
        row = dict.fromkeys(("clean", "grey", "black", "own_cheek"), 0)
        for _, image, face, _ in faces:
            mono = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
            regions = regions_from_landmarks(face.landmarks)
            poly = regions.parts[part]
            (x0, y0), (x1, y1) = np.floor(poly.min(0)).astype(int), np.ceil(poly.max(0)).astype(int)
            x0, y0 = max(x0, 0), max(y0, 0)
            cb = np.vstack([regions.parts["left_cheek"], regions.parts["right_cheek"]])
            (a0, b0), (a1, b1) = np.floor(cb.min(0)).astype(int), np.ceil(cb.max(0)).astype(int)
            for kind in row:
                patched = mono.copy()
                region = patched[y0:y1 + 1, x0:x1 + 1]
                if kind == "grey":
                    region[...] = 128
                elif kind == "black":
                    region[...] = 0
                elif kind == "own_cheek":
                    tile = mono[max(b0, 0):b1 + 1, max(a0, 0):a1 + 1]
                    region[...] = cv2.resize(tile, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_AREA)
                row[kind] += measure(patched, face)["occlusion"][part] < OCCLUDED_BELOW
        print(f"| {part} | " + " | ".join(f"{v}/{len(faces)}" for v in row.values()) + " |")

    print("\n## Landmark ratios on the fixtures (no closed eyes or open mouths; one laugh nearly shuts the eyes)\n")
    ears = [f.quality[k] for _, _, f, _ in faces for k in ("left_eye_aspect_ratio", "right_eye_aspect_ratio")]
    print(f"- eye aspect ratio: {fmt(ears)}")
    print(f"- mouth_open_ratio: {fmt([f.quality['mouth_open_ratio'] for _, _, f, _ in faces])}")
    print(f"- occlusion total: {fmt([f.quality['occlusion']['total'] for _, _, f, _ in faces])}")
    print(f"- sharpness: {fmt([f.quality['sharpness'] for _, _, f, _ in faces])}")
    print(f"- brightness: {fmt([f.quality['brightness'] for _, _, f, _ in faces])}")
    print(f"- noise: {fmt([f.quality['noise'] for _, _, f, _ in faces])}")

    print("\n## ICAO checks on the fixtures (faces passing / evaluated) and score ranges\n")
    checks: dict[str, list[bool]] = defaultdict(list)
    scores: dict[str, list[float]] = defaultdict(list)
    for _, _, face, _ in faces:
        for key, value in face.quality["icao"].items():
            if isinstance(value, bool):
                checks[key].append(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                scores[key].append(float(value))
    for key in sorted(checks):
        print(f"- {key}: {sum(checks[key])}/{len(checks[key])}")
    for key in sorted(scores):
        print(f"- {key}: {fmt(scores[key])}")

    print("\n## Quality filter reasons on the fixtures\n")
    for level in ("LOW", "MEDIUM", "HIGH"):
        counts: dict[str, int] = defaultdict(int)
        passed = 0
        for _, _, face, size in faces:
            reasons = quality_filter_reasons(face, size, level)
            passed += not reasons
            for r in reasons:
                counts[r] += 1
        print(f"- {level}: {passed}/{len(faces)} indexed; reasons {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
