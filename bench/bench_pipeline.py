"""Benchmark: visage's ``fast`` pipeline against the ``face_recognition`` library, same run, same images.

    python bench/bench_pipeline.py [--repeats 3] [--pipelines fast,dlib] [--json out.json]    (make bench)

Work per image, for every contender: decode the encoded bytes, detect, landmarks, embed every face
(one process; the files are read into memory first). face_recognition does ``load_image_file`` +
``face_locations`` (HOG, its default) + ``face_landmarks`` + ``face_encodings``; visage does
``load_image`` + ``Pipeline.analyze(landmarks, templates)``. A warm-up pass precedes the timed
passes; contenders alternate pass by pass so background load hits both alike.

Accuracy: every pair of the labelled fixture photos (people/<identity>/*, the issue's set, and the
larger labelled set of bench/fixture_labels.py), largest face per photo. visage decides with its
calibrated threshold (src/visage/data/calibration.json); face_recognition with its documented
default tolerance (distance <= 0.6). Installs nothing: ``make bench`` installs the peer first.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_labels import FIXTURES, labelled_images, people_images
from visage.analysis.pipeline import PIPELINES, AnalyzeOptions
from visage.calibration import get_calibration
from visage.config import Settings
from visage.imaging.decode import load_image

OPTIONS = AnalyzeOptions(landmarks=True, pose=False, templates=True)


def bench_images() -> list[Path]:
    files = sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return files


class Visage:
    def __init__(self, name: str, settings: Settings) -> None:
        self.name = f"visage-{name}"
        self.pipeline = PIPELINES[name](settings.model_copy(update={"pipeline": name}))
        self.calibration = get_calibration(self.pipeline.embedder_model)

    def run(self, data: bytes) -> tuple[int, dict[str, float]]:
        t0 = time.perf_counter()
        rgb = load_image(data).rgb
        decode = (time.perf_counter() - t0) * 1000
        res = self.pipeline.analyze(rgb, OPTIONS)
        return len(res.faces), {"decode": decode, **res.timings_ms}

    def template(self, data: bytes) -> np.ndarray | None:
        res = self.pipeline.analyze(load_image(data).rgb, OPTIONS)
        if not res.faces:
            return None
        face = max(res.faces, key=lambda f: f.box.area)
        return face.template.vector

    def same(self, a: np.ndarray, b: np.ndarray) -> bool:
        return float(np.dot(a, b)) >= self.calibration.cosine_threshold

    @property
    def rule(self) -> str:
        return f"cosine >= {self.calibration.cosine_threshold} ({self.pipeline.embedder_model})"


class FaceRecognition:
    name = "face_recognition"
    rule = "distance <= 0.6 (face_recognition default tolerance)"

    def __init__(self) -> None:
        import face_recognition

        self.fr = face_recognition

    def run(self, data: bytes) -> tuple[int, dict[str, float]]:
        fr = self.fr
        t0 = time.perf_counter()
        img = fr.load_image_file(io.BytesIO(data))
        t1 = time.perf_counter()
        locs = fr.face_locations(img)
        t2 = time.perf_counter()
        fr.face_landmarks(img, locs)
        t3 = time.perf_counter()
        fr.face_encodings(img, known_face_locations=locs)
        t4 = time.perf_counter()
        return len(locs), {"decode": (t1 - t0) * 1000, "detect": (t2 - t1) * 1000,
                           "landmarks": (t3 - t2) * 1000, "landmarks+embed": (t4 - t3) * 1000}

    def template(self, data: bytes) -> np.ndarray | None:
        img = self.fr.load_image_file(io.BytesIO(data))
        locs = self.fr.face_locations(img)
        if not locs:
            return None
        largest = max(locs, key=lambda r: (r[2] - r[0]) * (r[1] - r[3]))
        return np.asarray(self.fr.face_encodings(img, known_face_locations=[largest])[0])

    def same(self, a: np.ndarray, b: np.ndarray) -> bool:
        return float(np.linalg.norm(a - b)) <= 0.6


def accuracy(contender, items: list[tuple[str, Path]]) -> dict[str, object]:
    temps = [(who, contender.template(path.read_bytes())) for who, path in items]
    missed = sum(t is None for _, t in temps)
    correct = total = 0
    errors = []
    for (wa, ta), (wb, tb) in itertools.combinations(temps, 2):
        total += 1
        truth = wa == wb
        decided = ta is not None and tb is not None and contender.same(ta, tb)
        if decided == truth:
            correct += 1
        else:
            errors.append(f"{wa}~{wb}")
    return {"pairs": total, "correct": correct, "accuracy": round(correct / total, 4),
            "no_face": missed, "errors": errors}


def attribute_costs(settings: Settings, blobs: list[bytes], repeats: int) -> dict[str, dict[str, float]]:
    """Fast pipeline: ms of each attribute requested alone (and of ``all``), per image and per face,
    medians over ``repeats`` passes of the bench images; plus body (person) detection per image."""
    from visage.analysis.attributes import ATTRIBUTE_MODELS
    from visage.analysis.pipeline import AnalyzeOptions
    from visage.engine import Engine

    engine = Engine(settings.model_copy(update={"pipeline": "fast"}))
    images = [engine.decode(b).rgb for b in blobs]
    out: dict[str, dict[str, float]] = {}
    for name in (*ATTRIBUTE_MODELS, "all"):
        opts = AnalyzeOptions(landmarks=False, pose=False, attributes=name)
        engine.analyze(images[0], opts)  # load the models
        passes, faces = [], 0
        for _ in range(repeats):
            total, faces = 0.0, 0
            for img in images:
                res = engine.analyze(img, opts)
                total += sum(v for k, v in res.timings_ms.items() if k.startswith("attr_"))
                faces += len(res.faces)
            passes.append(total)
        med = statistics.median(passes)
        out[name] = {"ms_per_image": round(med / len(images), 2), "ms_per_face": round(med / max(faces, 1), 2)}
    engine.detect_bodies(images[0])
    passes = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for img in images:
            engine.detect_bodies(img)
        passes.append((time.perf_counter() - t0) * 1000)
    out["bodies"] = {"ms_per_image": round(statistics.median(passes) / len(images), 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", "--repeat", type=int, default=3)
    ap.add_argument("--pipelines", "--pipeline", default="fast,dlib", help="visage pipelines, comma-separated")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    try:
        import face_recognition  # noqa: F401
    except ImportError:
        sys.exit("peer missing: pip install face-recognition-models==0.3.0 && pip install --no-deps face-recognition")
    settings = Settings()
    contenders = [Visage(name, settings) for name in args.pipelines.split(",") if name]
    contenders.append(FaceRecognition())
    files = bench_images()
    blobs = [p.read_bytes() for p in files]

    # Warm-up (sessions, allocations), and the face counts.
    counts = {c.name: [c.run(b)[0] for b in blobs] for c in contenders}
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    stages: dict[str, dict[str, list[float]]] = {c.name: {} for c in contenders}
    for _ in range(args.repeats):
        for c in contenders:
            t0 = time.perf_counter()
            for b in blobs:
                _, st = c.run(b)
                for k, v in st.items():
                    stages[c.name].setdefault(k, []).append(v)
            times[c.name].append(time.perf_counter() - t0)

    report: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "images": len(files), "repeats": args.repeats, "contenders": {},
    }
    peer_ips = len(blobs) / statistics.median(times["face_recognition"])
    for c in contenders:
        ips = len(blobs) / statistics.median(times[c.name])
        per_stage = {k: round(sum(v) / (len(blobs) * args.repeats), 2) for k, v in stages[c.name].items()}
        report["contenders"][c.name] = {
            "images_per_s": round(ips, 2),
            "ms_per_image": round(1000 / ips, 1),
            "x_face_recognition": round(ips / peer_ips, 1),
            "ms_per_stage_per_image": per_stage,
            "faces_found": sum(counts[c.name]),
            "rule": c.rule,
            "accuracy_people_pairs": accuracy(c, people_images()),
            "accuracy_labelled_pairs": accuracy(c, labelled_images()),
        }
    report["face_counts"] = {p.relative_to(FIXTURES).as_posix(): {c.name: counts[c.name][i] for c in contenders}
                             for i, p in enumerate(files)}

    print(f"{len(files)} images x {args.repeats} passes, 1 process, {os.cpu_count()} CPUs")
    for name, row in report["contenders"].items():
        ap_ = row["accuracy_people_pairs"]
        al = row["accuracy_labelled_pairs"]
        print(f"{name:18s} {row['images_per_s']:7.2f} img/s  {row['ms_per_image']:7.1f} ms/img  "
              f"x{row['x_face_recognition']:<6} faces={row['faces_found']:<3} "
              f"acc people {ap_['correct']}/{ap_['pairs']}={ap_['accuracy']:.3f}  "
              f"labelled {al['correct']}/{al['pairs']}={al['accuracy']:.3f}")
        print(f"{'':18s} ms/stage/img: {row['ms_per_stage_per_image']}")
        if ap_["errors"] or al["errors"]:
            print(f"{'':18s} errors: people {ap_['errors']} labelled {al['errors']}")
    diff = {k: v for k, v in report["face_counts"].items() if len(set(v.values())) > 1}
    if diff:
        print("face counts that differ:", json.dumps(diff))
    if "fast" in args.pipelines.split(","):
        report["attributes_fast"] = attribute_costs(settings, blobs, args.repeats)
        print("per-attribute cost (fast pipeline, each alone; median of passes):")
        for name, row in report["attributes_fast"].items():
            print(f"{'':18s} {name:10s} {row}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
