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
    assert face.template.model == "expo-mobilefacenet-flip-192" and face.template.dim == 192
    other = Template.from_vector("dlib_resnet_v1", np.ones(128, np.float32))
    with pytest.raises(TemplateMismatchError):
        face.template.cosine(other)


def test_max_faces_and_options(fast) -> None:
    rgb = load_image((FACES / "scenes" / "obama_and_biden.jpg").read_bytes()).rgb
    res = fast.analyze(rgb, AnalyzeOptions(landmarks=False, pose=False, templates=False, max_faces=2))
    assert len(res.faces) == 2
    assert all(f.landmarks is None and f.template is None and f.pose is None for f in res.faces)
    assert "embed" not in res.timings_ms


def test_commercial_embedder_dlib_on_mesh_points() -> None:
    """VISAGE_EMBEDDER=dlib: dlib's CC0 ResNet on mesh points, in dlib_resnet_v1's space."""
    if not FACES.is_dir():
        pytest.skip(f"fixtures not found at {FACES}")
    from visage.analysis.fast_pipeline import FastConfig, FastPipeline

    pipe = FastPipeline.from_settings(Settings(), FastConfig(embedder="dlib"))
    assert pipe.embedder_model == "dlib_resnet_v1" and pipe.embedder_dim == 128
    assert "dlib_resnet_v1" in pipe.models()
    people = sorted(p for p in (FACES / "people").glob("*/*") if p.is_file())
    temps = [(p.parent.name, max(analyze(pipe, p).faces, key=lambda f: f.box.area).template) for p in people]
    threshold = get_calibration("dlib_resnet_v1").cosine_threshold
    wrong = [(wa, wb) for (wa, ta), (wb, tb) in itertools.combinations(temps, 2)
             if (ta.cosine(tb) >= threshold) != (wa == wb)]
    assert not wrong, wrong


@pytest.mark.parametrize("name", photos() if FACES.is_dir() else [])
def test_roll_follows_the_eye_line(fast, name: str) -> None:
    """Regression: the pose fit once returned the mirrored solution (roll ~180) for upright faces.

    Roll is not exactly the image-plane eye line for strongly turned heads (Euler angles couple: the
    girl in obama_and_biden at yaw -60 differs by 17 degrees), hence the loose bound."""
    import math

    for face in analyze(fast, FACES / name).faces:
        pts = face.landmarks.points
        eye_line = math.degrees(math.atan2(pts[263, 1] - pts[33, 1], pts[263, 0] - pts[33, 0]))
        assert abs(face.pose.roll - eye_line) < 25, (face.pose, eye_line)


# Who is in each scene (None: a person not in people/); compared as multisets, since the fast
# pipeline's mesh boxes order faces of similar size differently from dlib's boxes.
SCENES = {"scenes/alex_lacamoire1.jpg": ["alex_lacamoire"], "scenes/johnsnow_test1.jpg": ["kit_harington"],
          "scenes/kit_with_rose.jpg": ["kit_harington", "rose_leslie"], "scenes/obama1.jpg": ["obama"],
          "scenes/obama_and_biden.jpg": ["obama", "biden", None], "two_people.jpg": ["biden", "obama"]}


def test_scene_faces_are_identified_1_to_n(fast) -> None:
    gallery = [(p.parent.name, max(analyze(fast, p).faces, key=lambda f: f.box.area).template)
               for p in sorted((FACES / "people").glob("*/*")) if p.is_file()]
    threshold = get_calibration(fast.embedder_model).cosine_threshold
    for scene, expected in SCENES.items():
        got = []
        for face in analyze(fast, FACES / scene).faces:
            who, best = max(gallery, key=lambda g: face.template.cosine(g[1]))
            got.append(who if face.template.cosine(best) >= threshold else None)
        assert sorted(map(str, got)) == sorted(map(str, expected)), (scene, got)
