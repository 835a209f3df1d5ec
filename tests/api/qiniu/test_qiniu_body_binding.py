"""Qiniu management tokens bind the body only when it is sent as JSON (issue 15, finding 3).

QiniuToken leaves the body out of the signed string when the request has no Content-Type or
``application/octet-stream``: such a captured token would otherwise authorise any JSON body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient

from visage.api.app import create_app
from visage.config import Settings

URL = "/v2/facedetect"


def _token(ak: str, sk: str, content_type: str | None, body: bytes) -> str:
    """QiniuToken from developer.qiniu.com's steps, written independently of visage's signer."""
    data = f"POST {URL}\nHost: testserver"
    if content_type:
        data += f"\nContent-Type: {content_type}"
    raw = (data + "\n\n").encode()
    if content_type and content_type != "application/octet-stream":
        raw += body
    sign = base64.urlsafe_b64encode(hmac.new(sk.encode(), raw, hashlib.sha1).digest()).decode()
    return f"Qiniu {ak}:{sign}"


@pytest.fixture(scope="module")
def client(fast_engine):
    with TestClient(create_app(Settings(qiniu_keys="AK1:SK1"), fast_engine)) as c:
        yield c


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/plain"])
def test_token_not_covering_the_body_is_refused(client, faces_dir, content_type) -> None:
    body = json.dumps({"image": base64.b64encode((faces_dir / "obama_small.jpg").read_bytes()).decode(),
                       "image_type": "BASE64"}).encode()
    headers = {"authorization": _token("AK1", "SK1", content_type, body)}
    if content_type:
        headers["content-type"] = content_type
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 200
    assert r.json()["error_code"] == 222200, r.text  # "request body should be json format"
    assert "application/json" in r.headers["x-visage-error"]


def test_json_token_covers_its_body(client, faces_dir) -> None:
    body = json.dumps({"image": base64.b64encode((faces_dir / "obama_small.jpg").read_bytes()).decode(),
                       "image_type": "BASE64"}).encode()
    for content_type in ("application/json", "application/json; charset=utf-8"):
        r = client.post(URL, content=body, headers={"content-type": content_type,
                                                    "authorization": _token("AK1", "SK1", content_type, body)})
        assert r.json()["error_code"] == 0, r.text


def test_open_server_also_needs_json(fast_engine) -> None:
    with TestClient(create_app(Settings(), fast_engine)) as c:
        r = c.post(URL, content=b'{"image": "aGVsbG8=", "image_type": "BASE64"}')
        assert r.json()["error_code"] == 222200
