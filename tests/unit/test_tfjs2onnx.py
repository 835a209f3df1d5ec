"""tfjs2onnx on small synthetic TF.js graphs, checked against numpy references (no model download)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from visage.models.tfjs2onnx import (
    SUPPORTED_OPS,
    UnsupportedOpError,
    convert,
    convert_cached,
    load_weights,
)

RNG = np.random.default_rng(7)


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(*vals: int) -> dict:
    return {"list": {"i": [str(v) for v in vals]}}


def _strs(*vals: str) -> dict:
    return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in vals]}}


class Graph:
    """Builds a TF.js graph-model folder: model.json + one weight shard."""

    def __init__(self, shape: list[int]) -> None:
        self.nodes: list[dict] = [{
            "name": "input", "op": "Placeholder",
            "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": str(d)} for d in shape]}}},
        }]
        self.weights: list[tuple[str, np.ndarray, dict | None]] = []

    def const(self, name: str, value: np.ndarray, quant: str | None = None) -> str:
        self.nodes.append({"name": name, "op": "Const", "attr": {}})
        self.weights.append((name, np.asarray(value), {"dtype": quant} if quant else None))
        return name

    def op(self, name: str, op: str, inputs: list[str], **attr: dict) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def save(self, folder: Path) -> Path:
        specs, blobs = [], []
        for name, value, quant in self.weights:
            dtype = "int32" if np.issubdtype(value.dtype, np.integer) else "float32"
            spec = {"name": name, "shape": list(value.shape), "dtype": dtype}
            if quant and quant["dtype"] == "float16":
                blobs.append(value.astype(np.float16).tobytes())
                spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            elif quant and quant["dtype"] in ("uint8", "uint16"):
                qt = np.uint8 if quant["dtype"] == "uint8" else np.uint16
                lo, hi = float(value.min()), float(value.max())
                levels = np.iinfo(qt).max
                scale = (hi - lo) / levels if hi > lo else 1.0
                q = np.round((value - lo) / scale).astype(qt)
                blobs.append(q.tobytes())
                spec["quantization"] = {"dtype": quant["dtype"], "scale": scale, "min": lo,
                                        "original_dtype": "float32"}
            else:
                blobs.append(value.astype(np.int32 if dtype == "int32" else np.float32).tobytes())
            specs.append(spec)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "group1-shard1of1.bin").write_bytes(b"".join(blobs))
        model = {"format": "graph-model", "modelTopology": {"node": self.nodes},
                 "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": specs}]}
        path = folder / "model.json"
        path.write_text(json.dumps(model))
        return path


def run_onnx(path_or_model, x: np.ndarray) -> list[np.ndarray]:
    data = path_or_model.SerializeToString() if hasattr(path_or_model, "SerializeToString") else str(path_or_model)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def conv_ref(x: np.ndarray, w: np.ndarray, stride: int, pads: tuple[int, int, int, int],
             depthwise: bool = False) -> np.ndarray:
    """NHWC convolution (TF semantics) by loops; w is HWIO, or HWCM for depthwise."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    n, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out_c = c * w.shape[3] if depthwise else w.shape[3]
    y = np.zeros((n, oh, ow, out_c), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            if depthwise:
                y[:, i, j, :] = np.einsum("nhwc,hwcm->ncm", patch, w).reshape(n, -1)
            else:
                y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return y


def same_pads(size: int, k: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def test_fused_conv_same_stride2_bias_relu(tmp_path: Path) -> None:
    g = Graph([1, 9, 9, 3])
    w = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b = RNG.normal(size=(4,)).astype(np.float32)
    g.op("y", "_FusedConv2D", ["input", g.const("w", w), g.const("b", b)],
         strides=_ints(1, 2, 2, 1), padding=_s("SAME"), data_format=_s("NHWC"),
         dilations=_ints(1, 1, 1, 1), fused_ops=_strs("BiasAdd", "Relu"), num_args={"i": "1"})
    x = RNG.normal(size=(1, 9, 9, 3)).astype(np.float32)
    (got,) = run_onnx(convert(g.save(tmp_path)).model, x)
    ph, pw = same_pads(9, 3, 2), same_pads(9, 3, 2)
    want = np.maximum(conv_ref(x, w, 2, (ph[0], pw[0], ph[1], pw[1])) + b, 0)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_zero_pad_then_valid_depthwise_is_fused_and_exact(tmp_path: Path) -> None:
    g = Graph([-1, 6, 6, 2])
    pads = np.array([[0, 0], [1, 1], [2, 0], [0, 0]], np.int32)
    w = RNG.normal(size=(3, 3, 2, 2)).astype(np.float32)
    g.op("p", "Pad", ["input", g.const("pads", pads)])
    g.op("y", "DepthwiseConv2dNative", ["p", g.const("w", w)], strides=_ints(1, 1, 1, 1),
         padding=_s("VALID"), data_format=_s("NHWC"), dilations=_ints(1, 1, 1, 1))
    converted = convert(g.save(tmp_path), batch="N")
    assert "Pad" not in {n.op_type for n in converted.model.graph.node}
    x = RNG.normal(size=(2, 6, 6, 2)).astype(np.float32)
    (got,) = run_onnx(converted.model, x)
    np.testing.assert_allclose(got, conv_ref(x, w, 1, (1, 2, 1, 0), depthwise=True), atol=1e-4)


@pytest.mark.parametrize("quant", ["uint8", "uint16", "float16"])
def test_quantised_weights_dequantise(tmp_path: Path, quant: str) -> None:
    g = Graph([1, 4])
    w = RNG.normal(size=(4, 3)).astype(np.float32)
    g.op("y", "MatMul", ["input", g.const("w", w, quant)])
    path = g.save(tmp_path)
    got = load_weights(json.loads(path.read_text()), tmp_path)["w"]
    tol = {"uint8": (w.max() - w.min()) / 255, "uint16": (w.max() - w.min()) / 65535, "float16": 2e-3}[quant]
    np.testing.assert_allclose(got, w, atol=tol)
    x = RNG.normal(size=(1, 4)).astype(np.float32)
    (y,) = run_onnx(convert(path).model, x)
    np.testing.assert_allclose(y, x @ got, atol=1e-5)


def test_relu6_chain_becomes_clip(tmp_path: Path) -> None:
    g = Graph([1, 5])
    g.op("r", "Relu", ["input"])
    g.op("mn", "Minimum", ["r", g.const("six", np.array(6.0, np.float32))])
    g.op("y", "Maximum", ["mn", g.const("zero", np.array(0.0, np.float32))])
    converted = convert(g.save(tmp_path))
    ops = {n.op_type for n in converted.model.graph.node}
    assert "Clip" in ops and not ops & {"Min", "Max", "Relu"}
    x = np.array([[-3.0, 0.5, 5.0, 7.0, 100.0]], np.float32)
    (y,) = run_onnx(converted.model, x)
    np.testing.assert_allclose(y, np.clip(x, 0, 6))


def test_shape_stridedslice_pack_reshape_with_dynamic_batch(tmp_path: Path) -> None:
    g = Graph([-1, 2, 3, 4])
    g.op("shape", "Shape", ["input"], out_type={"type": "DT_INT32"})
    g.op("batch", "StridedSlice", ["shape", g.const("b", np.array([0], np.int32)),
                                   g.const("e", np.array([1], np.int32)), g.const("s", np.array([1], np.int32))],
         shrink_axis_mask={"i": "1"})
    g.op("newshape", "Pack", ["batch", g.const("d1", np.array(6, np.int32)), g.const("d2", np.array(4, np.int32))],
         axis={"i": "0"})
    g.op("y", "Reshape", ["input", "newshape"])
    x = RNG.normal(size=(3, 2, 3, 4)).astype(np.float32)
    (y,) = run_onnx(convert(g.save(tmp_path), batch="N").model, x)
    np.testing.assert_array_equal(y, x.reshape(3, 6, 4))


def test_prelu_maxpool_mean_concat_softmax(tmp_path: Path) -> None:
    g = Graph([1, 4, 4, 2])
    alpha = np.array([0.1, 0.3], np.float32)
    g.op("p", "Prelu", ["input", g.const("alpha", alpha)])
    g.op("mp", "MaxPool", ["p"], ksize=_ints(1, 2, 2, 1), strides=_ints(1, 2, 2, 1), padding=_s("SAME"),
         data_format=_s("NHWC"))
    g.op("m", "Mean", ["mp", g.const("axes", np.array([1, 2], np.int32))], keep_dims={"b": False})
    g.op("c", "ConcatV2", ["m", "m", g.const("axis", np.array(1, np.int32))])
    g.op("y", "Softmax", ["c"])
    x = RNG.normal(size=(1, 4, 4, 2)).astype(np.float32)
    (y,) = run_onnx(convert(g.save(tmp_path)).model, x)
    p = np.where(x > 0, x, x * alpha)
    mp = p.reshape(1, 2, 2, 2, 2, 2).max(axis=(2, 4))
    c = np.concatenate([mp.mean(axis=(1, 2))] * 2, axis=1)
    want = np.exp(c) / np.exp(c).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(y, want, atol=1e-5)


def test_resize_bilinear_half_pixel_and_depth_to_space(tmp_path: Path) -> None:
    g = Graph([1, 2, 2, 4])
    g.op("d2s", "DepthToSpace", ["input"], block_size={"i": "2"}, data_format=_s("NHWC"))
    g.op("y", "ResizeBilinear", ["d2s", g.const("size", np.array([8, 8], np.int32))],
         half_pixel_centers={"b": True}, align_corners={"b": False})
    x = RNG.normal(size=(1, 2, 2, 4)).astype(np.float32)
    (y,) = run_onnx(convert(g.save(tmp_path)).model, x)
    # DepthToSpace (TF, NHWC): out[h*2+i, w*2+j, c] = in[h, w, (i*2+j)*C + c]
    d2s = x.reshape(1, 2, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(1, 4, 4, 1)
    import cv2

    want = cv2.resize(d2s[0, :, :, 0], (8, 8), interpolation=cv2.INTER_LINEAR)  # half-pixel centres
    np.testing.assert_allclose(y[0, :, :, 0], want, atol=1e-5)


def test_unsupported_op_fails_with_its_name(tmp_path: Path) -> None:
    g = Graph([1, 3])
    g.op("y", "Atan2", ["input", "input"])
    g.op("z", "BatchMatMulV2", ["y", "y"])
    with pytest.raises(UnsupportedOpError) as err:
        convert(g.save(tmp_path))
    assert err.value.ops == ["Atan2", "BatchMatMulV2"]
    assert "Atan2" in str(err.value) and "model.json" in str(err.value)
    assert "Atan2" not in SUPPORTED_OPS


def test_convert_cached_is_keyed_by_source_sha(tmp_path: Path) -> None:
    g = Graph([1, 2])
    g.op("y", "Relu", ["input"])
    path = g.save(tmp_path)
    first = convert_cached(path)
    assert first.parent == tmp_path and first.is_file()
    mtime = first.stat().st_mtime_ns
    assert convert_cached(path) == first and first.stat().st_mtime_ns == mtime
    g.op("z", "Sigmoid", ["y"])
    g.save(tmp_path)
    second = convert_cached(path)
    assert second != first
    (y,) = run_onnx(second, np.array([[-1.0, 2.0]], np.float32))
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-np.array([[0.0, 2.0]]))), atol=1e-6)


def test_cached_conversion_does_not_rehash_unchanged_sources(tmp_path: Path, monkeypatch) -> None:
    """Serving from the cache hashes the weight shards once, not on every start (issue 15 cold start)."""
    import visage.models.onnx_cache as onnx_cache

    g = Graph([1, 2])
    g.op("y", "Relu", ["input"])
    path = g.save(tmp_path)
    first = convert_cached(path)
    hashed: list[Path] = []
    real = onnx_cache.source_sha256
    monkeypatch.setattr(onnx_cache, "source_sha256", lambda p: hashed.append(p) or real(p))
    assert convert_cached(path) == first and hashed == []
    g.op("z", "Sigmoid", ["y"])
    g.save(tmp_path)  # a changed source is hashed (and converted) again
    assert convert_cached(path) != first and len(hashed) == 1


def test_a_new_conversion_removes_the_stale_ones_of_the_same_source(tmp_path: Path) -> None:
    """A changed source (or converter release) leaves one conversion per batch variant, not one per version."""
    g = Graph([1, 2])
    g.op("y", "Relu", ["input"])
    path = g.save(tmp_path)
    first, fixed = convert_cached(path), convert_cached(path, batch=1)
    old_release = first.with_name(first.name.replace(".v", ".v1", 1)[: -len(".bN.onnx")] + ".bN.onnx")
    old_release.write_bytes(first.read_bytes())
    unrelated = tmp_path / "other.0123456789abcdef.v1.bN.onnx"
    unrelated.write_bytes(b"x")
    g.op("z", "Sigmoid", ["y"])
    g.save(tmp_path)
    second = convert_cached(path)
    assert second.is_file() and not first.exists() and not old_release.exists()
    assert fixed.exists() and unrelated.exists()  # another batch variant, another model: kept
