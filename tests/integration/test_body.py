"""Body detection: the numpy decoder equals CenterNet's own TF.js decoder, heads match tfjs, the
fixture scenes give one person box per person, and each face lies inside a whole-person box."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from visage.analysis.body import PERSON, BodyDetector, covers_face, decode_persons
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings
from visage.engine import Engine
from visage.imaging.decode import load_image
from visage.models.parity import ensure_tfjs, run_tfjs
from visage.types import Box

pytestmark = pytest.mark.slow

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "faces"
MASK = FACES.parent / "eval" / "mask" / "images"
SCENES = ["two_people.jpg", "obama.jpg", "biden.jpg",
          *(f"scenes/{p.name}" for p in sorted((FACES / "scenes").glob("*")))]
#: The share of faces in eval/mask inside a whole-person box at the default threshold 0.4: measured 0.635
#: (228 of the 359 faces RetinaFace finds; 0.84 of BlazeFace's 152 larger ones). The misses are people
#: CenterNet scores below 0.4 at its 512 px input in crowds, not decoding: the graph's decoder gives 0.62
#: there and fails two_people.jpg and obama.jpg, which the vote decoder fixes; 2x2 tiles reach only 0.65
#: (bench/eval_body.py, docs/threedivi.md). A guard against losing what is measured, not a target.
#: Since detection enlarges small photos (issue 12, docs/models.md) the pipeline finds 641 faces there, most of
#: the new ones small faces in crowds: 329 of them inside a person box (0.513; more covered faces than before).
MASK_COVERAGE_FLOOR = 0.48


@pytest.fixture(scope="module")
def detector():
    if not FACES.is_dir():
        pytest.skip("fixtures not found")
    return BodyDetector(Settings().models_dir)


def _rgb(name: str) -> np.ndarray:
    return load_image((FACES / name).read_bytes()).rgb


def test_heads_and_decoder_match_tfjs(detector) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("parity needs node and npm on PATH")
    batch, _ = detector.letterbox(_rgb("two_people.jpg"))
    hm, wh = detector.heads(batch)
    det, ref_hm, ref_wh = run_tfjs(detector.model_json, batch,
                                   ["tower_0/detections", "tower_0/keypoints", "tower_0/wh"],
                                   ensure_tfjs(Settings().home))
    assert np.abs(ref_hm[0] - hm).max() < 1e-4
    # wh is in input pixels (up to ~500): float16 weights give ~1e-3 px differences, i.e. ~1e-5 relative.
    assert np.abs(ref_wh[0] - wh).max() < 5e-3
    ref = det[0][(det[0][:, 5] == PERSON) & (det[0][:, 4] >= 0.2)]
    mine = decode_persons(hm, wh, 0.2)
    assert len(mine) == len(ref) >= 2
    np.testing.assert_allclose(mine, ref[:, :5], atol=5e-3)


@pytest.mark.parametrize(("name", "people"), [("two_people.jpg", 2), ("scenes/kit_with_rose.jpg", 2),
                                              ("obama.jpg", 1), ("biden.jpg", 1)])
def test_one_box_per_person(detector, name: str, people: int) -> None:
    bodies = detector.detect(_rgb(name))
    assert len(bodies) == people
    assert all(0.4 <= b.confidence <= 1.0 and b.box.width > 0 and b.box.height > 0 for b in bodies)


@pytest.fixture(scope="module")
def engine():
    """The default (fast) pipeline's faces, as bench/eval_body.py counts them (the suite's dlib finds far
    fewer faces in the street photos)."""
    return Engine(Settings(pipeline="fast"))


def _faces(engine, rgb: np.ndarray):
    return engine.analyze(rgb, AnalyzeOptions(landmarks=False, pose=False)).faces


def test_tie_is_not_the_person(detector) -> None:
    """The man on the right of two_people.jpg wears a tie on his person peak: his box is his, not the tie's."""
    rgb = _rgb("two_people.jpg")
    right = max(detector.detect(rgb), key=lambda b: b.box.center[0]).box
    assert right.width > 0.25 * rgb.shape[1] and right.height > 0.8 * rgb.shape[0]
    obama = max(detector.detect(_rgb("obama.jpg")), key=lambda b: b.confidence).box
    assert obama.width > 0.5 * 910 and obama.height > 0.7 * 1137  # was 0.14 x 0.49 of the image


@pytest.mark.parametrize("name", SCENES)
def test_each_face_inside_a_person_box(detector, engine, name: str) -> None:
    rgb = _rgb(name)
    bodies = [b.box for b in detector.detect(rgb)]
    faces = _faces(engine, rgb)
    assert faces
    for face in faces:
        assert any(covers_face(b, face.box, rgb.shape[0]) for b in bodies), (face.box, bodies)


def test_faces_inside_person_boxes_on_eval_mask(detector, engine) -> None:
    if not MASK.is_dir():
        pytest.skip("eval/mask not found")
    covered = total = 0
    for path in sorted(MASK.glob("*")):
        rgb = load_image(path.read_bytes()).rgb
        bodies = [b.box for b in detector.detect(rgb)]
        for face in _faces(engine, rgb):
            total += 1
            covered += any(covers_face(b, face.box, rgb.shape[0]) for b in bodies)
    assert total > 100
    assert covered / total >= MASK_COVERAGE_FLOOR, (covered, total)


def test_covers_face_rules() -> None:
    face = Box(100, 100, 50, 60)
    assert covers_face(Box(60, 80, 140, 400), face, 1000)
    assert not covers_face(Box(110, 80, 140, 400), face, 1000)      # cuts the face
    assert not covers_face(Box(60, 80, 140, 120), face, 1000)       # a tie-sized box
    assert covers_face(Box(60, 80, 140, 120), face, 200)            # the image ends at the shoulders
