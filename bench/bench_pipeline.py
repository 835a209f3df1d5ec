"""visage vs face_recognition on the same images, in one process and one run.

    python bench/bench_pipeline.py [--repeat 1] [--pipeline dlib]

Both do the full job per image: decode + detect every face + 68 landmarks + a 128-d template
per face, single process, on this machine. The peer is the `face_recognition` library (PyPI,
installed with --no-deps beside dlib-bin) on the same dlib model files; it is what a user
would otherwise pick. Prints images/second for each, the ratio, ms per visage stage, and the
verification accuracy of both on every labelled pair in fixtures/faces/people.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_labels import FIXTURES, people_images
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings
from visage.engine import Engine


def bench_images() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


def run_visage(engine: Engine, paths: list[Path], repeat: int) -> tuple[float, dict[str, float], int]:
    options = AnalyzeOptions(landmarks=True, pose=True, templates=True)
    stages: dict[str, list[float]] = {}
    faces = 0
    start = time.perf_counter()
    for _ in range(repeat):
        for path in paths:
            t0 = time.perf_counter()
            image = engine.decode(path.read_bytes())
            stages.setdefault("decode", []).append((time.perf_counter() - t0) * 1000)
            result = engine.analyze(image, options)
            faces += len(result.faces)
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
    elapsed = time.perf_counter() - start
    return len(paths) * repeat / elapsed, {k: statistics.mean(v) for k, v in stages.items()}, faces


def run_peer(paths: list[Path], repeat: int) -> tuple[float, int]:
    import face_recognition

    faces = 0
    start = time.perf_counter()
    for _ in range(repeat):
        for path in paths:
            image = face_recognition.load_image_file(str(path))
            locations = face_recognition.face_locations(image)
            face_recognition.face_landmarks(image, locations)
            face_recognition.face_encodings(image, locations)
            faces += len(locations)
    return len(paths) * repeat / (time.perf_counter() - start), faces


def accuracy_visage(engine: Engine) -> tuple[int, int]:
    templates = [(who, engine.largest_template(p.read_bytes())) for who, p in people_images()]
    pairs = list(itertools.combinations(templates, 2))
    right = sum(engine.compare(ta, tb).match == (wa == wb) for (wa, ta), (wb, tb) in pairs)
    return right, len(pairs)


def accuracy_peer() -> tuple[int, int]:
    import face_recognition

    encodings = []
    for who, path in people_images():
        image = face_recognition.load_image_file(str(path))
        locations = face_recognition.face_locations(image)
        largest = max(locations, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        encodings.append((who, face_recognition.face_encodings(image, [largest])[0]))
    pairs = list(itertools.combinations(encodings, 2))
    right = sum(bool(face_recognition.compare_faces([ea], eb)[0]) == (wa == wb) for (wa, ea), (wb, eb) in pairs)
    return right, len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--pipeline", default="dlib")
    args = parser.parse_args()
    try:
        import face_recognition  # noqa: F401
    except ImportError:
        sys.exit("peer missing: pip install face-recognition-models==0.3.0 && pip install --no-deps face-recognition")

    paths = bench_images()
    engine = Engine(Settings(pipeline=args.pipeline))
    run_visage(engine, paths[:2], 1)  # warm-up: models loaded, caches filled
    v_ips, stages, v_faces = run_visage(engine, paths, args.repeat)
    p_ips, p_faces = run_peer(paths, args.repeat)
    v_acc, p_acc = accuracy_visage(engine), accuracy_peer()

    print(f"images: {len(paths)} from {FIXTURES} x{args.repeat}, 1 process, pipeline={engine.pipeline.name}")
    print(f"{'':<16}{'images/s':>10}{'faces':>8}{'pairs right':>14}")
    print(f"{'visage':<16}{v_ips:>10.2f}{v_faces:>8}{f'{v_acc[0]}/{v_acc[1]}':>14}")
    print(f"{'face_recognition':<16}{p_ips:>10.2f}{p_faces:>8}{f'{p_acc[0]}/{p_acc[1]}':>14}")
    print(f"ratio visage/face_recognition: {v_ips / p_ips:.2f}x")
    print("visage ms per image by stage: " + ", ".join(f"{k}={v:.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
