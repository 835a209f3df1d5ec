"""FaceRes-Deep's age and gender heads on other crops than the shipped one, on eval/age_gender.

    PYTHONPATH=src python bench/eval_age_gender_crops.py [--limit N]

Same protocol as ``bench/eval_attributes.py`` (default fast pipeline, the largest face, sha1 halves):
for each crop (the shipped upright mesh square 1.3 x, a 1.5 x square, the 5-point ArcFace alignment
scaled to the model's 224 px at zoom 1.0 / 1.25 / 1.5), with and without averaging the mirrored crop,
the age line is refitted on the tune half and the test half's gender accuracy (sigmoid >= 0.5) and adult
age MAE are printed. A measurement of alternatives, not of what ships (that is eval_attributes.py).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from eval_attributes import EVAL, Runner, is_test, read_rgb, rel
from visage.analysis.attributes import face_crops
from visage.analysis.embedders.align import ARCFACE_112, mesh_five_points, similarity_transform
from visage.analysis.pipeline import AnalyzeOptions


def crops(rgb: np.ndarray, mesh: np.ndarray, size: int) -> dict[str, np.ndarray]:
    out = {"mesh1.3 (shipped)": face_crops(rgb, [mesh], size, 1.3)[0], "mesh1.5": face_crops(rgb, [mesh], size, 1.5)[0]}
    p5 = mesh_five_points(mesh)
    for zoom in (1.0, 1.25, 1.5):
        dst = (ARCFACE_112 - 56.0) * (size / 112.0) / zoom + size / 2.0
        out[f"arcface x{zoom}"] = cv2.warpAffine(rgb, similarity_transform(p5, dst), (size, size),
                                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    run = Runner(args.limit)
    model = run.pipe.attributes.model("faceres-deep")
    size = model.input_size[0]
    rows = []
    for p in run.files(EVAL / "age_gender"):
        rgb = read_rgb(p)
        r = run.pipe.analyze(rgb, AnalyzeOptions(landmarks=True, pose=False))
        if not r.faces:
            continue
        c = crops(rgb, r.faces[0].landmarks.points, size)
        names = list(c)
        batch = np.stack([c[n] for n in names] + [c[n][:, ::-1] for n in names])[..., ::-1]
        out = dict(zip(model.outputs, model.run(np.ascontiguousarray(batch).astype(np.float32)), strict=True))
        probs = out["age_pred/Softmax"].reshape(len(batch), -1)
        ages = (probs * np.arange(probs.shape[1])).sum(axis=1)
        male = out["gender_pred/Sigmoid"].reshape(-1)
        age, gender = p.name.split("_")[:2]
        rows.append({"path": rel(p), "age": int(age), "male": gender == "0", "names": names,
                     "ages": ages, "p_male": male})
    age = np.array([x["age"] for x in rows], float)
    truth = np.array([x["male"] for x in rows])
    test = np.array([is_test(x["path"]) for x in rows])
    adult = age >= 18
    n = len(rows[0]["names"])
    print(f"faces {len(rows)}, test half {int(test.sum())} ({int((test & adult).sum())} adults)")
    for i, name in enumerate(rows[0]["names"]):
        for flip in (False, True):
            a = np.array([(x["ages"][i] + x["ages"][i + n]) / 2 if flip else x["ages"][i] for x in rows])
            g = np.array([(x["p_male"][i] + x["p_male"][i + n]) / 2 if flip else x["p_male"][i] for x in rows])
            k, b = np.polyfit(a[~test], age[~test], 1)
            cal = np.maximum(k * a + b, 0)
            print(f"{name:18s} flip={flip!s:5s} gender test {np.mean((g >= 0.5)[test] == truth[test]):.4f} | "
                  f"age MAE adults test {np.abs(cal - age)[test & adult].mean():.2f} (line {k:.3f} x {b:+.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
