"""Qiniu dialect units: field mapping, FACE_TOKEN cache, management-token signing string, liveness levels."""

from __future__ import annotations

import base64
import hashlib
import hmac

import numpy as np
import pytest

from visage.api.dialects.qiniu import auth
from visage.api.dialects.qiniu.errors import LivenessFailedError, NotSupportedError, log_id
from visage.api.dialects.qiniu.mapping import face_to_wire, probability
from visage.api.dialects.qiniu.routes import _check_liveness
from visage.api.dialects.qiniu.tokens import FaceTokenCache, face_token, image_digest
from visage.types import Box, Face, Landmarks, Pose

SEED_EXAMPLE_ORDER = ["face_token", "location", "face_probability", "angle", "landmark", "landmark72", "age",
                      "expression", "gender", "glasses", "face_shape", "quality"]

QUALITY = {"blur": 0.37, "illumination": 114.4, "completeness": 1.0, "left_eye_aspect_ratio": 0.15,
           "right_eye_aspect_ratio": 0.45,
           "occlusion": {"left_eye": 1.0, "right_eye": 0.9, "nose": 0.75, "mouth": 1.0, "left_cheek": 0.5,
                         "right_cheek": 1.0, "chin": 0.0, "total": 0.8}}
ATTRS = {"age": {"value": 29.29, "low": 25.0, "high": 34.0}, "gender": {"value": "male", "probability": 0.9998},
         "emotion": {"dominant": "scared", "scores": {"scared": 0.61, "happy": 0.2, "neutral": 0.19}},
         "expression": {"value": "smile"}, "smile": {"value": True, "probability": 0.5543}}


def mesh_face(**kw) -> Face:
    rng = np.random.default_rng(0)
    pts = rng.uniform(100, 300, size=(468, 2))
    return Face(box=Box(117.2, 131.4, 172.0, 169.6), confidence=1.0, landmarks=Landmarks("mesh468", pts),
                pose=Pose(yaw=-0.35, pitch=-1.91, roll=4.2), **kw)


def test_every_field_in_the_seed_example_order() -> None:
    fields = frozenset({"age", "expression", "gender", "glasses", "face_shape", "landmark", "quality"})
    wire = face_to_wire(mesh_face(quality=QUALITY, attributes=ATTRS), "t" * 32, fields)
    # glasses and face_shape have no model: omitted, and the rest keep the seed example's order.
    assert list(wire) == [k for k in SEED_EXAMPLE_ORDER if k not in ("glasses", "face_shape")]
    assert wire["location"] == {"left": 117, "top": 131, "width": 172, "height": 170, "rotation": 4}
    assert wire["face_probability"] == 1 and type(wire["face_probability"]) is int
    assert wire["angle"] == {"yaw": -0.35, "pitch": 1.91, "roll": 4.2}  # the seed's pitch: down > 0
    assert len(wire["landmark"]) == 4 and len(wire["landmark72"]) == 72
    assert set(wire["landmark"][0]) == {"x", "y"}
    assert wire["age"] == 29.3
    assert wire["gender"] == {"type": "male", "probability": 0.9998}
    assert wire["expression"] == {"type": "smile", "probability": 0.5543}
    assert wire["quality"] == {
        "occlusion": {"left_eye": 0, "right_eye": 0.1, "nose": 0.25, "mouth": 0, "left_cheek": 0.5,
                      "right_cheek": 0, "chin_contour": 1},
        "blur": 0.37, "illumination": 114, "completeness": 1}


def test_emotion_eye_status_landmark150_and_absences() -> None:
    fields = frozenset({"emotion", "eye_status", "landmark150", "mask", "face_type", "spoofing"})
    wire = face_to_wire(mesh_face(quality=QUALITY, attributes=ATTRS), "t", fields)
    assert wire["emotion"] == {"type": "fear", "probability": 0.61}
    assert wire["eye_status"] == {"left_eye": 0.5, "right_eye": 1}
    assert len(wire["landmark150"]) == 150
    assert not {"mask", "face_type", "spoofing"} & set(wire)  # no mask/face_type/liveness attributes given
    bare = face_to_wire(Face(box=Box(0, 0, 10, 10), confidence=0.5), "t", fields | {"landmark", "quality", "age"})
    assert list(bare) == ["face_token", "location", "face_probability"]
    assert bare["location"]["rotation"] == 0


def test_eye_model_glasses_and_spoofing() -> None:
    """The engine's eye-state, glasses (none/common/sun) and liveness attributes, where it produces them."""
    attrs = {"eyes_open": {"value": True, "probability": 0.9, "left": 0.93, "right": 0.08},
             "glasses": {"value": "common", "probability": 0.81, "score": 0.7},
             "liveness": {"value": "real", "score": 0.9731, "threshold": 0.5}}
    fields = frozenset({"eye_status", "glasses", "spoofing"})
    wire = face_to_wire(mesh_face(quality=QUALITY, attributes=attrs), "t", fields)
    assert wire["eye_status"] == {"left_eye": 0.93, "right_eye": 0.08}  # the model's, not the eye aspect ratio's
    assert wire["glasses"] == {"type": "common", "probability": 0.81}
    assert wire["spoofing"] == 0.0269
    for value in ("sun", "none"):
        glasses = {"glasses": {"value": value, "probability": 0.7, "score": 0.2}}
        assert face_to_wire(mesh_face(attributes=glasses), "t", fields)["glasses"]["type"] == value


def test_location_matches_senseid_rect_and_landmarks_stay_in_the_image() -> None:
    from visage.api.dialects.quality_stateless.mapping import face_to_wire as senseid_face

    for box in (Box(10.4, 20.4, 30.4, 40.4), Box(10.6, 20.6, 30.6, 40.6), Box(0.5, 0.5, 99.5, 99.5)):
        f = Face(box=box, confidence=0.9)
        loc, rect = face_to_wire(f, "t", frozenset())["location"], senseid_face(f)["rect"]
        assert loc["left"] + loc["width"] == rect["right"] and loc["top"] + loc["height"] == rect["bottom"]
        assert (loc["left"], loc["top"]) == (rect["left"], rect["top"])
    # A face cut by the border: the mesh runs past the image edges; the wire points do not.
    rng = np.random.default_rng(1)
    pts = rng.uniform(-50, 250, size=(468, 2))
    cut = Face(box=Box(-20, -10, 150, 160), confidence=0.9, landmarks=Landmarks("mesh468", pts))
    wire = face_to_wire(cut, "t", frozenset({"landmark", "landmark150"}), size=(200, 180))
    for key in ("landmark", "landmark72", "landmark150"):
        assert all(0 <= p["x"] <= 200 and 0 <= p["y"] <= 180 for p in wire[key]), key
    assert any(p["x"] == 0 for p in wire["landmark150"])  # clamped, not dropped


def test_probability_integers_at_the_ends() -> None:
    assert probability(1.0) == 1 and type(probability(1.0)) is int
    assert probability(0.0) == 0 and type(probability(0.00001)) is int
    assert probability(0.5) == 0.5 and probability(1.7) == 1


def test_face_tokens_are_deterministic_and_distinct() -> None:
    d1, d2 = image_digest(b"image one"), image_digest(b"image two")
    box = Box(10.2, 20.4, 30.0, 40.0)
    assert face_token(d1, box) == face_token(d1, Box(10.4, 19.6, 30.1, 39.9))
    assert face_token(d1, box) != face_token(d2, box) != face_token(d1, Box(50, 20, 30, 40))
    assert len(face_token(d1, box)) == 32 and int(face_token(d1, box), 16) >= 0


def test_token_cache_ttl_and_byte_bound() -> None:
    now = [0.0]
    cache = FaceTokenCache(ttl_s=10, max_bytes=25, clock=lambda: now[0])
    a, b = b"a" * 10, b"b" * 10
    cache.remember(a, image_digest(a), {"ta1": Box(0, 0, 5, 5), "ta2": Box(5, 5, 5, 5)})
    cache.remember(b, image_digest(b), {"tb": Box(1, 1, 5, 5)})
    assert cache.resolve("ta2") == (a, (5, 5, 5, 5)) and cache.bytes == 20
    c = b"c" * 10  # over 25 bytes: the least recently used image (b) goes, with its token
    cache.remember(c, image_digest(c), {"tc": Box(0, 0, 1, 1)})
    assert cache.resolve("tb") is None and cache.resolve("ta1") is not None and cache.bytes == 20
    now[0] = 11.0
    assert cache.resolve("ta1") is None and cache.resolve("tc") is None and len(cache) == 0
    cache.remember(b"x" * 100, image_digest(b"x" * 100), {"big": Box(0, 0, 1, 1)})  # larger than the cache
    assert cache.resolve("big") is None


def test_signing_string_matches_qiniu_doc_example() -> None:
    """developer.qiniu.com/kodo/kb/3702/QiniuToken: the face-detect signing string example."""
    body = b'{"data": {"uri": "http://example.com/a.jpg"}}'
    data = auth.signing_string("POST", "/v1/face/detect", "", "argus.atlab.ai", "application/json", {}, body)
    assert data == b"POST /v1/face/detect\nHost: argus.atlab.ai\nContent-Type: application/json\n\n" + body
    # No body signed for octet-stream; query and X-Qiniu headers (canonical, sorted) included.
    data = auth.signing_string("GET", "/p", "a=1", "h", "application/octet-stream",
                               {"X-Qiniu-Zz": "2", "X-Qiniu-Aa": "1"}, b"raw")
    assert data == b"GET /p?a=1\nHost: h\nContent-Type: application/octet-stream\nX-Qiniu-Aa: 1\nX-Qiniu-Zz: 2\n\n"
    expected = base64.urlsafe_b64encode(hmac.new(b"sk", data, hashlib.sha1).digest()).decode()
    assert auth.sign(b"sk", data) == expected
    assert auth.parse_keys("ak1:sk1, ak2:sk2") == {"ak1": b"sk1", "ak2": b"sk2"}
    with pytest.raises(ValueError):
        auth.parse_keys("no-secret")


def test_liveness_levels() -> None:
    def face(score: float) -> Face:
        return Face(box=Box(0, 0, 1, 1), confidence=1,
                    attributes={"liveness": {"value": "real", "score": score, "threshold": 0.5}})

    _check_liveness([face(0.3)], "LOW")
    with pytest.raises(LivenessFailedError):
        _check_liveness([face(0.3)], "NORMAL")
    _check_liveness([face(0.6)], "NORMAL")
    with pytest.raises(LivenessFailedError, match="face 1"):
        _check_liveness([face(0.9), face(0.6)], "HIGH")
    with pytest.raises(NotSupportedError):
        _check_liveness([Face(box=Box(0, 0, 1, 1), confidence=1)], "LOW")


def test_log_id_is_a_json_safe_integer() -> None:
    assert 0 <= log_id("abc") < 2**53 and log_id("abc") == log_id("abc") != log_id("abd")


def test_expression_none_takes_the_complement() -> None:
    attrs = {"expression": {"value": "none"}, "smile": {"value": False, "probability": 0.2}}
    wire = face_to_wire(mesh_face(attributes=attrs), "t", frozenset({"expression"}))
    assert wire["expression"] == {"type": "none", "probability": 0.8}
    no_smile = face_to_wire(mesh_face(attributes={"expression": {"value": "laugh"}}), "t", frozenset({"expression"}))
    assert "expression" not in no_smile
