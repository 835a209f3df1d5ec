"""Wire syntax without a model: the seed's own samples parse (both ways, since a block's answer is the
next block's request), the template blob codec, the version rules, the ROC interpolation."""

from __future__ import annotations

import numpy as np
import pytest
from threedivi_support import GOLDEN

from visage.api.dialects.threedivi.roc import Roc
from visage.api.dialects.threedivi.schemas import (
    check_sample,
    decode_template,
    encode_template,
    parse_template,
    parse_version,
    template_v1,
    template_v2,
)
from visage.errors import InvalidParameterError
from visage.types import Template


@pytest.mark.parametrize("ex", GOLDEN, ids=[f"{e['block']}-{e['version']}" for e in GOLDEN])
def test_seed_samples_are_accepted(ex) -> None:
    assert parse_version(ex["request"], "v1" if ex["version"] == "v2" else "v2") == ex["version"]
    check_sample(ex["request"], ex["version"])
    response = ex["response"]
    if ex["block"] == "quality-assessment-estimator" and ex["version"] == "v2":
        with pytest.raises(InvalidParameterError, match="mixes"):   # the seed's "$image" in a v2 answer
            parse_version(response, "v2")
        return
    assert parse_version(response, "v1") == ex["version"]
    check_sample(response, ex["version"])


def test_template_blob_roundtrip_and_refusals() -> None:
    t = Template.from_vector("human-faceres-deep-1024", np.arange(1, 1025, dtype=np.float32))
    blob = encode_template(t)
    assert blob[:4] == b"VSGT" and len(blob) % 4 == 0
    back = decode_template(blob, "t")
    assert back.model == t.model and np.array_equal(back.vector, t.vector)
    v1, v2 = template_v1(t), template_v2(t, "k")
    assert v1["template_size"] == len(blob) // 4 and v2["template"]["k"]["shape"] == [len(blob)]
    assert parse_template(v1, "v1", "o").cosine(t) == pytest.approx(1.0)
    assert parse_template(v2, "v2", "o").cosine(t) == pytest.approx(1.0)
    for bad in (b"", b"VSGT", blob[:-2], b"XXXX" + blob[4:], blob[:4] + b"\x02" + blob[5:]):
        with pytest.raises(InvalidParameterError):
            decode_template(bad, "t")
    nan = blob[:-4] + np.float32(np.nan).tobytes()
    with pytest.raises(InvalidParameterError, match="finite"):
        decode_template(nan, "t")
    with pytest.raises(InvalidParameterError, match="exactly one"):
        parse_template({"template": {"a": v2["template"]["k"], "b": v2["template"]["k"]}}, "v2", "o")
    with pytest.raises(InvalidParameterError, match="shape"):
        parse_template({"template": {"k": dict(v2["template"]["k"], shape=[3])}}, "v2", "o")


def test_version_rules() -> None:
    assert parse_version({}, "v2") == "v2" and parse_version({}, "v1") == "v1"
    assert parse_version({"objects": [{"$template": "x"}]}, "v2") == "v1"
    assert parse_version({"objects": [{"pose": {}}]}, "v1") == "v2"
    with pytest.raises(InvalidParameterError, match="mixes"):
        parse_version({"$image": "x", "objects": [{"keypoints": {}}]}, "v1")
    with pytest.raises(InvalidParameterError, match="unknown field"):
        check_sample({"objects": [{"keypoints": {}}]}, "v1")
    with pytest.raises(InvalidParameterError, match="at most"):
        check_sample({"objects": [{}] * 1000}, "v1")


def test_roc_interpolation() -> None:
    roc = Roc.from_distances("m", genuine=[0.1, 0.2], impostor=[0.4, 0.6], measured_on="unit")
    assert roc.rates(0.0) == (0.0, 1.0)
    assert roc.rates(0.1) == (0.0, 0.5) and roc.rates(0.2) == (0.0, 0.0)
    assert roc.rates(0.4) == (0.5, 0.0) and roc.rates(0.5) == pytest.approx((0.75, 0.0))
    assert roc.rates(0.6) == (1.0, 0.0) and roc.rates(5.0) == (1.0, 0.0)
