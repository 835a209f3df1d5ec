"""Rekognition wire fields on real photos through boto3, every response checked against botocore's model:
IndexFaces' FaceDetail equals DetectFaces' (DEFAULT and ALL) and keeps Quality under QualityFilter=NONE,
one ImageId per call, stored faces' BoundingBox and IndexFacesModelVersion in ListFaces and the searches,
Emotions/Smile on ComparedFace, FaceOccluded, EyeDirection (sign flips on a mirrored photo), and the
attribute members present exactly when the engine measures them.

The fast pipeline with Iris runs here (the attribute models need its mesh; EyeDirection its iris points).
No face count or score of today's models is hard-coded: expectations come from the engine in the same run.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps
from rek_support import AKID, SECRET, Wire, check_output, client, serve

from visage.analysis import attributes as attributes_module
from visage.analysis.pipeline import AnalyzeOptions
from visage.api.app import create_app
from visage.config import Settings
from visage.engine import Engine

pytestmark = pytest.mark.slow

ATTRIBUTE_MEMBERS = {"EyesOpen": "eyes_open", "Beard": "beard", "Mustache": "mustache", "Eyeglasses": "glasses",
                     "Sunglasses": "glasses", "Smile": "smile", "Emotions": "emotion", "AgeRange": "age",
                     "Gender": "gender"}


@pytest.fixture(scope="module")
def fast_engine() -> Engine:
    return Engine(Settings(pipeline="fast", fast_iris=True))


@pytest.fixture(scope="module")
def wire() -> Wire:
    return Wire()


@pytest.fixture(scope="module")
def rek(fast_engine, wire, tmp_path_factory):
    home = tmp_path_factory.mktemp("rek-wire")
    settings = Settings(aws_keys=f"{AKID}:{SECRET}", store_url=f"sqlite:///{home / 'store.db'}", home=home)
    with serve(create_app(settings, fast_engine)) as url:
        c = client(url, wire=wire)
        original = c._make_api_call

        def checked(operation_name, params):  # every successful response is checked against the model
            out = original(operation_name, params)
            check_output(operation_name, wire.last)
            return out

        c._make_api_call = checked
        c.create_collection(CollectionId="wire")
        yield c


def photo(faces_dir, name: str) -> bytes:
    return (faces_dir / name).read_bytes()


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def approx_detail(a: object, b: object, path: str = "$") -> None:
    """Two wire values: the same members and strings, numbers to 1e-4 relative."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, a, b)
        for key in a:
            approx_detail(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            approx_detail(x, y, f"{path}[{i}]")
    elif isinstance(a, bool | str) or a is None:
        assert a == b, (path, a, b)
    else:
        assert a == pytest.approx(b, rel=1e-4, abs=1e-4), (path, a, b)


@pytest.mark.parametrize("attributes", [["DEFAULT"], ["ALL"]])
def test_index_faces_detail_is_detect_faces_detail(rek, wire, faces_dir, attributes) -> None:
    data = photo(faces_dir, "obama.jpg")
    detected = rek.detect_faces(Image={"Bytes": data}, Attributes=attributes)["FaceDetails"]
    indexed = rek.index_faces(CollectionId="wire", Image={"Bytes": data}, DetectionAttributes=attributes,
                              QualityFilter="NONE", MaxFaces=1)["FaceRecords"]
    assert len(indexed) == 1 and detected
    approx_detail(indexed[0]["FaceDetail"], detected[0])
    members = set(indexed[0]["FaceDetail"])
    assert {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"} <= members
    if attributes == ["ALL"]:
        assert {"Emotions", "Smile", "AgeRange", "Gender", "FaceOccluded", "EyeDirection"} <= members
    else:
        assert not {"Emotions", "Smile", "AgeRange", "Gender", "FaceOccluded", "EyeDirection"} & members


def test_quality_filter_none_keeps_quality(rek, faces_dir) -> None:
    r = rek.index_faces(CollectionId="wire", Image={"Bytes": photo(faces_dir, "scenes/obama_and_biden.jpg")},
                        QualityFilter="NONE", MaxFaces=1)
    details = [f["FaceDetail"] for f in r["FaceRecords"]] + [u["FaceDetail"] for u in r["UnindexedFaces"]]
    assert details
    for d in details:
        assert set(d["Quality"]) == {"Brightness", "Sharpness"}  # boto3 code reading it gets no KeyError
        assert all(0 <= v <= 100 for v in d["Quality"].values())


def test_one_image_id_per_index_faces_call(rek, faces_dir) -> None:
    data = photo(faces_dir, "biden.jpg")
    first, second = (rek.index_faces(CollectionId="wire", Image={"Bytes": data}, MaxFaces=1)["FaceRecords"][0]["Face"]
                     for _ in range(2))
    assert first["ImageId"] != second["ImageId"] and first["FaceId"] != second["FaceId"]
    for face in (first, second):
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", face["ImageId"])
    # Same image, same ExternalImageId: AWS does not duplicate, and the stored face comes back as it was.
    tagged = [rek.index_faces(CollectionId="wire", Image={"Bytes": data}, ExternalImageId="joe",
                              MaxFaces=1)["FaceRecords"][0]["Face"] for _ in range(2)]
    assert tagged[0]["FaceId"] == tagged[1]["FaceId"] and tagged[0]["ImageId"] == tagged[1]["ImageId"]


def test_stored_faces_keep_their_box(rek, faces_dir) -> None:
    rek.create_collection(CollectionId="boxes")
    indexed = {}
    for name in ("obama.jpg", "people/obama/obama2.jpg", "biden.jpg"):
        (rec,) = rek.index_faces(CollectionId="boxes", Image={"Bytes": photo(faces_dir, name)}, MaxFaces=1,
                                 QualityFilter="NONE")["FaceRecords"]
        assert rec["Face"]["BoundingBox"] == pytest.approx(rec["FaceDetail"]["BoundingBox"])
        assert re.fullmatch(r"[0-9.]+", rec["Face"]["IndexFacesModelVersion"])
        indexed[rec["Face"]["FaceId"]] = rec["Face"]

    def same(face: dict) -> None:
        assert face["BoundingBox"] == pytest.approx(indexed[face["FaceId"]]["BoundingBox"])
        assert face["IndexFacesModelVersion"] == indexed[face["FaceId"]]["IndexFacesModelVersion"]

    listed = rek.list_faces(CollectionId="boxes")["Faces"]
    assert {f["FaceId"] for f in listed} == set(indexed)
    for face in listed:
        same(face)
    probe = next(iter(indexed))
    for match in rek.search_faces(CollectionId="boxes", FaceId=probe, FaceMatchThreshold=0)["FaceMatches"]:
        same(match["Face"])
    by_image = rek.search_faces_by_image(CollectionId="boxes", Image={"Bytes": photo(faces_dir, "obama2.jpg")},
                                         FaceMatchThreshold=0)["FaceMatches"]
    assert by_image
    for match in by_image:
        same(match["Face"])


def test_compared_face_has_emotions_and_smile(rek, faces_dir, fast_engine) -> None:
    target = photo(faces_dir, "two_people.jpg")
    r = rek.compare_faces(SourceImage={"Bytes": photo(faces_dir, "obama.jpg")}, TargetImage={"Bytes": target},
                          SimilarityThreshold=0)
    compared = [m["Face"] for m in r["FaceMatches"]] + r["UnmatchedFaces"]
    detected = rek.detect_faces(Image={"Bytes": target}, Attributes=["ALL"])["FaceDetails"]
    assert compared and len(compared) == len(detected)
    by_box = {round(d["BoundingBox"]["Left"], 6): d for d in detected}
    for face in compared:
        same = by_box[round(face["BoundingBox"]["Left"], 6)]
        approx_detail(face["Smile"], same["Smile"])
        approx_detail(face["Emotions"], same["Emotions"])


def test_face_occluded_on_a_real_photo_and_a_covered_one(rek, faces_dir) -> None:
    data = photo(faces_dir, "obama.jpg")
    (clear,) = rek.detect_faces(Image={"Bytes": data}, Attributes=["FACE_OCCLUDED"])["FaceDetails"]
    assert clear["FaceOccluded"] == {"Value": False}
    img = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = img.size
    marks = {m["Type"]: (m["X"] * w, m["Y"] * h) for m in clear["Landmarks"]}
    box = clear["BoundingBox"]
    # A flat blue patch (a surgical mask's colour) from below the eyes to the chin.
    top = (marks["eyeLeft"][1] + marks["nose"][1]) / 2
    ImageDraw.Draw(img).rectangle([box["Left"] * w, top, (box["Left"] + box["Width"]) * w, marks["chinBottom"][1]],
                                  fill=(90, 140, 200))
    covered = rek.detect_faces(Image={"Bytes": jpeg(img)}, Attributes=["FACE_OCCLUDED"])["FaceDetails"]
    assert covered and covered[0]["FaceOccluded"] == {"Value": True}


def test_eye_direction_flips_on_a_mirrored_photo(rek, faces_dir) -> None:
    """obama2.jpg looks well to one side: the mirrored photo must give the other sign (docs/rekognition.md)."""
    data = photo(faces_dir, "obama2.jpg")
    mirrored = jpeg(ImageOps.mirror(Image.open(io.BytesIO(data)).convert("RGB")))
    (a,) = rek.detect_faces(Image={"Bytes": data}, Attributes=["EYE_DIRECTION"])["FaceDetails"]
    (b,) = rek.detect_faces(Image={"Bytes": mirrored}, Attributes=["EYE_DIRECTION"])["FaceDetails"]
    ya, yb = a["EyeDirection"]["Yaw"], b["EyeDirection"]["Yaw"]
    assert set(a["EyeDirection"]) == {"Yaw", "Pitch"}  # no calibrated confidence: none invented
    assert max(abs(ya), abs(yb)) > 8 and ya * yb < 0 and abs(ya + yb) < 0.5 * max(abs(ya), abs(yb))
    assert a["EyeDirection"]["Pitch"] == pytest.approx(b["EyeDirection"]["Pitch"], abs=5)


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg", "scenes/kit_with_rose.jpg"])
def test_attribute_members_exactly_when_measured(rek, faces_dir, fast_engine, name) -> None:
    """EyesOpen, Beard, Mustache, Eyeglasses/Sunglasses...: present with the engine's value when it
    measures the attribute, absent when it does not (never invented)."""
    data = photo(faces_dir, name)
    details = rek.detect_faces(Image={"Bytes": data}, Attributes=["ALL"])["FaceDetails"]
    wanted = frozenset({*ATTRIBUTE_MEMBERS.values(), "mask"})
    truth = fast_engine.analyze(data, AnalyzeOptions(quality=True, attributes=wanted))
    assert len(details) == len(truth.faces)
    for d, face in zip(details, truth.faces, strict=True):
        attrs = face.attributes or {}
        for member, key in ATTRIBUTE_MEMBERS.items():
            if key not in attrs:
                assert member not in d, member
        for member, key in (("EyesOpen", "eyes_open"), ("Beard", "beard"), ("Mustache", "mustache")):
            if key in attrs:
                assert d[member]["Value"] is attrs[key]["value"]
                assert d[member]["Confidence"] == pytest.approx(100 * attrs[key]["probability"])
        glasses = attrs.get("glasses")
        if glasses is not None:
            assert d["Sunglasses"]["Value"] is (glasses["value"] == "sun")
            if glasses["value"] != "none":
                assert d["Eyeglasses"]["Value"] is True
            elif getattr(attributes_module, "GLASSES_METHOD", None) in truth.models:  # sees clear glasses
                assert d["Eyeglasses"]["Value"] is False
            else:  # a sun/none measure: "none" is no sunglasses, not no glasses
                assert "Eyeglasses" not in d
        occlusion = (face.quality or {}).get("occlusion", {})
        least_visible = min(occlusion[p] for p in ("left_eye", "right_eye", "nose", "mouth"))
        masked = bool(attrs.get("mask", {}).get("value"))
        assert d["FaceOccluded"]["Value"] is (least_visible < 0.5 or masked)
        assert np.isfinite(d["EyeDirection"]["Yaw"]) and -90 <= d["EyeDirection"]["Pitch"] <= 90
