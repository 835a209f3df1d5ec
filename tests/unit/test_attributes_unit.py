"""Attribute decoding and request parsing (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from visage.analysis.attributes import (
    ATTRIBUTES,
    SUPPORTED,
    UNSUPPORTED,
    age_from_bins,
    emotion_from_probs,
    gender_from_sigmoid,
    parse_attributes,
)
from visage.analysis.pipeline import AnalyzeOptions
from visage.errors import InvalidParameterError


def test_parse_attributes() -> None:
    assert parse_attributes("all") == frozenset(ATTRIBUTES)
    assert parse_attributes(["age", "gender"]) == {"age", "gender"}
    assert parse_attributes("age, emotion") == {"age", "emotion"}
    assert parse_attributes(None) == frozenset()
    with pytest.raises(InvalidParameterError):
        parse_attributes(["age", "shoe_size"])
    assert AnalyzeOptions(attributes="all").attributes == frozenset(ATTRIBUTES)
    assert AnalyzeOptions(attributes=["age"]).attributes == {"age"}


def test_supported_and_unsupported_partition_the_names() -> None:
    assert SUPPORTED | set(UNSUPPORTED) == set(ATTRIBUTES)
    assert not SUPPORTED & set(UNSUPPORTED)


def test_age_from_bins() -> None:
    from visage.analysis.attributes import AGE_CALIBRATION

    k, b = AGE_CALIBRATION
    p = np.zeros(100)
    p[40] = 1.0
    assert age_from_bins(p) == {"value": round(k * 40 + b, 1), "low": round(k * 40 + b), "high": round(k * 40 + b)}
    p = np.zeros(100)
    p[30:51] = 1.0
    a = age_from_bins(p)
    assert a["value"] == round(k * 40 + b, 1) and k * 30 + b - 1 <= a["low"] < a["value"] < a["high"] <= k * 50 + b + 1
    p = np.zeros(100)
    p[0] = 1.0
    assert age_from_bins(p)["value"] >= 0.0  # the line never gives a negative age


def test_gender_and_emotion() -> None:
    assert gender_from_sigmoid(0.9) == {"value": "male", "probability": 0.9}
    assert gender_from_sigmoid(0.2) == {"value": "female", "probability": 0.8}
    e = emotion_from_probs(np.array([0.1, 0, 0, 0.6, 0.1, 0.1, 0.1]))
    assert e["dominant"] == "happy" and len(e["scores"]) == 7


def test_vendor_emotion_mappings() -> None:
    from visage.analysis.attributes import qiniu_emotion, rekognition_emotions

    e = emotion_from_probs(np.array([0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.5]))
    rk = rekognition_emotions(e)
    assert rk[0] == {"Type": "CALM", "Confidence": 50.0}
    assert {r["Type"] for r in rk} == {"ANGRY", "DISGUSTED", "FEAR", "HAPPY", "SAD", "SURPRISED", "CALM"}
    assert qiniu_emotion(e) == {"type": "neutral", "probability": 0.5}
    e = emotion_from_probs(np.array([0.0, 0.7, 0.1, 0.1, 0.1, 0.0, 0.0]))
    assert qiniu_emotion(e)["type"] == "disgust"


class _FakeModel:
    """Stands in for a zoo model: fixed outputs, counts its runs."""

    def __init__(self, name: str) -> None:
        from types import SimpleNamespace

        self.spec = SimpleNamespace(name=f"human-{name}")
        self.name = name
        self.runs = 0
        self.input_size = {"emotion": (64, 64), "faceres-deep": (224, 224)}.get(name, (32, 32))
        self.outputs = {"faceres-deep": {"gender_pred/Sigmoid": "g", "global_pooling/Mean": "d",
                                         "age_pred/Softmax": "a"}}.get(name, {"Identity": "Identity"})

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        self.runs += 1
        n = len(batch)
        if self.name == "emotion":
            return [np.tile(np.array([0, 0, 0, 0.9, 0, 0, 0.1], np.float32), (n, 1))]
        a = np.zeros((n, 100), np.float32)
        a[:, 40] = 1
        return [np.full((n, 1), 0.8, np.float32), np.zeros((n, 1024), np.float32), a]


def test_each_model_runs_once_per_request_batched() -> None:
    from pathlib import Path

    from visage.analysis.attributes import FaceAttributes

    made: dict[str, _FakeModel] = {}

    def loader(name, models_dir, threads):
        made[name] = _FakeModel(name)
        return made[name]

    fa = FaceAttributes(Path("."), loader=loader, age_gender="faceres-deep", emotion="mini-xception")
    mesh = np.load(Path(__file__).parent / "data" / "mesh468_frontal.npy").astype(np.float32)
    image = np.zeros((480, 640, 3), np.uint8)
    res = fa.run(image, [mesh, mesh + 5], frozenset({"emotion", "expression", "smile", "age", "gender"}))
    assert made["emotion"].runs == 1 and made["faceres-deep"].runs == 1
    assert res.values[0]["expression"]["value"] in ("smile", "laugh")
    assert res.values[1]["age"]["value"] == age_from_bins(np.eye(100)[40])["value"]
    assert res.values[1]["gender"]["value"] == "male"
    assert set(res.timings_ms) == {"attr_age+gender", "attr_emotion+smile", "attr_expression"}


class _FakeFaceApi:
    """Stands in for FaceApiModels: records batch sizes, answers fixed outputs."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, int]] = []

    def age_gender(self, batch: np.ndarray):
        assert batch.shape[1:] == (112, 112, 3) and batch.dtype == np.float32
        self.batches.append(("age_gender", len(batch)))
        n = len(batch)
        return np.full(n, 30.0, np.float32), np.tile(np.array([[0.2, 0.8]], np.float32), (n, 1))

    def emotion_probs(self, batch: np.ndarray):
        self.batches.append(("emotion", len(batch)))
        from visage.analysis.attributes import EMOTIONS

        p = np.zeros((len(batch), len(EMOTIONS)), np.float32)
        p[:, EMOTIONS.index("happy")] = 1.0
        return p


def test_faceapi_models_run_once_on_faces_and_mirrors() -> None:
    from pathlib import Path

    from visage.analysis.attributes import FACEAPI_AGE_CALIBRATION, FACEAPI_AGE_RANGE, FaceAttributes

    fake = _FakeFaceApi()
    fa = FaceAttributes(Path("."), faceapi=fake, age_gender="faceapi",
                        loader=lambda *a: (_ for _ in ()).throw(AssertionError(a)))
    mesh = np.load(Path(__file__).parent / "data" / "mesh468_frontal.npy").astype(np.float32)
    res = fa.run(np.zeros((480, 640, 3), np.uint8), [mesh, mesh + 5],
                 frozenset({"age", "gender", "emotion", "smile", "expression"}))
    # one batch per model: the two faces and their two mirrors
    assert fake.batches == [("age_gender", 4), ("emotion", 4)]
    k, b = FACEAPI_AGE_CALIBRATION
    value = round(k * 30 + b, 1)
    assert res.values[0]["age"] == {"value": value, "low": float(round(FACEAPI_AGE_RANGE[0] * value)),
                                    "high": float(round(FACEAPI_AGE_RANGE[1] * value))}
    assert res.values[1]["gender"] == {"value": "female", "probability": 0.8}
    assert res.values[0]["emotion"]["dominant"] == "happy" and res.values[0]["smile"]["value"] is True
    assert res.models == ["faceapi-age_gender", "faceapi-face_expression"]


def test_unknown_attribute_model_choice_is_refused() -> None:
    from pathlib import Path

    import pytest

    from visage.analysis.attributes import FaceAttributes

    with pytest.raises(ValueError):
        FaceAttributes(Path("."), age_gender="gear")
