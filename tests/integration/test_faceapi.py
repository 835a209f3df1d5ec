"""face-api's AgeGenderNet and FaceExpressionNet: the ONNX rebuild against the same TypeScript in numpy on
real face crops, and what the models say of labelled fixture faces (rose_leslie is a woman, biden and
obama men, all adults)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from visage.analysis.attributes import FACEAPI_CROP, face_crops
from visage.analysis.attributes import faceapi as fa
from visage.analysis.fast_pipeline import FastPipeline
from visage.config import Settings
from visage.imaging.decode import load_image
from visage.models.fetch import ensure_models
from visage.models.registry import MODELS

pytestmark = pytest.mark.slow

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "faces"
PEOPLE = {"rose_leslie/img1.jpg": "female", "rose_leslie/img2.jpg": "female", "biden/biden.jpg": "male",
          "obama/obama.jpg": "male"}


@pytest.fixture(scope="module")
def crops():
    if not FACES.is_dir():
        pytest.skip("fixtures not found")
    pipe = FastPipeline.from_settings(Settings())
    out = {}
    for rel in PEOPLE:
        image = load_image((FACES / "people" / rel).read_bytes()).rgb
        meshes = [m.points for _, m in pipe.landmarks(image, pipe.detect(image))]
        assert meshes, rel
        out[rel] = face_crops(image, meshes[:1], fa.INPUT_SIZE, FACEAPI_CROP)[0]
    return out


@pytest.fixture(scope="module")
def models():
    return fa.FaceApiModels(Settings().models_dir)


@pytest.mark.parametrize("name", [fa.AGE_GENDER_MODEL, fa.EXPRESSION_MODEL])
def test_onnx_rebuild_matches_numpy_reference_of_the_typescript(crops, models, name: str) -> None:
    from visage.models.faceapi2onnx import reference_forward

    manifest = ensure_models([MODELS[name]], Settings().models_dir)[name]
    batch = np.stack(list(crops.values())).astype(np.float32)
    session = models.session(name)
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": batch}), strict=True))
    ref = reference_forward(manifest, batch)
    assert set(got) == set(ref)
    for key, value in ref.items():
        diff = float(np.abs(got[key] - value).max())
        print(f"{name} {key}: max abs difference {diff:.2e}")
        # float32 graph vs float64 numpy: ages are tens of years, probabilities 0..1
        assert diff < (1e-3 if key == "age" else 1e-5), (key, diff)


def test_rebuild_rejects_a_manifest_it_does_not_know(tmp_path) -> None:
    from visage.models.faceapi2onnx import ConversionError, build

    bogus = tmp_path / "tiny_face_detector_model-weights_manifest.json"
    bogus.write_text("[]")
    with pytest.raises(ConversionError):
        build(bogus)


def test_fixture_adults_get_their_gender_and_an_adult_age(crops, models) -> None:
    batch = np.stack([crops[r] for r in PEOPLE]).astype(np.float32)
    ages, genders = models.age_gender(batch)
    for (rel, expected), age, g in zip(PEOPLE.items(), ages, genders, strict=True):
        assert (g[0] >= 0.5) == (expected == "male"), (rel, g)
        assert 18 <= age <= 90, (rel, age)


def test_expression_probabilities_are_a_distribution(crops, models) -> None:
    from visage.analysis.attributes import EMOTIONS

    p = models.emotion_probs(np.stack(list(crops.values())).astype(np.float32))
    assert p.shape == (len(crops), len(EMOTIONS))
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-4)


def test_selectable_faceapi_age_gender_through_face_attributes() -> None:
    # The library path a caller takes to pick face-api's age/gender instead of the FaceRes-Deep default.
    from visage.analysis.attributes import FaceAttributes

    if not FACES.is_dir():
        pytest.skip("fixtures not found")
    pipe = FastPipeline.from_settings(Settings())
    attrs = FaceAttributes(Settings().models_dir, age_gender="faceapi")
    for rel, expected in PEOPLE.items():
        image = load_image((FACES / "people" / rel).read_bytes()).rgb
        meshes = [m.points for _, m in pipe.landmarks(image, pipe.detect(image))][:1]
        res = attrs.run(image, meshes, frozenset({"age", "gender"}))
        a = res.values[0]
        assert a["gender"]["value"] == expected, (rel, a["gender"])
        assert 18 <= a["age"]["value"] <= 90 and a["age"]["low"] <= a["age"]["value"] <= a["age"]["high"], (rel, a)
        assert res.models == ["faceapi-age_gender"] and "attr_age+gender" in res.timings_ms
