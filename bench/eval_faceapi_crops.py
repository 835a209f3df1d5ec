"""face-api's AgeGenderNet and FaceExpressionNet against FaceRes-Deep / mini-Xception: crops chosen on the tune half.

    PYTHONPATH=src python bench/eval_faceapi_crops.py [--sets age_gender,emotion] [--cache /tmp/faceapi_meshes]
        [--json bench/results/eval_faceapi_crops.json]

Protocol (bench/eval_attributes.py's): each photo of eval/age_gender (UTKFace) and eval/emotion (FER2013,
4x upscale retry below 100 px) through the default fast pipeline, the largest face's mesh kept; the fixed
sha1 halves (even = tune, odd = test). Per crop variant (the upright mesh square at several scales, RGB or
BGR, and face-api's own box: the landmark bounding box padded 20 %, axis-aligned, zero-padded to a square),
face-api runs on the same meshes as the current models. The tune half picks the variant (gender accuracy,
then adult MAE of the line fitted on the tune half; emotion accuracy), and only the test half is reported,
beside the current model and the mean of both. UTKFace was in face-api's age/gender training data (its
README: an 80/20 split of UTK, FGNET, Chalearn, Wiki, IMDB, CACD, MegaAge), so part of the test half may
be in-sample for it.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_attributes import EVAL, FER, is_test, read_rgb, rel
from visage.analysis.attributes import EMOTIONS, FaceAttributes, face_crops
from visage.analysis.attributes.faceapi import FaceApiModels
from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings

SCALES = (0.9, 1.0, 1.1, 1.2, 1.3, 1.5)


def box_crop(image: np.ndarray, mesh: np.ndarray, size: int = 112, pad: float = 0.2) -> np.ndarray:
    """face-api's crop: the points' bounding box padded by ``pad`` x its size, cut axis-aligned, zero-padded
    (centred) to a square, resized to ``size`` (bilinear)."""
    x0, y0 = mesh[:, :2].min(axis=0)
    x1, y1 = mesh[:, :2].max(axis=0)
    w, h = x1 - x0, y1 - y0
    x0, y0, x1, y1 = x0 - pad * w / 2, y0 - pad * h / 2, x1 + pad * w / 2, y1 + pad * h / 2
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # The axis-aligned box cut out and centred on a black square = one affine warp (black outside).
    s = size / side
    m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    # zero the parts of the square outside the padded box (face-api pads the minor side with zeros)
    mask = np.zeros((size, size), bool)
    bx0, bx1 = round((x0 - cx) * s + size / 2), round((x1 - cx) * s + size / 2)
    by0, by1 = round((y0 - cy) * s + size / 2), round((y1 - cy) * s + size / 2)
    mask[max(by0, 0):by1, max(bx0, 0):bx1] = True
    out[~mask] = 0
    return out


def collect(set_name: str, cache: Path) -> list[dict]:
    path = cache / f"{set_name}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    pipe = FastPipeline.from_settings(Settings())
    attrs = "age,gender" if set_name == "age_gender" else "emotion"
    rows = []
    for p in sorted((EVAL / set_name).rglob("*.jpg")):
        rgb = read_rgb(p)
        r = pipe.analyze(rgb, AnalyzeOptions(attributes=attrs, pose=False))
        upscaled = False
        if not r.faces and set_name == "emotion" and max(rgb.shape[:2]) < 100:
            rgb = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
            r = pipe.analyze(rgb, AnalyzeOptions(attributes=attrs, pose=False))
            upscaled = bool(r.faces)
        f = r.faces[0] if r.faces else None
        row = {"path": rel(p), "file": str(p), "upscaled": upscaled, "mesh": None if f is None else f.landmarks.points}
        if set_name == "age_gender":
            age, gender = p.name.split("_")[:2]
            row.update(age=int(age), male=gender == "0")
        else:
            row["truth"] = FER[p.parent.name]
        rows.append(row)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(rows))
    return rows


def _image(row: dict) -> np.ndarray:
    rgb = read_rgb(Path(row["file"]))
    if row["upscaled"]:
        rgb = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    return rgb


def variants(rgb: np.ndarray, mesh: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for s in SCALES:
        c = face_crops(rgb, [mesh], 112, s)[0]
        out[f"square{s}_rgb"] = c
        out[f"square{s}_bgr"] = c[..., ::-1]
    out["faceapi_box_rgb"] = box_crop(rgb, mesh)
    return out


def eval_age_gender(rows: list[dict], fa: FaceApiModels, cur: FaceAttributes) -> dict:
    found = [r for r in rows if r["mesh"] is not None]
    ages = np.array([r["age"] for r in found], float)
    male = np.array([r["male"] for r in found])
    test = np.array([is_test(r["path"]) for r in found])
    adult = ages >= 18
    preds: dict[str, list] = {}
    cur_age, cur_male = [], []
    for r in found:
        rgb = _image(r)
        out = cur.faceres_outputs(rgb, [r["mesh"]])
        bins = out["age_pred/Softmax"][0].reshape(-1)
        cur_age.append(float((bins / bins.sum() * np.arange(bins.size)).sum()))
        cur_male.append(float(out["gender_pred/Sigmoid"][0].reshape(-1)[0]))
        for name, crop in variants(rgb, r["mesh"]).items():
            a, g = fa.age_gender(crop[None].astype(np.float32))
            preds.setdefault(name, []).append((float(a[0]), float(g[0, 0])))
            flip = crop[:, ::-1]
            a2, g2 = fa.age_gender(np.ascontiguousarray(flip)[None].astype(np.float32))
            preds.setdefault(name + "_flip", []).append((float(a[0] + a2[0]) / 2, float(g[0, 0] + g2[0, 0]) / 2))

    def score(age_raw: np.ndarray, pm: np.ndarray) -> dict:
        k, b = np.polyfit(age_raw[~test], ages[~test], 1)
        cal = np.maximum(k * age_raw + b, 0)
        return {
            "tune_gender": round(float(np.mean((pm[~test] >= 0.5) == male[~test])), 4),
            "tune_age_mae_adults_line": round(float(np.abs(cal - ages)[~test & adult].mean()), 2),
            "test_gender": round(float(np.mean((pm[test] >= 0.5) == male[test])), 4),
            "test_gender_adults": round(float(np.mean((pm[test & adult] >= 0.5) == male[test & adult])), 4),
            "test_age_mae_adults_raw": round(float(np.abs(age_raw - ages)[test & adult].mean()), 2),
            "test_age_mae_all_raw": round(float(np.abs(age_raw - ages)[test].mean()), 2),
            "line": [round(float(k), 3), round(float(b), 2)],
            "test_age_mae_adults_line": round(float(np.abs(cal - ages)[test & adult].mean()), 2),
            "test_age_mae_all_line": round(float(np.abs(cal - ages)[test].mean()), 2),
        }

    ca, cm = np.array(cur_age), np.array(cur_male)
    res = {"faces_found": f"{len(found)}/{len(rows)}", "current_faceres_deep": score(ca, cm)}
    for name, v in preds.items():
        a = np.array([x[0] for x in v])
        g = np.array([x[1] for x in v])
        res[f"faceapi_{name}"] = score(a, g)
        res[f"mean_with_faceres_{name}"] = score((a + ca) / 2, (g + cm) / 2)
    return res


def eval_emotion(rows: list[dict], fa: FaceApiModels, cur: FaceAttributes) -> dict:
    found = [r for r in rows if r["mesh"] is not None]
    truth = np.array([EMOTIONS.index(r["truth"]) for r in found])
    test = np.array([is_test(r["path"]) for r in found])
    cur_p = []
    preds: dict[str, list] = {}
    for r in found:
        rgb = _image(r)
        cur_p.append(cur.emotion_probs(rgb, [r["mesh"]])[0])
        for name, crop in variants(rgb, r["mesh"]).items():
            if name.endswith("_bgr"):
                continue  # grey photos: the channel order is moot
            p = fa.emotion_probs(crop[None].astype(np.float32))[0]
            p2 = fa.emotion_probs(np.ascontiguousarray(crop[:, ::-1])[None].astype(np.float32))[0]
            preds.setdefault(name, []).append(p)
            preds.setdefault(name + "_flip", []).append((p + p2) / 2)
    cp = np.array(cur_p)

    def score(p: np.ndarray) -> dict:
        ok = p.argmax(axis=1) == truth
        return {"tune": round(float(ok[~test].mean()), 4), "test": round(float(ok[test].mean()), 4),
                "test_n": int(test.sum())}

    res = {"faces_found": f"{len(found)}/{len(rows)}", "test_photos": sum(is_test(r["path"]) for r in rows),
           "current_mini_xception": score(cp)}
    for name, v in preds.items():
        p = np.array(v)
        res[f"faceapi_{name}"] = score(p)
        res[f"mean_with_current_{name}"] = score((p + cp) / 2)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="age_gender,emotion")
    ap.add_argument("--cache", default="/tmp/faceapi_meshes")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    settings = Settings()
    fa = FaceApiModels(settings.models_dir)
    cur = FaceAttributes(settings.models_dir, age_gender="faceres-deep", emotion="mini-xception")
    result = {}
    for name in args.sets.split(","):
        rows = collect(name, Path(args.cache))
        result[name] = (eval_age_gender if name == "age_gender" else eval_emotion)(rows, fa, cur)
        print(name, json.dumps(result[name], indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
