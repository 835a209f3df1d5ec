"""Native API findings of issue 15 (7): lone surrogates, 413 on JSON-model routes, unknown template
models, /docs and /openapi.json behind the keys, the Qiniu-stays-open warning."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from visage.api.app import create_app
from visage.config import Settings

J = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory):
    store = tmp_path_factory.mktemp("native-hard") / "v.db"
    settings = Settings(store_url=f"sqlite:///{store}", max_request_bytes=64 * 1024)
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as c:
        assert c.post("/v1/collections", json={"collection_id": "c"}).status_code == 200
        yield c


@pytest.mark.parametrize(("path", "raw"), [
    ("/v1/detect", '{"image": "\\ud800"}'),
    ("/v1/verify", '{"image_a": "\\udc00", "image_b": "x"}'),
    ("/v1/collections", '{"collection_id": "\\ud800"}'),
    ("/v1/collections/c/users", '{"user_id": "a\\ud800"}'),
    ("/v1/collections/c/faces/delete", '{"face_ids": ["\\ud800"]}'),
    ("/v1/collections/c/users/u/faces", '{"face_ids": ["\\udfff"]}'),
    ("/v1/collections/c/search", '{"image": "aGVsbG8=", "\\ud800": 1}'),
])
def test_lone_surrogates_are_400(client, path, raw) -> None:
    r = client.post(path, content=raw.encode(), headers=J)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/collections", {"collection_id": "x" * 100_000}),
    ("/v1/collections/c/users", {"user_id": "x" * 100_000}),
    ("/v1/collections/c/faces/delete", {"face_ids": ["x" * 1000] * 100}),
])
def test_oversized_bodies_on_model_routes_are_413(client, path, body) -> None:
    r = client.post(path, content=json.dumps(body).encode(), headers=J)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "request_too_large"


def test_model_routes_still_validate(client) -> None:
    assert client.post("/v1/collections", json={"collection_id": "c"}).status_code == 409
    r = client.post("/v1/collections", json={"collection": "d"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter"
    r = client.post("/v1/collections/c/faces/delete", json={"face_ids": []})
    assert r.status_code == 400


def test_unknown_template_model_is_400(client) -> None:
    wire = {"model": "no-such-model", "vector": "AACAPwAAAAA="}
    r = client.post("/v1/verify", json={"template_a": wire, "template_b": wire})
    assert r.status_code == 400, r.text
    assert "no-such-model" in r.json()["error"]["message"]


def test_docs_follow_the_keys(engine, tmp_path) -> None:
    base = {"store_url": f"sqlite:///{tmp_path}/d.db"}
    with TestClient(create_app(Settings(**base, api_keys="reader"), engine)) as c:
        assert c.get("/openapi.json").status_code == 401
        assert c.get("/docs").status_code == 401
        assert "/v1/detect" in c.get("/openapi.json", headers={"x-api-key": "reader"}).json()["paths"]
        assert c.get("/docs", headers={"authorization": "Bearer reader"}).status_code == 200
    with TestClient(create_app(Settings(**base, api_keys="reader", docs="open"), engine)) as c:
        assert c.get("/openapi.json").status_code == 200
    with TestClient(create_app(Settings(**base, docs="off"), engine)) as c:
        assert c.get("/openapi.json").status_code == 404 and c.get("/docs").status_code == 404
    with TestClient(create_app(Settings(**base), engine)) as c:  # no keys: open, as before
        assert c.get("/openapi.json").status_code == 200 and c.get("/docs").status_code == 200


def test_native_keys_alone_warn_that_qiniu_is_open(engine, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="visage.api")
    create_app(Settings(store_url=f"sqlite:///{tmp_path}/q.db", api_keys="k"), engine)
    assert any("/v2/facedetect" in r.getMessage() and "OPEN" in r.getMessage() for r in caplog.records)
    caplog.clear()
    create_app(Settings(store_url=f"sqlite:///{tmp_path}/q.db", api_keys="k", qiniu_keys="AK:SK"), engine)
    assert not any("/v2/facedetect" in r.getMessage() for r in caplog.records)
