"""The native REST API through its HTTP surface, on the real engine: contract and abuse."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from visage.api.app import create_app
from visage.config import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory):
    store = tmp_path_factory.mktemp("native") / "v.db"
    settings = Settings(max_request_bytes=2 * 1024 * 1024, store_url=f"sqlite:///{store}")
    with TestClient(create_app(settings, engine)) as c:
        yield c


@pytest.fixture(scope="module")
def two_people(faces_dir) -> bytes:
    return (faces_dir / "two_people.jpg").read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_still_serving(client, image: bytes) -> None:
    r = client.post("/v1/detect", content=image, headers={"content-type": "image/jpeg"})
    assert r.status_code == 200 and len(r.json()["faces"]) == 2


def test_detect_contract(client, two_people) -> None:
    r = client.post("/v1/detect", json={"image": b64(two_people)})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"width", "height", "faces", "models", "timings_ms"}
    assert (body["width"], body["height"]) == (1126, 661)
    assert len(body["faces"]) == 2
    face = body["faces"][0]
    assert set(face) == {"box", "confidence", "landmarks", "pose"}
    assert set(face["box"]) == {"left", "top", "width", "height"}
    assert set(face["pose"]) == {"yaw", "pitch", "roll"}
    assert len(face["landmarks"]) == 68 and len(face["landmarks"][0]) == 2
    assert r.headers["x-request-id"]


def test_detect_with_quality(client, two_people) -> None:
    r = client.post("/v1/detect", json={"image": b64(two_people), "quality": True, "icao": True})
    assert r.status_code == 200
    body = r.json()
    quality = body["faces"][0]["quality"]
    assert {"brightness", "sharpness", "integrity", "size", "distance2center", "occlusion", "icao"} <= set(quality)
    assert 0 <= quality["icao"]["total_score"] <= 1
    assert "quality" in body["timings_ms"] and "visage_quality_v1" in body["models"]
    plain = client.post("/v1/detect", json={"image": b64(two_people)}).json()
    assert "quality" not in plain["faces"][0]


def test_detect_multipart_raw_and_data_uri(client, two_people) -> None:
    r = client.post("/v1/detect", files={"image": ("p.jpg", two_people, "image/jpeg")}, data={"landmarks": "false"})
    assert r.status_code == 200 and "landmarks" not in r.json()["faces"][0]
    r = client.post("/v1/detect?pose=false&max_faces=1", content=two_people, headers={"content-type": "image/jpeg"})
    assert r.status_code == 200 and len(r.json()["faces"]) == 1 and "pose" not in r.json()["faces"][0]
    r = client.post("/v1/detect", json={"image": "data:image/jpeg;base64," + b64(two_people)})
    assert r.status_code == 200 and len(r.json()["faces"]) == 2


def test_embed_then_verify_templates(client, faces_dir) -> None:
    a = client.post("/v1/embed", content=(faces_dir / "people/obama/obama.jpg").read_bytes(),
                    headers={"content-type": "image/jpeg"}).json()["faces"][0]["template"]
    b = client.post("/v1/embed", content=(faces_dir / "people/obama/obama2.jpg").read_bytes(),
                    headers={"content-type": "image/jpeg"}).json()["faces"][0]["template"]
    assert a["model"] == "dlib_resnet_v1" and a["dim"] == 128
    r = client.post("/v1/verify", json={"template_a": a, "template_b": b})
    assert r.status_code == 200 and r.json()["match"] is True
    other = dict(b, model="another_model")
    r = client.post("/v1/verify", json={"template_a": a, "template_b": other})
    assert r.status_code == 400 and r.json()["error"]["code"] == "template_model_mismatch"


def test_verify_images(client, faces_dir) -> None:
    same = client.post("/v1/verify", files={
        "image_a": ("a.jpg", (faces_dir / "people/biden/biden.jpg").read_bytes()),
        "image_b": ("b.jpg", (faces_dir / "people/biden/biden2.jpg").read_bytes())}).json()
    diff = client.post("/v1/verify", json={
        "image_a": b64((faces_dir / "people/biden/biden2.jpg").read_bytes()),
        "image_b": b64((faces_dir / "people/rose_leslie/img1.jpg").read_bytes()), "threshold": 0.5}).json()
    assert same["match"] is True and same["similarity"] > 0.9
    assert diff["match"] is False and diff["similarity"] < 0.1
    assert set(same) == {"similarity", "match", "threshold", "model", "cosine"}


def test_verify_without_face(client) -> None:
    from tests_support import flat_png

    r = client.post("/v1/verify", json={"image_a": b64(flat_png()), "image_b": b64(flat_png())})
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_face"


BAD_INPUTS = [
    ("wrong base64", {"json": {"image": "this is not base64 !!!"}}, 400, "invalid_base64"),
    ("empty base64", {"json": {"image": ""}}, 400, "empty_image"),
    ("zero-byte body", {"content": b"", "headers": {"content-type": "image/jpeg"}}, 400, "empty_image"),
    ("text as image", {"content": b"hello", "headers": {"content-type": "image/png"}}, 400, "invalid_image"),
    ("unknown field", {"json": {"image": "aGVsbG8=", "colour": "red"}}, 400, "invalid_parameter"),
    ("wrong type", {"json": {"image": 5}}, 400, "invalid_parameter"),
    ("missing image", {"json": {}}, 400, "invalid_parameter"),
    ("bad max_faces", {"json": {"image": "aGVsbG8=", "max_faces": 0}}, 400, "invalid_parameter"),
    ("json array", {"content": b"[1,2]", "headers": {"content-type": "application/json"}}, 400, "invalid_parameter"),
    ("broken json", {"content": b'{"image": ', "headers": {"content-type": "application/json"}}, 400,
     "invalid_parameter"),
    ("deep json", {"content": b"[" * 100000 + b"]" * 100000, "headers": {"content-type": "application/json"}},
     400, "invalid_parameter"),
    ("huge json", {"content": b'{"image": "' + b"A" * (3 * 1024 * 1024) + b'"}',
                   "headers": {"content-type": "application/json"}}, 413, "request_too_large"),
    ("odd content type", {"content": b"x", "headers": {"content-type": "text/csv"}}, 400, "invalid_parameter"),
]


@pytest.mark.parametrize(("name", "kwargs", "status", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_clear_error_and_server_keeps_serving(client, two_people, name, kwargs, status, code) -> None:
    r = client.post("/v1/detect", **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code and body["error"]["message"] and body["error"]["request_id"]
    assert "Traceback" not in r.text
    assert_still_serving(client, two_people)


def test_truncated_jpeg_and_png_bomb(client, two_people) -> None:
    from test_decode import png_bomb

    r = client.post("/v1/detect", json={"image": b64(two_people[: len(two_people) // 3])})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_image"
    r = client.post("/v1/detect", content=png_bomb(), headers={"content-type": "image/png"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "image_too_many_pixels"
    assert_still_serving(client, two_people)


def test_unknown_route_and_method(client) -> None:
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
    assert client.get("/v1/detect").status_code == 405


def test_health_ready_metrics_openapi(client, two_people) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and "dlib_resnet_v1" in ready["models"]
    client.post("/v1/detect", content=two_people, headers={"content-type": "image/jpeg"})
    text = client.get("/metrics").text
    assert 'visage_requests_total{method="POST",route="/v1/detect",status="200"}' in text
    assert 'visage_stage_seconds_count{stage="detect"}' in text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/detect", "/v1/embed", "/v1/verify", "/healthz"} <= set(paths)


def test_unexpected_errors_never_leak_tracebacks(engine, two_people, monkeypatch) -> None:
    app = create_app(Settings(), engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        monkeypatch.setattr(engine, "analyze", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("secret path /x")))
        r = c.post("/v1/detect", content=two_people, headers={"content-type": "image/jpeg"})
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "secret" not in r.text and "Traceback" not in r.text


def test_api_keys(engine, two_people) -> None:
    app = create_app(Settings(api_keys="reader-key,admin-key:admin"), engine)
    with TestClient(app) as c:
        headers = {"content-type": "image/jpeg"}
        r = c.post("/v1/detect", content=two_people, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = c.post("/v1/detect", content=two_people, headers={**headers, "authorization": "Bearer nope"})
        assert r.status_code == 401
        r = c.post("/v1/detect", content=two_people, headers={**headers, "x-api-key": "reader-key"})
        assert r.status_code == 200
        r = c.post("/v1/detect", content=two_people, headers={**headers, "authorization": "Bearer admin-key"})
        assert r.status_code == 200
        assert c.get("/healthz").status_code == 200


def test_response_is_json_serialisable_floats(client, two_people) -> None:
    r = client.post("/v1/detect", content=two_people, headers={"content-type": "image/jpeg"})
    json.dumps(r.json(), allow_nan=False)
