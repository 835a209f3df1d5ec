"""Emotion alternatives on eval/emotion (FER2013): faceplugin ``fr_expression`` alone and averaged with
the shipped mini-Xception, with and without mirrored crops.

    PYTHONPATH=src python bench/eval_emotion_fusion.py [--limit N]   (about 15 minutes on 2 busy cores)

Same protocol as ``bench/eval_attributes.py`` (default fast pipeline, the largest face, a 4x upscale
retry below 100 px, sha1 halves; accuracy of the found faces). ``fr_expression`` (224x224 RGB /255, 7
classes) is fed upright squares 1.0 / 1.2 / 1.4 x the mesh extent; its class order is read off the tune
half's confusion matrix (it comes out as FER2013's own order). The fusion weight and crop are chosen on
the tune half. Prints accuracy per variant and the milliseconds of one ``fr_expression`` crop. A
measurement of alternatives, not of what ships (that is eval_attributes.py).
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from eval_attributes import EVAL, FER, Runner, is_test, read_rgb, rel
from visage.analysis.attributes import EMOTIONS, face_crops, to_gray_unit
from visage.analysis.attributes.onnx_model import load_onnx_model, softmax
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings

SCALES = (1.0, 1.2, 1.4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    run = Runner(args.limit)
    mini = run.pipe.attributes.model("emotion")
    fe = load_onnx_model("faceplugin-fr_expression", Settings().models_dir, None)
    rows, fe_ms = [], []
    for p in run.files(EVAL / "emotion"):
        rgb = read_rgb(p)
        r = run.pipe.analyze(rgb, AnalyzeOptions(landmarks=True, pose=False))
        if not r.faces and max(rgb.shape[:2]) < 100:
            rgb = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
            r = run.pipe.analyze(rgb, AnalyzeOptions(landmarks=True, pose=False))
        if not r.faces:
            continue
        mesh = r.faces[0].landmarks.points
        c = face_crops(rgb, [mesh], mini.input_size[0], 1.0)
        h = mini.run(to_gray_unit(np.concatenate([c, c[:, :, ::-1]])))[0].reshape(2, -1)
        crops = []
        for s in SCALES:
            cc = face_crops(rgb, [mesh], 224, s)[0]
            crops += [cc, cc[:, ::-1]]
        x = np.ascontiguousarray((np.stack(crops).astype(np.float32) / 255.0).transpose(0, 3, 1, 2))
        t0 = time.perf_counter()
        f = softmax(fe.run_each(x))
        fe_ms.append((time.perf_counter() - t0) * 1000 / len(crops))
        rows.append({"path": rel(p), "truth": EMOTIONS.index(FER[p.parent.name]), "h": h, "f": f})
    y = np.array([x["truth"] for x in rows])
    test = np.array([is_test(x["path"]) for x in rows])
    h = np.array([x["h"] for x in rows])
    f = np.array([x["f"] for x in rows])
    conf = np.zeros((7, 7))
    for a, b in zip(f[~test, 2].argmax(1), y[~test], strict=True):
        conf[a, b] += 1
    order = conf.argmax(1)
    print("fr_expression class -> label (tune):", [EMOTIONS[j] for j in order])
    f = f[..., np.argsort(order)] if sorted(order) == list(range(7)) else f

    def acc(probs: np.ndarray, m: np.ndarray) -> float:
        return float(np.mean(probs.argmax(1)[m] == y[m]))

    print(f"faces {len(rows)} (test {int(test.sum())}); fr_expression {np.median(fe_ms):.1f} ms per crop (median)")
    print(f"mini-Xception (shipped): tune {acc(h[:, 0], ~test):.3f} test {acc(h[:, 0], test):.3f}; "
          f"+flip tune {acc(h.mean(1), ~test):.3f} test {acc(h.mean(1), test):.3f}")
    for i, s in enumerate(SCALES):
        fs, ff = f[:, 2 * i], f[:, 2 * i:2 * i + 2].mean(1)
        print(f"fr_expression {s}x: tune {acc(fs, ~test):.3f} test {acc(fs, test):.3f}; "
              f"+flip tune {acc(ff, ~test):.3f} test {acc(ff, test):.3f}")
        for w in (0.3, 0.5, 0.7):
            p0, p1 = w * fs + (1 - w) * h[:, 0], w * ff + (1 - w) * h.mean(1)
            print(f"  mean, weight {w} on fr_expression: tune {acc(p0, ~test):.3f} test {acc(p0, test):.3f}; "
                  f"with flips tune {acc(p1, ~test):.3f} test {acc(p1, test):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
