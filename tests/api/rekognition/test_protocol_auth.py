"""The wire protocol and SigV4: signatures, keys, dates, targets, bodies and the error envelope."""

from __future__ import annotations

import datetime as dt
import json
import threading
from unittest import mock

import httpx
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from rek_support import AKID, REGION, SECRET, client, serve

from visage.api.app import create_app
from visage.api.dialects.rekognition.sigv4 import KeyRing, SignedRequest, parse_keys, verify
from visage.config import Settings
from visage.errors import VisageError

pytestmark = pytest.mark.slow


def signed_post(endpoint: str, body: bytes, target: str | None = "RekognitionService.DetectFaces",
                key: str = AKID, secret: str = SECRET, service: str = "rekognition",
                when: dt.datetime | None = None, content_type: str = "application/x-amz-json-1.1") -> httpx.Response:
    headers = {"Content-Type": content_type}
    if target:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    if when is None:
        SigV4Auth(Credentials(key, secret), service, REGION).add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            SigV4Auth(Credentials(key, secret), service, REGION).add_auth(req)
    prepared = req.prepare()
    return httpx.post(prepared.url, content=body, headers=dict(prepared.headers))


def envelope(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/x-amz-json-1.1")
    body = r.json()
    assert set(body) == {"__type", "Code", "Message", "Logref"} and body["Message"]
    assert r.headers["x-amzn-requestid"] == body["Logref"]
    return body["__type"]


def test_wrong_secret_unknown_key_and_missing_auth(endpoint, faces_dir) -> None:
    bad = client(endpoint, secret="not-the-secret")
    with pytest.raises(ClientError) as err:
        bad.detect_faces(Image={"Bytes": (faces_dir / "obama.jpg").read_bytes()})
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as err:
        client(endpoint, key="AKIDNOBODY").compare_faces(SourceImage={"Bytes": b"x"}, TargetImage={"Bytes": b"x"})
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    anonymous = client(endpoint, signature_version=UNSIGNED)
    with pytest.raises(ClientError) as err:
        anonymous.detect_faces(Image={"Bytes": b"x"})
    assert err.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    # A second configured key works.
    assert client(endpoint, key="AKIDOTHER", secret="other-secret").detect_faces(
        Image={"Bytes": (faces_dir / "obama.jpg").read_bytes()})["FaceDetails"]


def test_stale_and_future_dates_and_wrong_service(endpoint) -> None:
    body = b'{"Image": {"Bytes": "eA=="}}'
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    r = signed_post(endpoint, body, when=now - dt.timedelta(minutes=6))
    assert r.status_code == 400 and envelope(r) == "InvalidSignatureException"
    assert "Signature expired" in r.json()["Message"]
    r = signed_post(endpoint, body, when=now + dt.timedelta(minutes=6))
    assert envelope(r) == "InvalidSignatureException" and "not yet current" in r.json()["Message"]
    r = signed_post(endpoint, body, service="s3")
    assert envelope(r) == "InvalidSignatureException" and "rekognition" in r.json()["Message"]
    # Four minutes off is inside AWS's five-minute window: the request gets past auth.
    r = signed_post(endpoint, body, when=now - dt.timedelta(minutes=4))
    assert envelope(r) == "InvalidImageFormatException"


def test_tampered_body_is_refused(endpoint) -> None:
    body = b'{"Image": {"Bytes": "eA=="}}'
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.DetectFaces"})
    SigV4Auth(Credentials(AKID, SECRET), "rekognition", REGION).add_auth(req)
    headers = dict(req.prepare().headers)
    r = httpx.post(endpoint + "/", content=body.replace(b"eA==", b"eQ=="), headers=headers)
    assert envelope(r) == "InvalidSignatureException"
    headers["X-Amz-Target"] = "RekognitionService.CompareFaces"  # a signed header changed
    assert envelope(httpx.post(endpoint + "/", content=body, headers=headers)) == "InvalidSignatureException"


def test_targets_bodies_and_content_types(endpoint) -> None:
    r = signed_post(endpoint, b"{}", target="RekognitionService.DetectLabels")
    assert r.status_code == 400 and envelope(r) == "UnknownOperationException"
    assert "DetectFaces" in r.json()["Message"]
    assert envelope(signed_post(endpoint, b"{}", target=None)) == "UnknownOperationException"
    assert envelope(signed_post(endpoint, b"{not json")) == "InvalidParameterException"
    assert envelope(signed_post(endpoint, b"[1, 2]")) == "InvalidParameterException"
    r = signed_post(endpoint, b'{"Image": {"Bytes": "eA=="}, "Colour": "red"}')
    assert envelope(r) == "InvalidParameterException" and "Colour" in r.json()["Message"]
    r = signed_post(endpoint, b'{"Image": {"Bytes": "not base64!"}}')
    assert envelope(r) == "InvalidParameterException" and "image.bytes" in r.json()["Message"]
    r = signed_post(endpoint, b'{"Image": {"Bytes": "eA=="}}', content_type="text/plain")
    assert envelope(r) == "InvalidParameterException"
    r = signed_post(endpoint, json.dumps({"Image": {"Bytes": "eA=="}, "Attributes": "ALL"}).encode())
    assert envelope(r) == "InvalidParameterException" and "attributes" in r.json()["Message"]


def test_no_keys_configured_and_auth_off(engine, tmp_path, faces_dir) -> None:
    closed = create_app(Settings(home=tmp_path, store_url=f"sqlite:///{tmp_path / 'a.db'}"), engine)
    with serve(closed) as url, pytest.raises(ClientError) as err:
        client(url).detect_faces(Image={"Bytes": b"x"})
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "VISAGE_AWS_KEYS" in err.value.response["Error"]["Message"]
    open_ = create_app(Settings(home=tmp_path, store_url=f"sqlite:///{tmp_path / 'b.db'}", rekognition_auth="off"),
                       engine)
    with serve(open_) as url:
        image = {"Bytes": (faces_dir / "obama.jpg").read_bytes()}
        assert len(client(url, signature_version=UNSIGNED).detect_faces(Image=image)["FaceDetails"]) == 1
        signed = client(url, secret="anything")
        assert len(signed.detect_faces(Image=image)["FaceDetails"]) == 1
        arn = signed.create_collection(CollectionId="anon")["CollectionArn"]
        assert arn == f"aws:rekognition:{REGION}:000000000000:collection/anon"
        arn = client(url, signature_version=UNSIGNED).describe_collection(CollectionId="anon")["CollectionARN"]
        assert arn == "aws:rekognition:us-east-1:000000000000:collection/anon"


# ------------------------------------------------------------------------------- unit level


def _signed(body: bytes = b"{}", secret: str = SECRET, when: dt.datetime | None = None) -> SignedRequest:
    req = AWSRequest(method="POST", url="http://127.0.0.1:9/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.ListCollections"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=when or dt.datetime.now(dt.UTC)):
        SigV4Auth(Credentials(AKID, secret), "rekognition", REGION).add_auth(req)
    headers = [(k.lower(), v) for k, v in req.prepare().headers.items()]
    headers.append(("host", "127.0.0.1:9"))
    return SignedRequest("POST", "/", "", headers, body)


def test_parse_keys_forms() -> None:
    assert parse_keys("A1:s1, A2:s/2+x") == {"A1": "s1", "A2": "s/2+x"}
    assert parse_keys("# rotated 2024\nA1 s1\n\nA2:s2\nbroken\n") == {"A1": "s1", "A2": "s2"}


def test_keys_file_rotates_without_restart(tmp_path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"{AKID} {SECRET}\n")
    ring = KeyRing(None, path)
    assert verify(_signed(), ring).access_key == AKID
    path.write_text(f"{AKID} rotated-secret\n")
    import os

    os.utime(path, ns=(1, 1))  # a new mtime even within the filesystem's clock granularity
    with pytest.raises(VisageError) as err:
        verify(_signed(), ring)
    assert err.value.aws_type == "InvalidSignatureException"
    assert verify(_signed(secret="rotated-secret"), ring).access_key == AKID
    path.unlink()
    assert ring.empty()


def test_verify_refuses_content_hash_mismatch() -> None:
    ring = KeyRing(f"{AKID}:{SECRET}")
    req = _signed(b'{"a": 1}')
    headers = [*req.headers, ("x-amz-content-sha256", "0" * 64)]
    with pytest.raises(VisageError) as err:
        verify(SignedRequest(req.method, req.raw_path, req.query_string, headers, req.body), ring)
    assert err.value.aws_type == "InvalidSignatureException"


def test_request_body_limit_and_throttling(engine, tmp_path, faces_dir) -> None:
    settings = Settings(home=tmp_path, store_url=f"sqlite:///{tmp_path / 'c.db'}", aws_keys=f"{AKID}:{SECRET}",
                        max_request_bytes=400_000, inference_workers=1, max_queue=0)
    big = (faces_dir / "obama-1080p.jpg").read_bytes()
    assert len(big) * 4 / 3 > 400_000
    small = (faces_dir / "obama-480p.jpg").read_bytes()
    with serve(create_app(settings, engine)) as url:
        rek = client(url)
        with pytest.raises(rek.exceptions.ImageTooLargeException):
            rek.detect_faces(Image={"Bytes": big})

        clients = [client(url) for _ in range(6)]
        start = threading.Barrier(6)

        def one(i: int) -> str:
            start.wait()
            try:
                clients[i].detect_faces(Image={"Bytes": small})
                return "ok"
            except ClientError as exc:
                return exc.response["Error"]["Code"]

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(one, range(6)))
        assert "ok" in outcomes and "ThrottlingException" in outcomes, outcomes
        assert set(outcomes) <= {"ok", "ThrottlingException"}


def test_date_header_instead_of_x_amz_date_and_malformed_authorization() -> None:
    ring = KeyRing(f"{AKID}:{SECRET}")
    req = AWSRequest(method="POST", url="http://127.0.0.1:9/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.ListCollections",
        "Date": "placeholder"})
    SigV4Auth(Credentials(AKID, SECRET), "rekognition", REGION).add_auth(req)
    headers = [(k.lower(), v) for k, v in req.prepare().headers.items()] + [("host", "127.0.0.1:9")]
    assert not any(k == "x-amz-date" for k, _ in headers)
    assert verify(SignedRequest("POST", "/", "", headers, b"{}"), ring).region == REGION
    for bad in ("AWS4-HMAC-SHA256 Credential=x", "Basic abc", "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, "
                "Signature=00"):
        broken = [(k, bad if k == "authorization" else v) for k, v in headers]
        with pytest.raises(VisageError) as err:
            verify(SignedRequest("POST", "/", "", broken, b"{}"), ring)
        assert err.value.aws_type == "IncompleteSignatureException", bad
