"""The fast pipeline on the real fixtures: face counts of the fixtures' README and verification of
every pair in people/ (same identity matches, different identities do not)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from visage.analysis.pipeline import PIPELINES, AnalyzeOptions
from visage.calibration import get_calibration
from visage.config import Settings
from visage.errors import TemplateMismatchError
from visage.imaging.decode import load_image
from visage.types import Template

pytestmark = pytest.mark.slow

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "faces"
# From the fixtures' README: scenes with several faces; every other photo has one.
COUNTS = {"scenes/kit_with_rose.jpg": 2, "scenes/obama_and_biden.jpg": 3, "two_people.jpg": 2}
OPTIONS = AnalyzeOptions(landmarks=True, pose=True, templates=True)


@pytest.fixture(scope="module")
def fast():
    if not FACES.is_dir():
        pytest.skip(f"fixtures not found at {FACES}")
    return PIPELINES["fast"](Settings())


def analyze(pipeline, path: Path):
    return pipeline.analyze(load_image(path.read_bytes()).rgb, OPTIONS)


def photos() -> list[str]:
    return sorted(p.relative_to(FACES).as_posix() for p in FACES.rglob("*")
                  if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


@pytest.mark.parametrize("name", photos() if FACES.is_dir() else [])
def test_face_count(fast, name: str) -> None:
    res = analyze(fast, FACES / name)
    assert len(res.faces) == COUNTS.get(name, 1), [f.box for f in res.faces]
    for face in res.faces:
        assert 0.0 <= face.confidence <= 1.0
        assert face.landmarks is not None and face.landmarks.scheme == "mesh468" and len(face.landmarks) == 468
        assert face.template is not None and face.template.model == fast.embedder_model
        assert abs(float(np.linalg.norm(face.template.vector)) - 1.0) < 1e-4
        assert face.pose is not None
    areas = [f.box.area for f in res.faces]
    assert areas == sorted(areas, reverse=True)
    assert {"detect", "landmarks", "embed"} <= set(res.timings_ms)


def test_people_pairs_verify(fast) -> None:
    people = sorted(p for p in (FACES / "people").glob("*/*") if p.is_file())
    temps = []
    for p in people:
        res = analyze(fast, p)
        temps.append((p.parent.name, max(res.faces, key=lambda f: f.box.area).template))
    threshold = get_calibration(fast.embedder_model).cosine_threshold
    wrong = []
    for (wa, ta), (wb, tb) in itertools.combinations(temps, 2):
        if (ta.cosine(tb) >= threshold) != (wa == wb):
            wrong.append((wa, wb, round(ta.cosine(tb), 3)))
    assert not wrong, wrong


def test_templates_record_model_and_refuse_other_models(fast) -> None:
    face = analyze(fast, FACES / "obama.jpg").faces[0]
    assert face.template.model == "human-faceres-deep-1024" and face.template.dim == 1024
    other = Template.from_vector("dlib_resnet_v1", np.ones(128, np.float32))
    with pytest.raises(TemplateMismatchError):
        face.template.cosine(other)


def test_max_faces_and_options(fast) -> None:
    rgb = load_image((FACES / "scenes" / "obama_and_biden.jpg").read_bytes()).rgb
    res = fast.analyze(rgb, AnalyzeOptions(landmarks=False, pose=False, templates=False, max_faces=2))
    assert len(res.faces) == 2
    assert all(f.landmarks is None and f.template is None and f.pose is None for f in res.faces)
    assert "embed" not in res.timings_ms
