"""What the web console needs from the server: its static files under a strict CSP, /v1/session,
/v1/verify/operating-point and the ``keypoints`` option of detect/analyze."""

from __future__ import annotations

import base64
import json
from importlib import resources

import numpy as np
import pytest
from fastapi.testclient import TestClient

from visage.api.app import create_app
from visage.api.native.info import operating_point
from visage.calibration import get_calibration
from visage.config import Settings


@pytest.fixture(scope="module")
def bare():
    """The app without models (no lifespan: nothing loads); enough for static files and sessions."""
    return TestClient(create_app(Settings(api_keys="reader:read,boss:admin")))


def test_root_and_bare_console_redirect(bare) -> None:
    for path in ("/", "/console"):
        r = bare.get(path, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/console/"


def test_console_files_carry_a_strict_csp(bare) -> None:
    for path, kind in (("/console/", "text/html"), ("/console/console.css", "text/css"),
                       ("/console/js/main.js", "javascript")):
        r = bare.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"]
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    page = bare.get("/console/").text
    # No inline script or handler attribute: every script is a file from this origin.
    assert "<script>" not in page and "onclick" not in page and "javascript:" not in page
    assert bare.get("/v1/session").headers.get("content-security-policy") is None


def test_missing_console_file_is_a_native_404(bare) -> None:
    r = bare.get("/console/nope.js")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_session_reports_the_presented_key_role(bare) -> None:
    assert bare.get("/v1/session").json() == {"keys_required": True, "role": None}
    assert bare.get("/v1/session", headers={"authorization": "Bearer reader"}).json()["role"] == "read"
    assert bare.get("/v1/session", headers={"x-api-key": "boss"}).json()["role"] == "admin"
    r = bare.get("/v1/session", headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_session_without_keys_is_open() -> None:
    client = TestClient(create_app(Settings(api_keys=None, api_keys_file=None)))
    assert client.get("/v1/session").json() == {"keys_required": False, "role": "admin"}


def test_operating_point_counts_the_measured_pairs() -> None:
    model = "dlib_resnet_v1"
    data = json.loads(resources.files("visage.data").joinpath(f"roc_{model}.json").read_text())
    # The table stores every pair's distance (bench/calibrate.py: sorted, x 10000, uint16, base64).
    roc = {k: (np.frombuffer(base64.b64decode(data[f"{k[:-10]}_u16"]), "<u2") / 10000.0).tolist()
           for k in ("impostor_distances", "genuine_distances")}
    cal = get_calibration(model)
    point = operating_point(model, 0.5)
    limit = 1 - cal.cosine_at(0.5)
    rates = point["rates"]
    assert rates["impostor_pairs"] == len(roc["impostor_distances"])
    assert rates["false_accepts"] == sum(d <= limit + 1e-12 for d in roc["impostor_distances"])
    assert rates["false_rejects"] == sum(d > limit + 1e-12 for d in roc["genuine_distances"])
    assert rates["false_accept_rate"] == rates["false_accepts"] / rates["impostor_pairs"]
    assert point["calibration"]["cosine_threshold"] == cal.cosine_threshold
    # A threshold near 0 accepts nearly every impostor (calib's dlib impostor cosines reach below where
    # the measured logistic puts 1e-9); one near 1 rejects every genuine pair.
    assert operating_point(model, 1e-9)["rates"]["false_accept_rate"] >= 0.9
    assert operating_point(model, 1 - 1e-9)["rates"]["false_reject_rate"] == 1.0


@pytest.fixture(scope="module")
def client():
    from visage.engine import Engine

    settings = Settings(pipeline="fast")
    with TestClient(create_app(settings, Engine(settings))) as c:
        yield c


@pytest.mark.slow
class TestWithModels:
    def test_operating_point_endpoint_uses_the_server_embedder(self, client) -> None:
        r = client.get("/v1/verify/operating-point", params={"threshold": 0.6})
        body = r.json()
        assert r.status_code == 200 and body["threshold"] == 0.6 and body["model"]
        assert client.get("/v1/verify/operating-point", params={"threshold": 2}).status_code == 400
        r = client.get("/v1/verify/operating-point", params={"model": "no-such-model"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

    def test_keypoints_option_gives_named_vendor_points(self, client, faces_dir) -> None:
        image = (faces_dir / "two_people.jpg").read_bytes()
        r = client.post("/v1/analyze", files={"image": ("p.jpg", image)},
                        data={"keypoints": "rekognition30", "attributes": "age"})
        faces = r.json()["faces"]
        assert r.status_code == 200 and len(faces) == 2
        for face in faces:
            assert "landmarks" not in face and face["keypoints"]["set"] == "rekognition30"
            points = face["keypoints"]["points"]
            assert len(points) == 30 and {"eyeLeft", "nose"} <= {p["name"] for p in points}
            box = face["box"]
            inside = [box["left"] - box["width"] * 0.2 <= p["x"] <= box["left"] + box["width"] * 1.2 for p in points]
            assert all(inside)
        r = client.post("/v1/detect", content=image, headers={"content-type": "image/jpeg"},
                        params={"keypoints": "qiniu72"})
        face = r.json()["faces"][0]
        assert len(face["keypoints"]["points"]) == 72 and len(face["landmarks"]) == 468
        r = client.post("/v1/detect", content=image, headers={"content-type": "image/jpeg"},
                        params={"keypoints": "dlib999"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter"
