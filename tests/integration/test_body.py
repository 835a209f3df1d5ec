"""Body detection: the numpy decoder equals CenterNet's own TF.js decoder, heads match tfjs, and the
fixture scenes give one person box per person."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from visage.analysis.body import PERSON, BodyDetector, decode_persons
from visage.config import Settings
from visage.imaging.decode import load_image
from visage.models.parity import ensure_tfjs, run_tfjs

pytestmark = pytest.mark.slow

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "faces"


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
