"""DetectFaces and CompareFaces through the real boto3 client against a visage server."""

from __future__ import annotations

import os

import pytest
from rek_support import Wire, check_output, client

from visage.api.dialects.rekognition.routes import analysis_options

pytestmark = pytest.mark.slow

LANDMARK_TYPES = {
    "eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight", "leftEyeBrowLeft", "leftEyeBrowRight",
    "leftEyeBrowUp", "rightEyeBrowLeft", "rightEyeBrowRight", "rightEyeBrowUp", "leftEyeLeft", "leftEyeRight",
    "leftEyeUp", "leftEyeDown", "rightEyeLeft", "rightEyeRight", "rightEyeUp", "rightEyeDown", "noseLeft",
    "noseRight", "mouthUp", "mouthDown", "leftPupil", "rightPupil", "upperJawlineLeft", "midJawlineLeft",
    "chinBottom", "midJawlineRight", "upperJawlineRight",
}


@pytest.fixture(scope="module")
def wire() -> Wire:
    return Wire()


@pytest.fixture(scope="module")
def rek(endpoint, wire):
    return client(endpoint, wire=wire)


def img(faces_dir, name: str) -> dict:
    return {"Bytes": (faces_dir / name).read_bytes()}


def test_detect_faces_all_attributes(rek, wire, faces_dir, engine) -> None:
    out = rek.detect_faces(Image=img(faces_dir, "two_people.jpg"), Attributes=["ALL"])
    check_output("DetectFaces", wire.last)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200 and out["ResponseMetadata"]["RequestId"]
    details = out["FaceDetails"]
    truth = engine.analyze((faces_dir / "two_people.jpg").read_bytes(), analysis_options())
    assert len(details) == len(truth.faces) == 2
    for d, face in zip(details, truth.faces, strict=True):
        box = d["BoundingBox"]
        assert box["Left"] == pytest.approx(face.box.left / truth.width)
        assert box["Top"] == pytest.approx(face.box.top / truth.height)
        assert box["Width"] == pytest.approx(face.box.width / truth.width)
        assert box["Height"] == pytest.approx(face.box.height / truth.height)
        assert d["Confidence"] == pytest.approx(face.confidence * 100)
        assert d["Pose"] == pytest.approx({"Yaw": face.pose.yaw, "Pitch": face.pose.pitch, "Roll": face.pose.roll})
        marks = {m["Type"]: (m["X"], m["Y"]) for m in d["Landmarks"]}
        assert set(marks) == LANDMARK_TYPES and len(d["Landmarks"]) == 30
        # Geometry on the image: left is image-left, the chin is lowest, the mouth below the nose.
        assert marks["eyeLeft"][0] < marks["nose"][0] < marks["eyeRight"][0]
        assert marks["leftEyeLeft"][0] < marks["leftPupil"][0] < marks["leftEyeRight"][0]
        assert marks["mouthLeft"][0] < marks["mouthRight"][0]
        assert marks["eyeLeft"][1] < marks["nose"][1] < marks["mouthUp"][1] < marks["mouthDown"][1]
        assert marks["chinBottom"][1] == max(y for _, y in marks.values())
        assert marks["leftEyeBrowUp"][1] < marks["leftEyeUp"][1] < marks["leftEyeDown"][1]
        for x, y in marks.values():
            assert box["Left"] - 0.1 * box["Width"] < x < box["Left"] + 1.1 * box["Width"]
            assert box["Top"] - 0.3 * box["Height"] < y < box["Top"] + 1.2 * box["Height"]
        # Quality and attributes appear exactly when the engine measured them: never invented.
        measured = {k: v for k, v in (face.quality or {}).items() if k in ("brightness", "sharpness")}
        if measured:
            assert d["Quality"] == pytest.approx({k.capitalize(): v for k, v in measured.items()})
        else:
            assert "Quality" not in d
        if not face.attributes:
            assert not {"AgeRange", "Gender", "Emotions", "Smile", "EyesOpen"} & set(d)


def test_detect_faces_default_and_named_attributes(rek, wire, faces_dir) -> None:
    default = rek.detect_faces(Image=img(faces_dir, "obama.jpg"))["FaceDetails"]
    check_output("DetectFaces", wire.last)
    assert len(default) == 1 and {"BoundingBox", "Confidence", "Landmarks", "Pose"} <= set(default[0])
    named = rek.detect_faces(Image=img(faces_dir, "obama.jpg"), Attributes=["DEFAULT", "FACE_OCCLUDED", "AGE_RANGE"])
    check_output("DetectFaces", wire.last)
    assert named["FaceDetails"][0]["BoundingBox"] == default[0]["BoundingBox"]


def test_detect_faces_png_rgba_and_no_face(rek, faces_dir) -> None:
    assert len(rek.detect_faces(Image=img(faces_dir, "32bit.png"))["FaceDetails"]) == 1
    from tests_support import flat_png

    assert rek.detect_faces(Image={"Bytes": flat_png()})["FaceDetails"] == []


def test_compare_faces_same_and_different(rek, wire, faces_dir, engine) -> None:
    people = "people/"
    same = rek.compare_faces(SourceImage=img(faces_dir, people + "obama/obama.jpg"),
                             TargetImage=img(faces_dir, people + "obama/obama2.jpg"))
    check_output("CompareFaces", wire.last)
    assert len(same["FaceMatches"]) == 1 and same["UnmatchedFaces"] == []
    expected = engine.verify((faces_dir / people / "obama/obama.jpg").read_bytes(),
                             (faces_dir / people / "obama/obama2.jpg").read_bytes())
    assert same["FaceMatches"][0]["Similarity"] == pytest.approx(expected.similarity * 100, abs=1e-3)
    face = same["FaceMatches"][0]["Face"]
    assert {m["Type"] for m in face["Landmarks"]} == {"eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose"}
    assert set(same["SourceImageFace"]) == {"BoundingBox", "Confidence"}

    diff = rek.compare_faces(SourceImage=img(faces_dir, people + "obama/obama.jpg"),
                             TargetImage=img(faces_dir, people + "biden/biden.jpg"))
    check_output("CompareFaces", wire.last)
    assert diff["FaceMatches"] == [] and len(diff["UnmatchedFaces"]) == 1


def test_compare_faces_scene_threshold_and_quality_filter(rek, wire, faces_dir) -> None:
    source, scene = img(faces_dir, "people/biden/biden2.jpg"), img(faces_dir, "scenes/obama_and_biden.jpg")
    out = rek.compare_faces(SourceImage=source, TargetImage=scene)
    check_output("CompareFaces", wire.last)
    assert len(out["FaceMatches"]) == 1 and len(out["UnmatchedFaces"]) == 2
    everyone = rek.compare_faces(SourceImage=source, TargetImage=scene, SimilarityThreshold=0)
    sims = [m["Similarity"] for m in everyone["FaceMatches"]]
    assert len(sims) == 3 and sims == sorted(sims, reverse=True) and everyone["UnmatchedFaces"] == []
    assert sims[0] == pytest.approx(out["FaceMatches"][0]["Similarity"])
    high = rek.compare_faces(SourceImage=source, TargetImage=scene, SimilarityThreshold=0, QualityFilter="HIGH")
    check_output("CompareFaces", wire.last)
    assert len(high["FaceMatches"]) <= 3


def test_compare_faces_source_without_face(rek, faces_dir) -> None:
    from tests_support import flat_png

    with pytest.raises(rek.exceptions.InvalidParameterException, match="no faces in the source"):
        rek.compare_faces(SourceImage={"Bytes": flat_png()}, TargetImage=img(faces_dir, "obama.jpg"))


def test_bad_image_bytes(rek, faces_dir) -> None:
    with pytest.raises(rek.exceptions.InvalidImageFormatException) as err:
        rek.detect_faces(Image={"Bytes": b"this is not an image"})
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    truncated = (faces_dir / "obama.jpg").read_bytes()[:2000]
    with pytest.raises(rek.exceptions.InvalidImageFormatException):
        rek.compare_faces(SourceImage={"Bytes": truncated}, TargetImage=img(faces_dir, "obama.jpg"))
    # ... and the server keeps serving.
    assert len(rek.detect_faces(Image=img(faces_dir, "obama.jpg"))["FaceDetails"]) == 1


def test_image_over_5_mb(rek) -> None:
    with pytest.raises(rek.exceptions.ImageTooLargeException):
        rek.detect_faces(Image={"Bytes": os.urandom(5 * 1024 * 1024 + 1)})


def test_s3_object_without_endpoint(rek) -> None:
    with pytest.raises(rek.exceptions.InvalidS3ObjectException, match="VISAGE_S3_ENDPOINT_URL"):
        rek.detect_faces(Image={"S3Object": {"Bucket": "photos", "Name": "a.jpg"}})


def test_server_side_validation(endpoint, faces_dir) -> None:
    raw = client(endpoint, parameter_validation=False)
    image = img(faces_dir, "obama.jpg")
    with pytest.raises(raw.exceptions.InvalidParameterException, match="enum value set"):
        raw.detect_faces(Image=image, Attributes=["EVERYTHING"])
    with pytest.raises(raw.exceptions.InvalidParameterException, match="similarityThreshold"):
        raw.compare_faces(SourceImage=image, TargetImage=image, SimilarityThreshold=101)
    with pytest.raises(raw.exceptions.InvalidParameterException, match="Member must not be null"):
        raw.compare_faces(SourceImage=image)
    with pytest.raises(raw.exceptions.InvalidParameterException, match="exactly one of Bytes or S3Object"):
        raw.detect_faces(Image={})


def test_detect_faces_dlib_sunglasses_but_no_eyeglasses(rek, wire, faces_dir) -> None:
    # Eyeglasses false needs a glasses measure with a "common" class; the dlib pipeline's sun/none measure
    # cannot say it (docs/rekognition.md).
    out = rek.detect_faces(Image=img(faces_dir, "obama.jpg"), Attributes=["SUNGLASSES", "EYEGLASSES"])
    check_output("DetectFaces", wire.last)
    (d,) = out["FaceDetails"]
    assert d["Sunglasses"]["Value"] is False and 50 <= d["Sunglasses"]["Confidence"] <= 100
    assert "Eyeglasses" not in d
    assert "Sunglasses" not in rek.detect_faces(Image=img(faces_dir, "obama.jpg"))["FaceDetails"][0]


@pytest.fixture(scope="module")
def fast_app():
    """The fast pipeline (the attribute models need its face mesh), anonymous access for brevity."""
    import contextlib

    from fastapi.testclient import TestClient

    from visage.api.app import create_app
    from visage.config import Settings
    from visage.engine import Engine

    settings = Settings(pipeline="fast", rekognition_auth="off")
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(TestClient(create_app(settings, Engine(settings))))


def _detect(client, image: bytes, attributes: list[str]) -> dict:
    import base64
    import json

    r = client.post("/", content=json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()},
                                              "Attributes": attributes}),
                    headers={"content-type": "application/x-amz-json-1.1",
                             "x-amz-target": "RekognitionService.DetectFaces"})
    assert r.status_code == 200, r.text
    check_output("DetectFaces", r.json())
    return r.json()


@pytest.mark.parametrize(("name", "gender"), [("people/rose_leslie/img2.jpg", "Female"),
                                              ("people/obama/obama.jpg", "Male")])
def test_detect_faces_all_returns_the_measured_attributes(fast_app, faces_dir, name, gender) -> None:
    (d,) = _detect(fast_app, (faces_dir / name).read_bytes(), ["ALL"])["FaceDetails"]
    assert d["Gender"]["Value"] == gender and 50 <= d["Gender"]["Confidence"] <= 100
    assert 18 <= d["AgeRange"]["Low"] <= d["AgeRange"]["High"] <= 90  # every fixture person is an adult
    types = [e["Type"] for e in d["Emotions"]]
    assert len(types) == 7 and "CONFUSED" not in types  # no source class for CONFUSED (docs/attributes.md)
    assert sum(e["Confidence"] for e in d["Emotions"]) == pytest.approx(100, abs=0.5)
    assert d["Smile"]["Confidence"] == next(e["Confidence"] for e in d["Emotions"] if e["Type"] == "HAPPY")
    assert set(d["MouthOpen"]) == {"Value"}  # a landmark ratio: no calibrated confidence to report
    assert d["Sunglasses"]["Value"] is False
    assert set(d["FaceOccluded"]) == {"Value"} and d["FaceOccluded"]["Value"] is False  # the occlusion measure
    assert "EyeDirection" not in d  # this pipeline runs without Iris: no iris points, no gaze
    from visage.analysis.attributes import UNSUPPORTED

    for member, key in (("Beard", "beard"), ("Mustache", "mustache"), ("EyesOpen", "eyes_open")):
        if key in UNSUPPORTED:
            assert member not in d  # no model or measured method: omitted, never invented


def test_detect_faces_runs_only_the_attributes_asked_for(fast_app, faces_dir) -> None:
    (d,) = _detect(fast_app, (faces_dir / "obama.jpg").read_bytes(), ["GENDER"])["FaceDetails"]
    assert "Gender" in d and not {"AgeRange", "Emotions", "Smile", "MouthOpen", "Sunglasses"} & set(d)
