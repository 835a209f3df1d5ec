"""3DiVi findings of issue 15 (7): lone surrogates and a non-array ``objects`` are 400 ``{"detail"}``."""

from __future__ import annotations

import pytest

J = {"content-type": "application/json"}


@pytest.mark.parametrize("block", ["face-detector", "template-extractor", "age-estimator", "verify-matcher",
                                   "quality-assessment-estimator"])
@pytest.mark.parametrize("objects", ["1", '"faces"', "{}", "true", "1.5"])
def test_objects_not_an_array_is_400(client, block, objects) -> None:
    r = client.post(f"/{block}/process/sample", content=f'{{"objects": {objects}}}'.encode(), headers=J)
    assert r.status_code == 400, r.text
    assert "objects" in r.json()["detail"]


@pytest.mark.parametrize("raw", [
    '{"_image": {"blob": "\\ud800"}}',
    '{"$image": "\\udc00"}',
    '{"objects": [{"class": "\\ud800"}]}',
    '{"\\ud800": 1}',
])
def test_lone_surrogates_are_400(client, raw) -> None:
    r = client.post("/face-detector/process/sample", content=raw.encode(), headers=J)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"detail"}
