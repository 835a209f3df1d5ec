"""SenseID ``POST /quality/face/stateless``: golden wire contract (seeds 000, 001) on real photos, the
AES-256-GCM envelope, auth, and hostile input answered in the dialect's own envelope."""

from __future__ import annotations

import base64
import json
import os

import pytest
from bad_inputs import png_bomb_header, truncated
from fastapi.testclient import TestClient

from visage.analysis.pipeline import AnalyzeOptions
from visage.api.app import create_app
from visage.api.dialects.quality_stateless import crypto
from visage.config import Settings

pytestmark = pytest.mark.slow

URL = "/quality/face/stateless"
HAS_QUALITY = True  # set per engine below: the pipeline in use may not compute quality yet
# Seed 001's normal response: every face has these keys, in this order.
SEED_FACE_KEYS = ["rect", "pose", "occlusion", "distance2center", "size", "brightness", "sharpness",
                  "mouth_open", "integrity"]
QUALITY_KEYS = SEED_FACE_KEYS[2:]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module", autouse=True)
def _engine_has_quality(engine, faces_dir):
    """Quality fields are asserted exactly when this engine's pipeline computes Face.quality."""
    global HAS_QUALITY
    result = engine.analyze((faces_dir / "obama_small.jpg").read_bytes(), AnalyzeOptions(quality=True))
    HAS_QUALITY = bool(result.faces and result.faces[0].quality)


@pytest.fixture(scope="module")
def client(engine):
    with TestClient(create_app(Settings(max_request_bytes=2 * 1024 * 1024), engine)) as c:
        yield c


@pytest.fixture(scope="module")
def two_people(faces_dir) -> bytes:
    return (faces_dir / "two_people.jpg").read_bytes()


def assert_error(r, code: int, status: int, header: bool = True) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["code", "message", "request_id"], body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    assert isinstance(body["request_id"], str) and body["request_id"]
    if header:  # unexpected faults are answered outside the middleware that sets the header
        assert body["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    return body


def assert_face_contract(face: dict, width: int, height: int) -> None:
    keys = SEED_FACE_KEYS if HAS_QUALITY else SEED_FACE_KEYS[:2]
    assert list(face) == keys
    rect = face["rect"]
    assert list(rect) == ["left", "top", "right", "bottom"]
    assert all(type(v) is int for v in rect.values())
    assert 0 <= rect["left"] < rect["right"] <= width and 0 <= rect["top"] < rect["bottom"] <= height
    assert list(face["pose"]) == ["yaw", "pitch", "roll"]
    assert all(isinstance(v, float | int) and -180 <= v <= 180 for v in face["pose"].values())
    if HAS_QUALITY:
        assert list(face["occlusion"]) == ["left_eye", "right_eye", "nose", "mouth", "total"]
        assert all(0.0 <= v <= 1.0 for v in face["occlusion"].values())
        for key in ("distance2center", "size", "sharpness", "mouth_open", "integrity"):
            assert isinstance(face[key], float | int) and 0.0 <= face[key] <= 1.0, key
        assert -1.0 <= face["brightness"] <= 1.0


def test_seed_example_form_field(client, two_people) -> None:
    """The seed's own call: ``curl -X POST .../quality/face/stateless -d encrypted_image=xxx``."""
    r = client.post(URL, data={"encrypted_image": b64(two_people)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["code", "faces", "request_id"]
    assert body["code"] == 1000
    assert isinstance(body["request_id"], str) and body["request_id"] == r.headers["x-request-id"]
    assert len(body["faces"]) == 2
    for face in body["faces"]:
        assert_face_contract(face, 1126, 661)
    if HAS_QUALITY:
        assert all(f["integrity"] > 0.95 for f in body["faces"])  # both faces wholly inside the photo


def test_unencoded_plus_signs_like_curl_d(client, two_people) -> None:
    """``curl -d`` does not URL-encode: base64's '+' arrives as a space and must still decode."""
    text = b64(two_people)
    assert "+" in text
    r = client.post(URL, content=f"encrypted_image={text}".encode(),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and len(r.json()["faces"]) == 2


def test_json_multipart_and_file_agree(client, faces_dir) -> None:
    image = (faces_dir / "obama.jpg").read_bytes()
    a = client.post(URL, json={"encrypted_image": b64(image)}).json()
    b = client.post(URL, files={"encrypted_image": (None, b64(image))}).json()
    c = client.post(URL, files={"encrypted_image": ("o.jpg", image, "image/jpeg")}).json()
    assert a["code"] == b["code"] == c["code"] == 1000
    assert a["faces"] == b["faces"] == c["faces"] and len(a["faces"]) == 1
    assert len({a["request_id"], b["request_id"], c["request_id"]}) == 3


def test_partial_face_integrity(client, faces_dir) -> None:
    r = client.post(URL, data={"encrypted_image": b64((faces_dir / "obama_partial_face.jpg").read_bytes())})
    assert r.status_code == 200
    face = r.json()["faces"][0]
    if HAS_QUALITY:
        assert face["integrity"] < 0.95


def test_aes_gcm_envelope(engine, faces_dir) -> None:
    key = os.urandom(32)
    settings = Settings(senseid_image_key=base64.b64encode(key).decode(), max_request_bytes=2 * 1024 * 1024)
    image = (faces_dir / "obama.jpg").read_bytes()
    with TestClient(create_app(settings, engine)) as c:
        envelope = crypto.encrypt(key, image)
        r = c.post(URL, data={"encrypted_image": b64(envelope)})
        assert r.status_code == 200 and r.json()["code"] == 1000 and len(r.json()["faces"]) == 1
        r = c.post(URL, files={"encrypted_image": ("x.bin", envelope, "application/octet-stream")})
        assert r.status_code == 200 and len(r.json()["faces"]) == 1
        # Plain base64 is refused in AES mode, and so is an envelope under another key or tampered with.
        assert_error(c.post(URL, data={"encrypted_image": b64(image)}), 1200, 400)
        assert_error(c.post(URL, data={"encrypted_image": b64(crypto.encrypt(os.urandom(32), image))}), 1200, 400)
        tampered = bytearray(envelope)
        tampered[40] ^= 1
        assert_error(c.post(URL, data={"encrypted_image": b64(bytes(tampered))}), 1200, 400)
        assert_error(c.post(URL, data={"encrypted_image": b64(b"short")}), 1200, 400)


def test_aes_envelope_layout_is_nonce_ciphertext_tag() -> None:
    """The documented envelope, checked against an independent AES-GCM call."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key, nonce, image = bytes(range(32)), bytes(12), b"\xff\xd8 image bytes"
    envelope = crypto.encrypt(key, image, nonce)
    assert envelope[:12] == nonce and len(envelope) == 12 + len(image) + 16
    assert AESGCM(key).decrypt(envelope[:12], envelope[12:], None) == image
    assert crypto.decrypt(key, envelope) == image
    with pytest.raises(ValueError):
        crypto.parse_key(base64.b64encode(b"x" * 16).decode())


def test_api_key_required_when_configured(engine, faces_dir) -> None:
    with TestClient(create_app(Settings(api_keys="s3cret"), engine)) as c:
        image = b64((faces_dir / "obama_small.jpg").read_bytes())
        assert_error(c.post(URL, data={"encrypted_image": image}), 401, 401)
        assert_error(c.post(URL, data={"encrypted_image": image}, headers={"x-api-key": "nope"}), 401, 401)
        r = c.post(URL, data={"encrypted_image": image}, headers={"authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.json()["code"] == 1000


@pytest.mark.parametrize(
    ("name", "kwargs", "code", "status"),
    [
        ("missing field", {"data": {}}, 1200, 400),
        ("unknown field", {"data": {"encrypted_image": "aGVsbG8=", "mode": "fast"}}, 1200, 400),
        ("unknown JSON field", {"json": {"encrypted_image": "aGVsbG8=", "x": 1}}, 1200, 400),
        ("JSON not a string", {"json": {"encrypted_image": 5}}, 1200, 400),
        ("JSON array", {"json": [1, 2]}, 1200, 400),
        ("bad JSON", {"content": b"{nope", "headers": {"content-type": "application/json"}}, 1200, 400),
        ("deep JSON", {"content": b"[" * 100000 + b"]" * 100000,
                       "headers": {"content-type": "application/json"}}, 1200, 400),
        ("wrong base64", {"data": {"encrypted_image": "@@not base64!!"}}, 1200, 400),
        ("empty image", {"data": {"encrypted_image": ""}}, 2004, 411),
        ("0-byte file", {"files": {"encrypted_image": ("e.jpg", b"", "image/jpeg")}}, 2004, 411),
        ("not an image", {"data": {"encrypted_image": b64(b"hello, this is text" * 10)}}, 2005, 400),
        ("PNG bomb", {"data": {"encrypted_image": b64(png_bomb_header())}}, 2003, 400),
        ("content type", {"content": b"x", "headers": {"content-type": "text/plain"}}, 1200, 400),
        ("duplicate field", {"content": b"encrypted_image=aa&encrypted_image=bb",
                             "headers": {"content-type": "application/x-www-form-urlencoded"}}, 1200, 400),
    ],
)
def test_bad_input_gets_senseid_envelope(client, name, kwargs, code, status) -> None:
    assert_error(client.post(URL, **kwargs), code, status)


def test_image_errors_on_real_bytes(client, two_people) -> None:
    assert_error(client.post(URL, data={"encrypted_image": b64(truncated(two_people))}), 2005, 400)
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(buf, "PNG")
    assert_error(client.post(URL, data={"encrypted_image": b64(buf.getvalue())}), 2003, 400)
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (128, 128, 128)).save(buf, "PNG")
    body = assert_error(client.post(URL, data={"encrypted_image": b64(buf.getvalue())}), 4000, 400)
    assert body["message"].startswith("detection failed")


def test_huge_bodies_are_413(client) -> None:
    huge = "A" * (3 * 1024 * 1024)
    assert_error(client.post(URL, json={"encrypted_image": huge}), 2004, 413)
    assert_error(client.post(URL, data={"encrypted_image": huge}), 2004, 413)
    assert_error(client.post(URL, files={"encrypted_image": ("big.jpg", huge.encode(), "image/jpeg")}), 2004, 413)


def test_wrong_method_and_still_serving(client, two_people) -> None:
    assert_error(client.get(URL), 1200, 405)
    assert_error(client.post("/quality/face/unknown", data={"encrypted_image": "aGVsbG8="}), 1200, 404)
    assert_error(client.delete("/quality/x"), 1200, 404)
    r = client.post(URL, data={"encrypted_image": b64(two_people)})
    assert r.status_code == 200 and len(r.json()["faces"]) == 2


def test_internal_error_is_generic_500() -> None:
    class Broken:
        def analyze(self, *args, **kwargs):
            raise RuntimeError("secret detail /etc/passwd")

    with TestClient(create_app(Settings(), Broken()), raise_server_exceptions=False) as c:
        body = assert_error(c.post(URL, data={"encrypted_image": "aGVsbG8="}), 500, 500, header=False)
        assert "secret" not in json.dumps(body)


def test_many_unknown_fields_bounded_message(client) -> None:
    payload = {f"field{i}" + "x" * 1000: "v" for i in range(500)}
    body = assert_error(client.post(URL, json={"encrypted_image": "aGVsbG8=", **payload}), 1200, 400)
    assert len(body["message"]) < 600 and "and 495 more" in body["message"]
