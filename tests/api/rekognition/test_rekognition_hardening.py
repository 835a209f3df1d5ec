"""Rekognition findings of issue 15 (7): lone surrogates, X-Amz-Target must be signed, S3 names
with '..' segments, and error texts that name neither the S3 endpoint nor exception classes."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fastapi.testclient import TestClient
from rek_support import AKID, REGION, SECRET

from visage.api.app import create_app
from visage.api.dialects.rekognition.sigv4 import KeyRing, SignedRequest, verify
from visage.config import Settings
from visage.errors import VisageError

JSON11 = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def open_client(engine, tmp_path_factory):
    home = tmp_path_factory.mktemp("rek-hard")
    settings = Settings(home=home, store_url=f"sqlite:///{home / 'r.db'}", rekognition_auth="off",
                        s3_endpoint_url="http://127.0.0.1:9/secret-endpoint-path")
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as c:
        yield c


def _call(c: TestClient, op: str, raw: str):
    headers = {"content-type": JSON11, "x-amz-target": f"RekognitionService.{op}"}
    return c.post("/", content=raw.encode(), headers=headers)


@pytest.mark.parametrize(("op", "raw"), [
    ("CreateCollection", '{"CollectionId": "\\ud800"}'),
    ("DescribeCollection", '{"CollectionId": "a\\udfffb"}'),
    ("ListCollections", '{"\\ud800": 1}'),
    ("DetectFaces", '{"Image": {"Bytes": "\\ud800"}}'),
    ("IndexFaces", '{"CollectionId": "c", "Image": {"Bytes": "aGVsbG8="}, "ExternalImageId": "\\udc00"}'),
    ("SearchFaces", '{"CollectionId": "c", "FaceId": "\\ud800"}'),
    ("CreateUser", '{"CollectionId": "c", "UserId": "\\ud800x"}'),
])
def test_lone_surrogates_are_400_in_the_envelope(open_client, op, raw) -> None:
    r = _call(open_client, op, raw)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == "InvalidParameterException"


def test_surrogate_pairs_still_parse(open_client) -> None:
    r = _call(open_client, "ListCollections", json.dumps({"MaxResults": 5}))
    assert r.status_code == 200
    r = _call(open_client, "DescribeCollection", '{"CollectionId": "\\ud83d\\ude00"}')  # a real emoji: a bad id
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"


def _signed(target: str, headers_to_sign: set[str] | None) -> SignedRequest:
    class Partial(SigV4Auth):
        def headers_to_sign(self, request):  # sign only what the attacker's client chose to
            signed = super().headers_to_sign(request)
            if headers_to_sign is not None:
                for name in list(signed):
                    if name not in headers_to_sign:
                        del signed[name]
            return signed

    req = AWSRequest(method="POST", url="http://127.0.0.1:9/", data=b"{}",
                     headers={"Content-Type": JSON11, "X-Amz-Target": target})
    with mock.patch("botocore.auth.get_current_datetime", return_value=dt.datetime.now(dt.UTC)):
        Partial(Credentials(AKID, SECRET), "rekognition", REGION).add_auth(req)
    headers = [(k.lower(), v) for k, v in req.prepare().headers.items()] + [("host", "127.0.0.1:9")]
    return SignedRequest("POST", "/", "", headers, b"{}")


def test_x_amz_target_must_be_signed() -> None:
    ring = KeyRing(f"{AKID}:{SECRET}")
    assert verify(_signed("RekognitionService.ListCollections", None), ring).access_key == AKID
    unsigned = _signed("RekognitionService.ListCollections", {"host", "x-amz-date"})
    with pytest.raises(VisageError) as err:
        verify(unsigned, ring)
    assert "X-Amz-Target" in err.value.message
    # Swapping the target of a request that did not sign it: refused the same way.
    swapped = SignedRequest("POST", "/", "", [(k, "RekognitionService.DeleteCollection" if k == "x-amz-target" else v)
                                             for k, v in unsigned.headers], b"{}")
    with pytest.raises(VisageError):
        verify(swapped, ring)


@pytest.mark.parametrize("name", ["../other/key.jpg", "a/../../b.jpg", "a/./b.jpg", "..", "a/..", "x\nb.jpg"])
def test_s3_names_with_dot_segments_are_refused(open_client, name) -> None:
    r = _call(open_client, "DetectFaces", json.dumps({"Image": {"S3Object": {"Bucket": "photos", "Name": name}}}))
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException", r.text


@pytest.mark.parametrize("bucket", ["../x", "a..b", "ab", "bad/bucket"])
def test_s3_bad_bucket_names_are_refused(open_client, bucket) -> None:
    r = _call(open_client, "DetectFaces", json.dumps({"Image": {"S3Object": {"Bucket": bucket, "Name": "a.jpg"}}}))
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException", r.text


def test_s3_failure_does_not_name_the_endpoint(open_client) -> None:
    r = _call(open_client, "DetectFaces", json.dumps({"Image": {"S3Object": {"Bucket": "photos", "Name": "a.jpg"}}}))
    assert r.status_code == 400 and r.json()["__type"] == "InvalidS3ObjectException", r.text
    assert "127.0.0.1" not in r.text and "secret-endpoint-path" not in r.text and "Error'" not in r.text


def test_corrupt_image_text_names_no_exception_class(open_client) -> None:
    import base64

    from tests_support import flat_png

    data = flat_png(120)[:-40]  # truncated PNG
    r = _call(open_client, "DetectFaces", json.dumps({"Image": {"Bytes": base64.b64encode(data).decode()}}))
    assert r.status_code == 400
    for name in ("OSError", "SyntaxError", "ValueError", "EOFError", "error)"):
        assert name not in r.text
