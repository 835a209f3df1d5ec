"""Detection regression on the annotated group photos (tests/data/detection_annotations.json): the default
pipeline keeps every annotated face of 20 px and more that is not marked hard, except the measured misses
listed in KNOWN_MISSES (each with why), draws no box on the face-free crops, and keeps precision at 0.97 or
more over the set (IoU >= 0.5, ignore regions excepted).

KNOWN_MISSES is strict: a listed face that starts being found fails too, so the list stays the truth (the
issue's target is an empty list; docs/models.md has the figures). The annotation protocol is in the JSON's
"about"; bench/bench_detect.py gives the same set's full figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from visage.analysis.detectors.base import iou_matrix
from visage.analysis.fast_pipeline import FastPipeline
from visage.config import Settings
from visage.imaging.decode import load_image

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures"
DOC = json.loads((ROOT / "tests" / "data" / "detection_annotations.json").read_text())


# image -> boxes of faces the default pipeline is measured to miss (detector score at the default policy).
# (The man cut by the right border of Bucajack's TIFF photo, [953, 193, 1028, 305], RetinaFace 0.64 and Face Mesh ~0,
# is found since the flip check: its mirrored view scores 0.92. The face cut by the top border of that photo,
# [185, 9, 215, 42], RetinaFace 0.78, is kept by the size-aware trust gate: 0.7 suffices for 24-48 px boxes.)
KNOWN_MISSES: dict[str, list[list[int]]] = {
    # deep background blur behind a photographer, RetinaFace 0.34 at full resolution
    "calib/_groups/1024px-Flickr_-_Josh_Jensen_-_Keanu_Reeves.jpg": [[89, 238, 131, 291]],
    # 14 x 20 px, half hidden between two heads: no detector proposed it (drawn by hand)
    "calib/_groups/1024px-Reuniao_com_o_ator_norte-americano_Keanu_Reeves_(46806575974).jpg": [[436, 271, 450, 291]],
}


@pytest.fixture(scope="module")
def pipe() -> FastPipeline:
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES}")
    return FastPipeline.from_settings(Settings(detector="retinaface"))


def kept_boxes(pipe: FastPipeline, rgb: np.ndarray) -> np.ndarray:
    """The detector boxes (WIDER's convention, as annotated) of the faces the pipeline keeps."""
    kept = pipe.landmarks(rgb, pipe.detect(rgb))
    return np.array([d.box for d, _ in kept], np.float64).reshape(-1, 4)


def in_ignore(box: np.ndarray, regions: list[list[int]]) -> bool:
    for x0, y0, x1, y1 in regions:
        ix = max(0.0, min(box[2], x1) - max(box[0], x0))
        iy = max(0.0, min(box[3], y1) - max(box[1], y0))
        if ix * iy >= 0.5 * (box[2] - box[0]) * (box[3] - box[1]):
            return True
    return False


@pytest.fixture(scope="module")
def results(pipe: FastPipeline) -> dict[str, np.ndarray]:
    return {p["image"]: kept_boxes(pipe, load_image((FIXTURES / p["image"]).read_bytes()).rgb) for p in DOC["photos"]}


@pytest.mark.parametrize("photo", DOC["photos"], ids=lambda p: Path(p["image"]).name[:40])
def test_every_annotated_face_is_found(results, photo) -> None:
    boxes = results[photo["image"]]
    wanted = [f["box"] for f in photo["faces"] if not f.get("hard") and f["box"][3] - f["box"][1] >= 20]
    if not wanted:
        return
    ious = iou_matrix(np.array(wanted, np.float64), boxes) if len(boxes) else np.zeros((len(wanted), 1))
    missed = [w for w, best in zip(wanted, ious.max(axis=1), strict=True) if best < 0.5]
    assert missed == KNOWN_MISSES.get(photo["image"], []), f"faces missed in {photo['image']}: {missed}"


def test_precision_over_the_set(results) -> None:
    tp = fp = 0
    for photo in DOC["photos"]:
        faces = np.array([f["box"] for f in photo["faces"]], np.float64).reshape(-1, 4)
        for box in results[photo["image"]]:
            if len(faces) and iou_matrix(box[None], faces).max() >= 0.5:
                tp += 1
            elif not in_ignore(box, photo["ignore"]):
                fp += 1
    assert tp / (tp + fp) >= 0.97, (tp, fp)


@pytest.mark.parametrize("negative", DOC["negatives"], ids=lambda n: n["note"])
def test_no_box_on_a_face_free_photo(pipe: FastPipeline, negative) -> None:
    x0, y0, x1, y1 = negative["crop"]
    rgb = np.ascontiguousarray(load_image((FIXTURES / negative["image"]).read_bytes()).rgb[y0:y1, x0:x1])
    assert len(kept_boxes(pipe, rgb)) == 0
