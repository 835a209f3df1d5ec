"""Estimator blocks and body-detector: values are the engine's own attributes in 3DiVi's form (these run
once the engine has the attribute models; until then each block's 501 is checked by the golden tests)."""

from __future__ import annotations

import pytest
from threedivi_support import b64, put_image

from visage.analysis.pipeline import AnalyzeOptions
from visage.api.dialects.threedivi.mapping import EMOTION_ORDER, norm_bbox
from visage.api.dialects.threedivi.routes import BLOCKS, check_available

pytestmark = pytest.mark.slow


def available(client, block: str) -> bool:
    try:
        check_available(BLOCKS[block], client.app.state.visage)
    except Exception:
        return False
    return True


def need(client, block: str) -> None:
    if not available(client, block):
        pytest.skip(f"{block}: the engine has no model for it on this branch")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_estimators_carry_the_engine_attributes(client, fast_engine, two_people, version) -> None:
    for block in ("age-estimator", "gender-estimator", "emotion-estimator", "liveness-estimator"):
        need(client, block)
    truth = fast_engine.analyze(two_people, AnalyzeOptions(attributes=frozenset({"age", "gender", "emotion",
                                                                                   "liveness"})))
    sample: dict = {}
    put_image(sample, version, two_people)
    r = client.post("/face-detector/process/sample", json=sample)
    for block in ("age-estimator", "gender-estimator", "emotion-estimator", "liveness-estimator"):
        r = client.post(f"/{block}/process/sample", json=r.json())
        assert r.status_code == 200, r.text
    objects = r.json()["objects"]
    assert len(objects) == len(truth.faces) == 2
    case = str.upper if version == "v1" else str.lower
    for obj, face in zip(objects, truth.faces, strict=True):
        a = face.attributes
        assert obj["bbox"] == pytest.approx(norm_bbox(face.box, truth.width, truth.height))
        assert obj["age"] == str(round(a["age"]["value"])) and obj["age"].isdigit()
        assert obj["gender"] == case(a["gender"]["value"])
        assert [e["emotion"] for e in obj["emotions"]] == [case(e) for e in EMOTION_ORDER]
        assert [e["confidence"] for e in obj["emotions"]] == [a["emotion"]["scores"][e] for e in EMOTION_ORDER]
        real = a["liveness"]["value"] == "real"
        assert obj["liveness"]["value"] == case("real" if real else "fake")
        p = a["liveness"]["score"]
        assert obj["liveness"]["confidence"] == pytest.approx(p if real else 1 - p)


def test_face_detector_liveness_estimator(client, portrait) -> None:
    need(client, "face-detector-liveness-estimator")
    r = client.post("/face-detector-liveness-estimator/process/image?version=v1",
                    files={"image": ("p.jpg", portrait, "image/jpeg")})
    assert r.status_code == 200, r.text
    (obj,) = r.json()["objects"]
    assert set(obj) == {"id", "class", "confidence", "bbox", "liveness"}
    assert obj["liveness"]["value"] in ("REAL", "FAKE") and 0.5 <= obj["liveness"]["confidence"] <= 1.0


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_mask_estimator_carries_the_engine_mask(client, fast_engine, portrait, version) -> None:
    # The mask is a landmark + pixel method (visage.analysis.occluders): it runs on either pipeline.
    need(client, "mask-estimator")
    truth = fast_engine.analyze(portrait, AnalyzeOptions(attributes=frozenset({"mask"})))
    sample: dict = {}
    put_image(sample, version, portrait)
    r = client.post("/mask-estimator/process/sample", json=sample)
    assert r.status_code == 200, r.text
    (obj,) = r.json()["objects"]
    key = "mask" if version == "v1" else "has_medical_mask"
    mask = truth.faces[0].attributes["mask"]
    assert obj[key] == {"confidence": pytest.approx(mask["score"]), "value": False}


def test_body_detector(client, fast_engine, faces_dir) -> None:
    need(client, "body-detector")
    image = (faces_dir / "scenes" / "kit_with_rose.jpg").read_bytes()
    decoded = fast_engine.decode(image)
    truth = fast_engine.detect_bodies(decoded)
    faces = client.post("/face-detector/process/sample", json={"$image": b64(image)}).json()
    r = client.post("/body-detector/process/sample", json=faces)
    assert r.status_code == 200, r.text
    objects = r.json()["objects"]
    bodies = [o for o in objects if o["class"] == "body"]
    assert objects[: len(faces["objects"])] == faces["objects"]      # face objects kept, bodies appended
    assert [o["id"] for o in objects] == list(range(len(objects)))
    assert len(bodies) == len(truth) >= 2
    for obj, det in zip(bodies, truth, strict=True):
        assert obj["confidence"] == pytest.approx(det.confidence)
        assert obj["bbox"] == pytest.approx(norm_bbox(det.box, decoded.width, decoded.height))


def test_estimators_on_the_dlib_pipeline_say_not_available(dlib_client, portrait) -> None:
    """The attribute models need the fast pipeline's mesh: on dlib the block answers 501, not a guess."""
    r = dlib_client.post("/age-estimator/process/sample", json={"$image": b64(portrait)})
    assert r.status_code == 501 and "age" in r.json()["detail"] and set(r.json()) == {"detail"}
