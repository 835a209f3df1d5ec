"""Bad input, auth, routing: every failure is a clear ``{"detail": ...}`` with a fitting status, no
traceback ever, and the server keeps serving."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from threedivi_support import b64

from visage.api.app import create_app
from visage.config import Settings

pytestmark = pytest.mark.slow


def png_bomb(side: int = 20000) -> bytes:
    """A valid PNG header claiming side x side pixels with a tiny compressed body (all zeros)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\0" * (1 + side * 3)
    body = zlib.compress(row * 64, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def detail(r, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    return body["detail"]


def still_serving(client, image: bytes) -> None:
    r = client.post("/face-detector/process/sample", json={"$image": b64(image)})
    assert r.status_code == 200 and len(r.json()["objects"]) == 1


def test_bad_images(client, portrait) -> None:
    assert detail(client.post("/face-detector/process/sample", json={"$image": "not base64 !!"}), 400) == \
        "Failed to decode base64 string"
    assert detail(client.post("/face-detector/process/sample",
                              json={"_image": {"blob": "@@@", "format": "IMAGE"}}), 400) == \
        "Failed to decode base64 string"
    assert "truncated" in detail(client.post("/face-detector/process/sample",
                                             json={"$image": b64(portrait[: len(portrait) // 2])}), 400)
    assert "pixels" in detail(client.post("/face-detector/process/image",
                                          files={"image": ("b.png", png_bomb(), "image/png")}), 413)
    assert "empty" in detail(client.post("/face-detector/process/image",
                                         files={"image": ("e.jpg", b"", "image/jpeg")}), 400)
    assert "empty" in detail(client.post("/face-detector/process/sample", json={"$image": ""}), 400)
    assert "format" in detail(client.post("/face-detector/process/sample", json={"$image": b64(b"hello world")}), 400)
    still_serving(client, portrait)


def test_bad_samples(client, portrait) -> None:
    img = b64(portrait)
    assert "unknown field" in detail(client.post("/face-detector/process/sample", json={"$image": img, "x": 1}), 400)
    r = client.post("/age-estimator/process/sample",
                    json={"$image": img, "objects": [{"id": 0, "class": "face", "bbox": [0, 0, 1, 1], "bogus": 1}]})
    assert "bogus" in detail(r, 400)
    assert "not both" in detail(client.post("/face-detector/process/sample",
                                            json={"$image": img, "_image": {"blob": img}}), 400)
    assert "mixes" in detail(client.post("/template-extractor/process/sample", json={
        "$image": img, "objects": [{"class": "face", "bbox": [0, 0, 1, 1], "keypoints": {}}]}), 400)
    assert "bbox" in detail(client.post("/template-extractor/process/sample", json={
        "$image": img, "objects": [{"class": "face", "bbox": [0.5, 0, 0.2, 1]}]}), 400)
    assert "no face" in detail(client.post("/template-extractor/process/sample", json={
        "$image": img, "objects": [{"class": "face", "bbox": [0.0, 0.0, 0.05, 0.05]}]}), 422)
    assert "JSON" in detail(client.post("/face-detector/process/sample", content=b"{not json",
                                        headers={"content-type": "application/json"}), 400)
    assert "object" in detail(client.post("/face-detector/process/sample", json=[1, 2]), 400)
    assert "needs an image" in detail(client.post("/face-detector/process/sample", json={}), 400)
    nan = b'{"$image": "' + img.encode() + b'", "objects": [{"class": "face", "confidence": NaN}]}'
    assert "JSON" in detail(client.post("/face-detector/process/sample", content=nan,
                                        headers={"content-type": "application/json"}), 400)
    deep = b"[" * 100_000 + b"]" * 100_000
    assert detail(client.post("/face-detector/process/sample", content=deep,
                              headers={"content-type": "application/json"}), 400)
    huge = b'{"$image": "' + b"A" * (4 * 1024 * 1024) + b'"}'
    assert "larger than" in detail(client.post("/face-detector/process/sample", content=huge,
                                               headers={"content-type": "application/json"}), 413)
    assert "multipart" in detail(client.post("/face-detector/process/image", json={"$image": img}), 400)
    assert "larger than" in detail(client.post("/face-detector/process/image",
                                               files={"image": ("big.jpg", b"\xff" * (4 * 1024 * 1024))}), 413)
    assert "version" in detail(client.post("/face-detector/process/image?version=v3", content=portrait,
                                           headers={"content-type": "image/jpeg"}), 400)
    still_serving(client, portrait)


def test_bad_templates(client, portrait) -> None:
    obj = client.post("/face-detector-template-extractor/process/sample",
                      json={"$image": b64(portrait)}).json()["objects"][0]
    assert "exactly two" in detail(client.post("/verify-matcher/process/sample", json={"objects": [obj]}), 400)
    bad = dict(obj, **{"$template": "!!!"})
    assert detail(client.post("/verify-matcher/process/sample", json={"objects": [obj, bad]}), 400) == \
        "Failed to decode base64 string"
    foreign = dict(obj, **{"$template": b64(b"\x01" * 296), "template_size": 74})
    assert "not a visage template" in detail(client.post("/verify-matcher/process/sample",
                                                         json={"objects": [obj, foreign]}), 400)
    wrong_size = dict(obj, template_size=3)
    assert "template_size" in detail(client.post("/verify-matcher/process/sample",
                                                 json={"objects": [obj, wrong_size]}), 400)
    # A template of another embedding model (the dlib pipeline's) is refused, never compared.
    from visage.api.dialects.threedivi.schemas import template_v1
    from visage.types import Template

    other = dict(obj, **template_v1(Template.from_vector("dlib_resnet_v1", [0.1] * 128)))
    assert "different models" in detail(client.post("/verify-matcher/process/sample",
                                                    json={"objects": [obj, other]}), 400)
    still_serving(client, portrait)


def test_internal_errors_never_leak(fast_engine, portrait, tmp_path, monkeypatch) -> None:
    app = create_app(Settings(pipeline="fast", home=tmp_path), fast_engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        def boom(*_a, **_k):
            raise RuntimeError("secret internals at /srv/visage/x.py line 12")
        monkeypatch.setattr(fast_engine, "analyze", boom)
        r = c.post("/face-detector/process/sample", json={"$image": b64(portrait)})
        assert "internal error" in detail(r, 500) and "secret" not in r.text
        monkeypatch.undo()
        still_serving(c, portrait)


def test_api_keys(fast_engine, portrait, tmp_path) -> None:
    app = create_app(Settings(pipeline="fast", home=tmp_path, api_keys="k-read"), fast_engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/face-detector/process/sample", json={"$image": b64(portrait)})
        assert "API key" in detail(r, 401) and r.headers["www-authenticate"] == "Bearer"
        assert "unknown" in detail(c.post("/face-detector/process/sample", json={"$image": b64(portrait)},
                                          headers={"X-API-Key": "wrong"}), 401)
        ok = c.post("/face-detector/process/sample", json={"$image": b64(portrait)}, headers={"X-API-Key": "k-read"})
        assert ok.status_code == 200
        ok = c.post("/face-detector/process/image", files={"image": ("p.jpg", portrait, "image/jpeg")},
                    headers={"Authorization": "Bearer k-read"})
        assert ok.status_code == 200


def test_prefix_and_no_collisions(fast_engine, portrait, tmp_path) -> None:
    from visage.api.dialects.threedivi import BLOCKS

    app = create_app(Settings(pipeline="fast", home=tmp_path, threedivi_prefix="/3divi"), fast_engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.post("/3divi/face-detector/process/sample", json={"$image": b64(portrait)}).status_code == 200
        assert c.post("/face-detector/process/sample", json={"$image": b64(portrait)}).status_code == 404
    bare = create_app(Settings(pipeline="fast", home=tmp_path, threedivi_prefix="3divi/"), fast_engine)
    assert "/3divi/face-detector/process/sample" in bare.openapi()["paths"]
    default = create_app(Settings(pipeline="fast", home=tmp_path), fast_engine)
    paths = list(default.openapi()["paths"])
    ours = [p for p in paths if p.count("/") >= 2 and p.split("/")[1] in BLOCKS]
    assert len(ours) == 2 * len(BLOCKS) == 28
    assert all(p.endswith(("/process/sample", "/process/image")) for p in ours)
    assert not any(p.startswith(("/v1/", "/v2/", "/quality/")) or p == "/" for p in ours)
    off = create_app(Settings(pipeline="fast", home=tmp_path, threedivi_enabled=False), fast_engine)
    assert not any(p.endswith("/process/sample") for p in off.openapi()["paths"])


def test_version_fallback_for_samples_without_markers(client, portrait) -> None:
    obj = client.post("/face-detector-template-extractor/process/sample",
                      json={"_image": {"blob": b64(portrait), "format": "IMAGE"}}).json()["objects"][0]
    bare = {k: v for k, v in obj.items() if k != "template"}          # id, class, confidence, bbox only
    r = client.post("/template-extractor/process/sample?version=v1", json={"$image": b64(portrait), "objects": [bare]})
    assert r.status_code == 200 and "$template" in r.json()["objects"][0]
    r = client.post("/face-detector/process/sample?version=v1", json={"objects": []})
    assert "'$image'" in detail(r, 400)
    r = client.post("/face-detector/process/sample", json={"objects": []})
    assert "'_image'" in detail(r, 400)                                # the default version, v2


def test_wrong_method_and_unknown_block(client) -> None:
    r = client.get("/face-detector/process/sample")
    assert "POST" in detail(r, 405) and r.headers["allow"] == "POST"
    assert "no processing block" in detail(client.post("/nose-estimator/process/sample", json={}), 404)
    assert "process/sample" in detail(client.post("/face-detector/process/video", json={}), 404)


def test_ndarray_image(client, portrait) -> None:
    rgb = Image.open(io.BytesIO(portrait)).convert("RGB")
    rgb = rgb.resize((rgb.width // 2, rgb.height // 2))
    raw = rgb.tobytes()
    sample = {"_image": {"blob": b64(raw), "format": "NDARRAY", "dtype": "uint8", "shape": [rgb.height, rgb.width, 3]}}
    a = client.post("/face-detector/process/sample", json=sample)
    assert a.status_code == 200 and len(a.json()["objects"]) == 1
    sample["_image"]["shape"] = [rgb.height, rgb.width + 1, 3]
    assert "bytes" in detail(client.post("/face-detector/process/sample", json=sample), 400)
