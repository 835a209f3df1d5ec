"""Values, not just shapes: each wire field equals the engine's own measurement in 3DiVi's units."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from threedivi_support import b64, put_image

from visage.analysis.pipeline import AnalyzeOptions
from visage.api.dialects.threedivi.mapping import FDA21, QAA_FIELDS, norm_bbox
from visage.api.dialects.threedivi.roc import get_roc
from visage.api.dialects.threedivi.schemas import b64decode, decode_template
from visage.calibration import get_calibration

pytestmark = pytest.mark.slow


def post(client, block: str, sample: dict):
    r = client.post(f"/{block}/process/sample", json=sample)
    assert r.status_code == 200, r.text
    return r.json()


def test_fitter_v1_v2_agree_with_the_engine(client, fast_engine, two_people) -> None:
    truth = fast_engine.analyze(two_people, AnalyzeOptions(landmarks=True, pose=True))
    w, h = truth.width, truth.height
    v1 = post(client, "face-detector-face-fitter", {"$image": b64(two_people)})["objects"]
    v2 = post(client, "face-detector-face-fitter", {"_image": {"blob": b64(two_people), "format": "IMAGE"}})["objects"]
    assert len(v1) == len(v2) == len(truth.faces) == 2
    for face, a, b in zip(truth.faces, v1, v2, strict=True):
        assert a["bbox"] == pytest.approx(norm_bbox(face.box, w, h)) and b["bbox"] == a["bbox"]
        assert a["confidence"] == b["confidence"] == pytest.approx(face.confidence)
        assert a["angles"] == b["pose"] == {"yaw": face.pose.yaw, "roll": face.pose.roll, "pitch": face.pose.pitch}
        kp = np.array(a["fitter"]["keypoints"]).reshape(21, 3)
        assert np.all(kp[:, 2] == 0)
        proj = np.array([b["keypoints"][n]["proj"] for n in FDA21])
        assert np.allclose(kp[:, :2] / [w, h], proj)
        assert b["keypoints"]["fitter_type"] == a["fitter"]["fitter_type"] == "fda"
        assert a["fitter"]["left_eye"] == list(kp[7, :2]) and a["fitter"]["right_eye"] == list(kp[10, :2])
        # "left" is the image's left; every point lies near the face box.
        assert kp[7, 0] < kp[10, 0] and kp[6, 0] < kp[8, 0] < kp[9, 0] < kp[11, 0]
        x1, y1, x2, y2 = a["bbox"]
        assert np.all((proj[:, 0] > x1 - 0.05) & (proj[:, 0] < x2 + 0.05))
        assert np.all((proj[:, 1] > y1 - 0.1) & (proj[:, 1] < y2 + 0.05))
        assert kp[20, 1] > kp[18, 1] > kp[14, 1] > kp[7, 1]  # chin below mouth below nose below eyes


def test_dlib_fitter_maps_68_points(dlib_client, engine, portrait) -> None:
    face = engine.analyze(portrait, AnalyzeOptions(landmarks=True, pose=True)).faces[0]
    obj = post(dlib_client, "face-detector-face-fitter", {"$image": b64(portrait)})["objects"][0]
    kp = np.array(obj["fitter"]["keypoints"]).reshape(21, 3)[:, :2]
    pts = face.landmarks.points
    assert np.allclose(kp[14], pts[30]) and np.allclose(kp[20], pts[8])  # nose tip, chin
    assert np.allclose(kp[7], pts[36:42].mean(axis=0))                  # image-left eye centre


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_templates_roundtrip_and_template_extractor(client, fast_engine, portrait, version) -> None:
    sample: dict = {}
    put_image(sample, version, portrait)
    obj = post(client, "face-detector-template-extractor", sample)["objects"][0]
    if version == "v1":
        blob = b64decode(obj["$template"], "t")
        assert obj["template_size"] == len(blob) // 4
    else:
        (key, entry), = obj["template"].items()
        assert key == "_face_template_extractor_1000_12"
        blob = b64decode(entry["blob"], "t")
        assert entry["format"] == "NDARRAY" and entry["dtype"] == "uint8" and entry["shape"] == [len(blob)]
    template = decode_template(blob, "t")
    truth = fast_engine.largest_template(portrait)
    assert template.model == truth.model and template.cosine(truth) > 0.9999
    # template-extractor on the fitter's objects gives the same template for the same face.
    fitted = post(client, "face-detector-face-fitter", sample)
    extracted = post(client, "template-extractor", fitted)["objects"][0]
    assert ("fitter" in extracted) == (version == "v1") and ("keypoints" in extracted) == (version == "v2")
    again = decode_template(b64decode(extracted["$template"] if version == "v1" else
                                      extracted["template"][key]["blob"], "t"), "t")
    assert again.cosine(template) > 0.9999


def _objects(client, image: bytes, version: str) -> dict:
    sample: dict = {}
    put_image(sample, version, image)
    return post(client, "face-detector-template-extractor", sample)["objects"][0]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_verify_matcher_uses_the_measured_roc(client, faces_dir, version) -> None:
    obama = _objects(client, (faces_dir / "people/obama/obama.jpg").read_bytes(), version)
    obama2 = _objects(client, (faces_dir / "people/obama/obama2.jpg").read_bytes(), version)
    biden = _objects(client, (faces_dir / "people/biden/biden.jpg").read_bytes(), version)
    same = post(client, "verify-matcher", {"objects": [obama, obama2]})
    diff = post(client, "verify-matcher", {"objects": [obama, biden]})
    assert same["objects"] == [obama, obama2]
    for res, pair in ((same, (obama, obama2)), (diff, (obama, biden))):
        v = res["verification"]
        assert set(v) == {"distance", "fa_r", "fr_r", "score"}
        a, b = (decode_template(b64decode(o["$template"] if version == "v1" else
                                          next(iter(o["template"].values()))["blob"], "t"), "t") for o in pair)
        cosine = a.cosine(b)
        assert v["distance"] == pytest.approx(1 - cosine, abs=1e-5)
        far, frr = get_roc(a.model).rates(v["distance"])
        assert (v["fa_r"], v["fr_r"]) == (pytest.approx(far, abs=1e-6), pytest.approx(frr, abs=1e-6))
        assert v["score"] == pytest.approx(get_calibration(a.model).similarity(cosine), abs=1e-6)
    s, d = same["verification"], diff["verification"]
    assert s["distance"] < d["distance"] and s["score"] > 0.5 > d["score"]
    assert s["fa_r"] == 0.0 and d["fr_r"] == 0.0          # measured: no impostor that close, no genuine that far
    assert d["fa_r"] > 0.0 or s["fr_r"] > 0.0              # rates come from the curve, not constants


def test_roc_is_a_measured_monotone_curve(fast_engine) -> None:
    roc = get_roc(fast_engine.embedder_model)
    assert roc.genuine.size == 537 and roc.impostor.size == 34179  # every pair of calib/ (bench/calibrate.py)
    grid = np.linspace(0, 2, 201)
    far = np.array([roc.rates(d)[0] for d in grid])
    frr = np.array([roc.rates(d)[1] for d in grid])
    assert np.all(np.diff(far) >= 0) and np.all(np.diff(frr) <= 0)
    assert roc.rates(0.0) == (0.0, 1.0) and roc.rates(2.0) == (1.0, 0.0)
    assert roc.rates(float(roc.impostor.max()))[0] == 1.0
    assert roc.rates(float(roc.genuine.max()))[1] == 0.0


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_search_matcher_over_a_collection(client, faces_dir, version) -> None:
    service = client.app.state.visage.collections
    cid = f"people-{version}"
    service.create_collection(cid)
    for who in ("obama/obama.jpg", "biden/biden.jpg", "rose_leslie/img1.jpg"):
        service.index_faces(cid, (faces_dir / "people" / who).read_bytes(), external_image_id=who.split("/")[0])
    probe = _objects(client, (faces_dir / "people/obama/obama2.jpg").read_bytes(), version)
    res = post(client, "search-matcher", {"objects": [probe], "collection_id": cid, "knn": 2})
    hits = res["objects"][0]["search_result"]
    assert len(hits) == 2 and hits[0]["external_image_id"] == "obama"
    assert hits[0]["distance"] < hits[1]["distance"] and hits[0]["score"] > 0.5 > hits[1]["score"]
    assert set(hits[0]) == {"face_id", "image_id", "external_image_id", "user_id", "distance", "score", "fa_r", "fr_r"}
    # The same from an upload: detect, extract, search.
    r = client.post(f"/search-matcher/process/image?version={version}", data={"collection_id": cid, "knn": "1"},
                    files={"image": ("p.jpg", (faces_dir / "people/obama/obama2.jpg").read_bytes(), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["objects"][0]["search_result"][0]["external_image_id"] == "obama"
    r = client.post("/search-matcher/process/sample", json={"objects": [probe], "collection_id": "nope"})
    assert r.status_code == 404 and set(r.json()) == {"detail"}


def test_verify_matcher_process_image_takes_two_photos(client, faces_dir) -> None:
    r = client.post("/verify-matcher/process/image", files={
        "a": ("a.jpg", (faces_dir / "people/biden/biden.jpg").read_bytes(), "image/jpeg"),
        "b": ("b.jpg", (faces_dir / "people/biden/biden2.jpg").read_bytes(), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["verification"]["score"] > 0.5 and len(r.json()["objects"]) == 2


@pytest.mark.parametrize("pipeline", ["fast", "dlib"])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_quality_maps_the_icao_block(request, portrait, version, pipeline) -> None:
    client = request.getfixturevalue("client" if pipeline == "fast" else "dlib_client")
    engine = request.getfixturevalue("fast_engine" if pipeline == "fast" else "engine")
    truth = engine.analyze(portrait, AnalyzeOptions(quality=True, icao=True)).faces[0].quality["icao"]
    sample: dict = {}
    put_image(sample, version, portrait)
    fitted = post(client, "face-detector-face-fitter", sample)
    res = post(client, "quality-assessment-estimator", fitted)["objects"][0]
    got = res["quality"]["qaa"] if version == "v1" else res["quality"]
    emotion = None
    if pipeline == "fast" and "emotion" in _supported():
        emotion = engine.analyze(portrait, AnalyzeOptions(attributes=frozenset({"emotion"}))).faces[0].attributes
        emotion = emotion.get("emotion") if emotion else None
    for snake, camel in QAA_FIELDS.items():
        name = camel if version == "v1" else snake
        if snake == "neutral_emotion_score" and emotion is not None:
            assert got[name] == emotion["scores"]["neutral"]
        elif snake == "is_neutral_emotion" and emotion is not None:
            assert got[name] == (emotion["dominant"] == "neutral")
        else:
            assert got[name] == truth.get(snake), name   # absent in visage -> null
    assert got["totalScore" if version == "v1" else "total_score"] is not None
    # The client's fitter output is kept as sent.
    assert {k: res[k] for k in fitted["objects"][0]} == fitted["objects"][0]
    # Without objects the block detects first.
    alone = post(client, "quality-assessment-estimator", sample)["objects"][0]
    assert alone["quality"] == res["quality"]


def _supported() -> frozenset[str]:
    from visage.api.dialects.threedivi.routes import _supported_attributes

    return _supported_attributes()


def test_a_pipeline_without_quality_answers_501(client, fast_engine, portrait, monkeypatch) -> None:
    real = fast_engine.analyze

    def no_quality(image, options):
        res = real(image, options)
        return dataclasses.replace(res, faces=tuple(dataclasses.replace(f, quality=None) for f in res.faces))

    monkeypatch.setattr(fast_engine, "analyze", no_quality)
    r = client.post("/quality-assessment-estimator/process/sample", json={"$image": b64(portrait)})
    assert r.status_code == 501 and "ICAO" in r.json()["detail"] and set(r.json()) == {"detail"}
