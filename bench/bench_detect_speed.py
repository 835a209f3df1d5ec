"""Detection time per photo under several RetinaFace input-size policies, against face_recognition's HOG,
same run, same decoded images: the speed half of docs/models.md's input-size table.

    python bench/bench_detect_speed.py [--repeats 3] [--no-peer]

Sets: the fixture portraits bench/bench_pipeline.py times (every image under ../shared/fixtures/faces and the
labelled sets it lists) and the annotated group photos (tests/data/detection_annotations.json). Per image and
policy, the best of ``--repeats`` calls of ``RetinaFace.detect`` (resize, network, decoding, NMS; the least
disturbed by other processes on a shared machine), policies alternating image by image; HOG (its default, one
upsampling) one call per image. Printed: mean ms per image per set, ms per megapixel, the ratio to HOG, and how
often the coarse pass needed the full one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detect import face_recognition_detector, load_groups
from bench_pipeline import bench_images
from visage.analysis.detectors.retinaface import RetinaFace, SizePolicy
from visage.analysis.fast_pipeline import FastConfig, build_detector
from visage.config import Settings
from visage.imaging.decode import load_image

POLICIES = {
    "one pass 1024, bilinear": SizePolicy(),
    "one pass 896": SizePolicy(max_side=896),
    "default: coarse 512, full 1024 (enlarging to 1024)": SizePolicy(min_side=1024, coarse_side=512),
    "coarse 512, no flip check": SizePolicy(min_side=1024, coarse_side=512, flip_check_from=0.0),
    "coarse 640 (before), no flip check": SizePolicy(min_side=1024, coarse_side=640, flip_check_from=0.0),
    "coarse 480": SizePolicy(min_side=1024, coarse_side=480),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    session = build_detector(FastConfig(), Settings()).session
    detectors = {name: RetinaFace(session, policy) for name, policy in POLICIES.items()}
    fine_calls: dict[str, int] = {}
    for name, det in detectors.items():
        fine_calls[name] = 0
        original = det._detect_fine

        def counted(image: np.ndarray, name: str = name, original=original) -> list:
            fine_calls[name] += 1
            return original(image)
        det._detect_fine = counted
    hog = None if args.no_peer else face_recognition_detector("hog", 1)
    sets = {"fixture portraits": [load_image(p.read_bytes()).rgb for p in bench_images()],
            "group photos": [p.rgb for p in load_groups()[0]]}
    print(f"# bench_detect_speed, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start,"
          f" {time.strftime('%Y-%m-%d %H:%M')}")
    for set_name, images in sets.items():
        for name in fine_calls:
            fine_calls[name] = 0
        times: dict[str, list[float]] = {name: [] for name in detectors}
        peer: list[float] = []
        for rgb in images:
            for name, det in detectors.items():
                best = float("inf")
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    det.detect(rgb)
                    best = min(best, time.perf_counter() - t0)
                times[name].append(best)
            if hog is not None:
                t0 = time.perf_counter()
                hog(rgb)
                peer.append(time.perf_counter() - t0)
        mp = sum(im.shape[0] * im.shape[1] for im in images) / 1e6
        hog_ms = 1000 * float(np.mean(peer)) if peer else float("nan")
        print(f"\n## {set_name}: {len(images)} images, {mp / len(images):.2f} MP on average;"
              f" load average {os.getloadavg()[0]:.1f} at the end")
        print("| policy | ms per image | ms/MP | x HOG | full passes (repeats included) |")
        print("|---|---|---|---|---|")
        for name, ts in times.items():
            ms = 1000 * float(np.mean(ts))
            full = f"{fine_calls[name] // args.repeats}/{len(images)}" if POLICIES[name].coarse_side else "-"
            print(f"| {name} | {ms:.1f} | {1000 * sum(ts) / mp:.1f} | {hog_ms / ms:.1f} | {full} |")
        if peer:
            print(f"| face_recognition HOG (one call) | {hog_ms:.1f} | {1000 * sum(peer) / mp:.1f} | 1.0 | - |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
