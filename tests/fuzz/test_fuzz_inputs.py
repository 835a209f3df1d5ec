"""Fuzz the image decoder and the native parsers: every input ends in a result or a domain error."""

from __future__ import annotations

import base64
import contextlib
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from visage.errors import VisageError
from visage.imaging import ImageLimits, decode_base64, load_image

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _seed_images() -> list[bytes]:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
    out = []
    for fmt in ("JPEG", "PNG", "WEBP", "BMP", "GIF"):
        buf = io.BytesIO()
        img.save(buf, fmt)
        out.append(buf.getvalue())
    return out


SEEDS = _seed_images()


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[: cut or len(data)])


@FUZZ
@given(data=st.one_of(st.binary(max_size=2048), mutated_image()))
def test_decoder_never_raises_anything_but_domain_errors(data: bytes) -> None:
    try:
        out = load_image(data, ImageLimits(max_bytes=1 << 20, max_pixels=4_000_000, min_side=8))
    except VisageError:
        return
    assert out.rgb.dtype == np.uint8 and out.rgb.ndim == 3 and out.rgb.shape[2] == 3


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())))
def test_base64_decoder_never_raises_anything_but_domain_errors(text: str) -> None:
    with contextlib.suppress(VisageError):
        decode_base64(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(["image", "landmarks", "pose", "max_faces", "image_a", "image_b", "template_a",
                          "template_b", "threshold", "collection_id", "extra"])


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory):
    from fastapi.testclient import TestClient

    from visage.api.app import create_app
    from visage.config import Settings

    with TestClient(create_app(Settings(store_url=f"sqlite:///{tmp_path_factory.mktemp('f')}/f.db"), engine),
                    raise_server_exceptions=False) as c:
        yield c


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(path=st.sampled_from(["/v1/detect", "/v1/embed", "/v1/verify", "/v1/collections"]),
       body=st.one_of(st.dictionaries(FIELDS, JSON, max_size=5), JSON),
       raw=st.booleans())
def test_native_parsers_answer_4xx_never_5xx(client, path: str, body: object, raw: bool) -> None:
    import json

    content = json.dumps(body).encode() if not raw else json.dumps(body).encode()[::-1]
    r = client.post(path, content=content, headers={"content-type": "application/json"})
    assert r.status_code < 500, r.text
    assert "error" in r.json() or r.status_code == 200
