"""Convert a TensorFlow.js graph model (``model.json`` + weight shards) to an ONNX model.

Our own converter, so the TF.js model zoo runs on onnxruntime without TensorFlow. It reads the
graph JSON that ``tensorflowjs_converter`` writes (``format: graph-model``), dequantises the weights
(float32, and the quantised ``uint8``/``uint16``/``float16`` forms), and emits one ONNX node (or a
short fixed sequence) per TF op. An op outside :data:`SUPPORTED_OPS` fails the conversion with
:class:`UnsupportedOpError` naming every unsupported op.

Layout: TF tensors are NHWC and stay NHWC in the ONNX graph, so every shape-dependent op (Reshape,
Shape, StridedSlice, Mean over axes ...) keeps its TF meaning. The spatial ops that ONNX only defines
for NCHW (Conv, pooling, Resize, DepthToSpace) are wrapped in a Transpose pair; onnxruntime's
transpose optimiser then cancels the adjacent pairs when it loads the model.

Integers: TF ``int32`` tensors are ``int64`` in the ONNX graph (what ONNX shape ops consume).

Converted models are cached next to their source, keyed by the source's sha256
(:func:`convert_cached`).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from visage.models.graph_passes import graph_index, split_prelu
from visage.models.onnx_cache import CONVERTER_VERSION, convert_cached, source_sha256  # noqa: F401 - re-exported

OPSET = 18

_NHWC_TO_NCHW = [0, 3, 1, 2]
_NCHW_TO_NHWC = [0, 2, 3, 1]

_TF_DTYPES = {
    "DT_FLOAT": TensorProto.FLOAT,
    "DT_INT32": TensorProto.INT64,
    "DT_INT64": TensorProto.INT64,
    "DT_BOOL": TensorProto.BOOL,
    "DT_HALF": TensorProto.FLOAT,
}


class ConversionError(ValueError):
    """The model cannot be converted (malformed, or a construct this converter does not cover)."""


class UnsupportedOpError(ConversionError):
    """The graph uses TF ops the converter does not implement; ``ops`` names them."""

    def __init__(self, ops: Iterable[str], model: str = "") -> None:
        self.ops = sorted(set(ops))
        where = f" in {model}" if model else ""
        super().__init__(f"unsupported TF.js op(s){where}: {', '.join(self.ops)}")


# ---------------------------------------------------------------------------------------------
# Reading the TF.js model


def _attr_s(attr: dict, key: str, default: str = "") -> str:
    v = attr.get(key)
    if not v or "s" not in v:
        return default
    return base64.b64decode(v["s"]).decode("utf-8")


def _attr_i(attr: dict, key: str, default: int = 0) -> int:
    v = attr.get(key)
    if not v or "i" not in v:
        return default
    return int(v["i"])


def _attr_f(attr: dict, key: str, default: float = 0.0) -> float:
    v = attr.get(key)
    if not v or "f" not in v:
        return default
    return float(v["f"])


def _attr_b(attr: dict, key: str, default: bool = False) -> bool:
    v = attr.get(key)
    if not v or "b" not in v:
        return default
    return bool(v["b"])


def _attr_ints(attr: dict, key: str) -> list[int]:
    v = attr.get(key)
    if not v:
        return []
    return [int(x) for x in v.get("list", {}).get("i", [])]


def _attr_strs(attr: dict, key: str) -> list[str]:
    v = attr.get(key)
    if not v:
        return []
    return [base64.b64decode(x).decode("utf-8") for x in v.get("list", {}).get("s", [])]


def _attr_type(attr: dict, key: str, default: str = "DT_FLOAT") -> str:
    v = attr.get(key)
    if not v or "type" not in v:
        return default
    return str(v["type"])


_NP_OF = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "float16": np.float16,
          "uint8": np.uint8, "uint16": np.uint16, "int64": np.int64}


def load_weights(model_json: dict, base_dir: Path) -> dict[str, np.ndarray]:
    """Every weight of the manifest, dequantised to float32 (floats) or int64 (ints)."""
    out: dict[str, np.ndarray] = {}
    for group in model_json.get("weightsManifest", []):
        data = b"".join((base_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            dtype = w["dtype"]
            quant = w.get("quantization")
            if dtype == "string":
                raise ConversionError(f"string weight {w['name']} is not supported")
            if quant:
                qdtype = quant["dtype"]
                if qdtype not in ("uint8", "uint16", "float16"):
                    raise ConversionError(f"weight {w['name']}: unknown quantisation {qdtype}")
                np_q = _NP_OF[qdtype]
                nbytes = count * np.dtype(np_q).itemsize
                raw = np.frombuffer(data, dtype=np_q, count=count, offset=offset)
                if qdtype == "float16":
                    arr = raw.astype(np.float32)
                else:
                    arr = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
                if dtype == "int32":
                    arr = np.round(arr).astype(np.int64)
            else:
                if dtype not in _NP_OF:
                    raise ConversionError(f"weight {w['name']}: unknown dtype {dtype}")
                np_t = _NP_OF[dtype]
                nbytes = count * np.dtype(np_t).itemsize
                arr = np.frombuffer(data, dtype=np_t, count=count, offset=offset)
                arr = arr.astype(np.int64) if dtype == "int32" else arr.astype(np_t)
            offset += nbytes
            out[w["name"]] = np.array(arr).reshape(shape)
        if offset != len(data):
            raise ConversionError(f"weight shards {group['paths']} hold {len(data)} bytes, manifest {offset}")
    return out


def _split_input(ref: str) -> tuple[str, int]:
    """'node:1' -> ('node', 1); 'node' -> ('node', 0)."""
    if ":" in ref:
        name, idx = ref.rsplit(":", 1)
        if idx.isdigit():
            return name, int(idx)
    return ref, 0


# ---------------------------------------------------------------------------------------------
# The builder


@dataclass
class _Builder:
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    consts: dict[str, np.ndarray] = field(default_factory=dict)  # ONNX tensor name -> value
    # Outputs of zero-valued spatial Pads: name -> (Pad input, TF paddings [4, 2]); a following
    # VALID convolution absorbs the padding instead of materialising the padded tensor.
    zero_pads: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    _n: int = 0

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}__{self._n}"

    def const(self, value: np.ndarray, hint: str = "const") -> str:
        name = self.fresh(hint)
        self.add_initializer(name, value)
        return name

    def add_initializer(self, name: str, value: np.ndarray) -> None:
        value = np.asarray(value)
        if value.dtype == np.int32:
            value = value.astype(np.int64)
        self.initializers.append(numpy_helper.from_array(value, name))
        self.consts[name] = value

    def op(self, op_type: str, inputs: list[str], hint: str, outputs: int = 1, out: str | None = None,
           **attrs) -> str | list[str]:
        names = [out] if (out is not None and outputs == 1) else [self.fresh(hint) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=self.fresh(op_type), **attrs))
        return names[0] if outputs == 1 else names


@dataclass
class _Ctx:
    b: _Builder
    node: dict
    inputs: list[str]          # ONNX tensor names of the TF inputs
    values: dict[str, np.ndarray]  # known constant values, by ONNX tensor name
    out: str                   # ONNX name for output 0

    @property
    def attr(self) -> dict:
        return self.node.get("attr", {})

    def const_input(self, i: int) -> np.ndarray:
        name = self.inputs[i]
        if name not in self.values:
            raise ConversionError(
                f"{self.node['op']} {self.node['name']}: input {i} must be a constant for this converter"
            )
        return self.values[name]


def _to_nchw(ctx: _Ctx, x: str) -> str:
    return ctx.b.op("Transpose", [x], "nchw", perm=_NHWC_TO_NCHW)


def _to_nhwc(ctx: _Ctx, x: str, out: str) -> str:
    return ctx.b.op("Transpose", [x], "nhwc", out=out, perm=_NCHW_TO_NHWC)


def _check_nhwc(ctx: _Ctx) -> None:
    fmt = _attr_s(ctx.attr, "data_format", "NHWC")
    if fmt != "NHWC":
        raise ConversionError(f"{ctx.node['op']} {ctx.node['name']}: data_format {fmt} not supported")


def _spatial(ctx: _Ctx, key: str) -> list[int]:
    vals = _attr_ints(ctx.attr, key) or [1, 1, 1, 1]
    return [vals[1], vals[2]]


def _pad_attrs(ctx: _Ctx) -> dict:
    padding = _attr_s(ctx.attr, "padding", "VALID")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}
    if padding == "VALID":
        return {"auto_pad": "VALID"}
    if padding == "EXPLICIT":
        p = _attr_ints(ctx.attr, "explicit_paddings")  # NHWC pairs
        return {"pads": [p[2], p[4], p[3], p[5]]}
    raise ConversionError(f"{ctx.node['name']}: padding {padding} not supported")


def _activation(ctx: _Ctx, x: str, act: str, extra: list[str], out: str) -> str:
    b = ctx.b
    if act == "Relu":
        return b.op("Relu", [x], "relu", out=out)
    if act == "Relu6":
        return b.op("Clip", [x, b.const(np.float32(0)), b.const(np.float32(6))], "relu6", out=out)
    if act == "Elu":
        return b.op("Elu", [x], "elu", out=out)
    if act == "Sigmoid":
        return b.op("Sigmoid", [x], "sigmoid", out=out)
    if act == "Tanh":
        return b.op("Tanh", [x], "tanh", out=out)
    if act == "LeakyRelu":
        return b.op("LeakyRelu", [x], "lrelu", out=out, alpha=_attr_f(ctx.attr, "leakyrelu_alpha", 0.2))
    if act == "Prelu":
        if not extra:
            raise ConversionError(f"{ctx.node['name']}: fused Prelu without alpha")
        return _prelu(ctx, x, extra[0], out)
    raise UnsupportedOpError([f"{ctx.node['op']}+{act}"])


def _prelu(ctx: _Ctx, x: str, alpha: str, out: str) -> str:
    # TF.js Prelu: max(0, x) + alpha * min(0, x), alpha broadcast against x (NHWC: channels last).
    return ctx.b.op("PRelu", [x, alpha], "prelu", out=out)


def _fused_tail(ctx: _Ctx, y: str, n_main: int, out: str, nchw: bool) -> str:
    """Apply the fused ops (BiasAdd, then an activation) of a _Fused* node to ``y``."""
    b = ctx.b
    fused = _attr_strs(ctx.attr, "fused_ops")
    extra = ctx.inputs[n_main:]
    if not fused:
        return _to_nhwc(ctx, y, out) if nchw else b.op("Identity", [y], "id", out=out)
    if fused[0] not in ("BiasAdd", "FusedBatchNorm"):
        raise UnsupportedOpError([f"{ctx.node['op']}+{fused[0]}"])
    if fused[0] == "FusedBatchNorm":
        raise UnsupportedOpError([f"{ctx.node['op']}+FusedBatchNorm"])
    acts = fused[1:]
    if len(acts) > 1:
        raise UnsupportedOpError([f"{ctx.node['op']}+{'+'.join(fused)}"])
    if nchw:
        y = b.op("Transpose", [y], "nhwc", perm=_NCHW_TO_NHWC)
    if not acts:
        return b.op("Add", [y, extra[0]], "bias", out=out)
    y = b.op("Add", [y, extra[0]], "bias")
    return _activation(ctx, y, acts[0], extra[1:], out)


def _conv(ctx: _Ctx, depthwise: bool, fused: bool) -> None:
    b = ctx.b
    _check_nhwc(ctx)
    w = ctx.const_input(1).astype(np.float32)
    kh, kw, cin, cm = w.shape
    if depthwise:
        # TF [H, W, C, M] -> ONNX [C*M, 1, H, W], group C.
        w_onnx = w.reshape(kh, kw, cin * cm).transpose(2, 0, 1)[:, None, :, :]
        group = cin
    else:
        w_onnx = w.transpose(3, 2, 0, 1)  # HWIO -> OIHW
        group = 1
    wname = b.const(np.ascontiguousarray(w_onnx), "w")
    pad_attrs = _pad_attrs(ctx)
    x = ctx.inputs[0]
    if x in b.zero_pads and pad_attrs == {"auto_pad": "VALID"}:
        x, p = b.zero_pads[x]
        pad_attrs = {"pads": [int(p[1, 0]), int(p[2, 0]), int(p[1, 1]), int(p[2, 1])]}
    inputs = [_to_nchw(ctx, x), wname]
    fused_ops = _attr_strs(ctx.attr, "fused_ops") if fused else []
    conv_bias = False
    if fused_ops and fused_ops[0] == "BiasAdd" and ctx.inputs[2] in ctx.values:
        inputs.append(b.const(ctx.values[ctx.inputs[2]].astype(np.float32).reshape(-1), "bias"))
        conv_bias = True
    y = b.op("Conv", inputs, "conv", kernel_shape=[kh, kw], strides=_spatial(ctx, "strides"),
             dilations=_spatial(ctx, "dilations"), group=group, **pad_attrs)
    if not fused:
        _to_nhwc(ctx, y, ctx.out)
        return
    if conv_bias:
        acts = fused_ops[1:]
        if len(acts) > 1:
            raise UnsupportedOpError([f"{ctx.node['op']}+{'+'.join(fused_ops)}"])
        if not acts:
            _to_nhwc(ctx, y, ctx.out)
            return
        y = b.op("Transpose", [y], "nhwc", perm=_NCHW_TO_NHWC)
        _activation(ctx, y, acts[0], ctx.inputs[3:], ctx.out)
        return
    _fused_tail(ctx, y, 2, ctx.out, nchw=True)


def _pool(ctx: _Ctx, kind: str) -> None:
    _check_nhwc(ctx)
    x = _to_nchw(ctx, ctx.inputs[0])
    y = ctx.b.op(kind, [x], "pool", kernel_shape=_spatial(ctx, "ksize"), strides=_spatial(ctx, "strides"),
                 **_pad_attrs(ctx))
    _to_nhwc(ctx, y, ctx.out)


def _matmul(ctx: _Ctx, fused: bool) -> None:
    b = ctx.b
    a, w = ctx.inputs[0], ctx.inputs[1]
    if _attr_b(ctx.attr, "transpose_a"):
        a = b.op("Transpose", [a], "ta", perm=[1, 0])
    if _attr_b(ctx.attr, "transpose_b"):
        w = b.op("Transpose", [w], "tb", perm=[1, 0])
    if not fused:
        b.op("MatMul", [a, w], "matmul", out=ctx.out)
        return
    y = b.op("MatMul", [a, w], "matmul")
    _fused_tail(ctx, y, 2, ctx.out, nchw=False)


def _reduce(ctx: _Ctx, onnx_op: str) -> None:
    axes = np.asarray(ctx.const_input(1)).reshape(-1).astype(np.int64)
    keep = 1 if _attr_b(ctx.attr, "keep_dims") else 0
    ctx.b.op(onnx_op, [ctx.inputs[0], ctx.b.const(axes, "axes")], "reduce", out=ctx.out, keepdims=keep)


def _pad(ctx: _Ctx, mode: str = "constant") -> None:
    b = ctx.b
    p = np.asarray(ctx.const_input(1)).astype(np.int64)
    zero_value = len(ctx.inputs) < 3 or (ctx.inputs[2] in ctx.values and not np.any(ctx.values[ctx.inputs[2]]))
    if mode == "constant" and zero_value and p.shape == (4, 2) and not p[0].any() and not p[3].any():
        b.zero_pads[ctx.out] = (ctx.inputs[0], p)
    pads = np.concatenate([p[:, 0], p[:, 1]])
    inputs = [ctx.inputs[0], b.const(pads, "pads")]
    if len(ctx.inputs) > 2:
        inputs.append(ctx.inputs[2])
    b.op("Pad", inputs, "pad", out=ctx.out, mode=mode)


def _mirror_pad(ctx: _Ctx) -> None:
    mode = _attr_s(ctx.attr, "mode", "REFLECT")
    if mode != "REFLECT":
        raise UnsupportedOpError([f"MirrorPad({mode})"])
    _pad(ctx, "reflect")


def _strided_slice(ctx: _Ctx) -> None:
    b = ctx.b
    begin = np.asarray(ctx.const_input(1)).reshape(-1).astype(np.int64)
    end = np.asarray(ctx.const_input(2)).reshape(-1).astype(np.int64)
    strides = np.asarray(ctx.const_input(3)).reshape(-1).astype(np.int64)
    bm, em = _attr_i(ctx.attr, "begin_mask"), _attr_i(ctx.attr, "end_mask")
    shrink = _attr_i(ctx.attr, "shrink_axis_mask")
    if _attr_i(ctx.attr, "ellipsis_mask") or _attr_i(ctx.attr, "new_axis_mask"):
        raise UnsupportedOpError(["StridedSlice(ellipsis/new_axis mask)"])
    big = np.iinfo(np.int64).max
    starts, ends, axes, steps, squeeze = [], [], [], [], []
    for i in range(len(begin)):
        st = int(strides[i])
        if shrink >> i & 1:
            s = int(begin[i])
            starts.append(s)
            ends.append(s + 1 if s != -1 else big)
            steps.append(1)
            axes.append(i)
            squeeze.append(i)
            continue
        lo = int(begin[i]) if not (bm >> i & 1) else (0 if st > 0 else big)
        hi = int(end[i]) if not (em >> i & 1) else (big if st > 0 else -big)
        starts.append(lo)
        ends.append(hi)
        steps.append(st)
        axes.append(i)
    y = b.op("Slice", [ctx.inputs[0], b.const(np.array(starts, np.int64)), b.const(np.array(ends, np.int64)),
                       b.const(np.array(axes, np.int64)), b.const(np.array(steps, np.int64))], "slice",
             out=None if squeeze else ctx.out)
    if squeeze:
        b.op("Squeeze", [y, b.const(np.array(squeeze, np.int64))], "squeeze", out=ctx.out)


def _resize_bilinear(ctx: _Ctx, mode: str) -> None:
    b = ctx.b
    size = np.asarray(ctx.const_input(1)).reshape(-1).astype(np.int64)
    if _attr_b(ctx.attr, "align_corners"):
        ctm = "align_corners"
    elif _attr_b(ctx.attr, "half_pixel_centers"):
        ctm = "half_pixel" if mode == "linear" else "tf_half_pixel_for_nn"
    else:
        ctm = "asymmetric"
    x = _to_nchw(ctx, ctx.inputs[0])
    extra = {"nearest_mode": "round_prefer_ceil" if ctm == "align_corners" else "floor"} if mode == "nearest" else {}
    y = b.op("Resize", [x, "", "", b.const(size, "sizes")], "resize", mode=mode,
             coordinate_transformation_mode=ctm, axes=[2, 3], **extra)
    _to_nhwc(ctx, y, ctx.out)


def _depth_to_space(ctx: _Ctx) -> None:
    _check_nhwc(ctx)
    x = _to_nchw(ctx, ctx.inputs[0])
    y = ctx.b.op("DepthToSpace", [x], "d2s", blocksize=_attr_i(ctx.attr, "block_size"), mode="DCR")
    _to_nhwc(ctx, y, ctx.out)


def _concat(ctx: _Ctx) -> None:
    axis = int(np.asarray(ctx.const_input(len(ctx.inputs) - 1)).reshape(-1)[0])
    ctx.b.op("Concat", ctx.inputs[:-1], "concat", out=ctx.out, axis=axis)


def _pack(ctx: _Ctx) -> None:
    b = ctx.b
    axis = _attr_i(ctx.attr, "axis")
    ax = b.const(np.array([axis], np.int64))
    parts = [b.op("Unsqueeze", [x, ax], "unsq") for x in ctx.inputs]
    b.op("Concat", parts, "pack", out=ctx.out, axis=axis)


def _squeeze(ctx: _Ctx) -> None:
    dims = _attr_ints(ctx.attr, "squeeze_dims") or _attr_ints(ctx.attr, "axis")
    inputs = [ctx.inputs[0]]
    if dims:
        inputs.append(ctx.b.const(np.array(dims, np.int64)))
    ctx.b.op("Squeeze", inputs, "squeeze", out=ctx.out)


def _expand_dims(ctx: _Ctx) -> None:
    axis = np.asarray(ctx.const_input(1)).reshape(-1).astype(np.int64)
    ctx.b.op("Unsqueeze", [ctx.inputs[0], ctx.b.const(axis)], "unsq", out=ctx.out)


def _reshape(ctx: _Ctx) -> None:
    shape = ctx.inputs[1]
    if shape in ctx.values:
        shape = ctx.b.const(np.asarray(ctx.values[shape]).reshape(-1).astype(np.int64), "shape")
    ctx.b.op("Reshape", [ctx.inputs[0], shape], "reshape", out=ctx.out)


def _transpose(ctx: _Ctx) -> None:
    perm = [int(v) for v in np.asarray(ctx.const_input(1)).reshape(-1)]
    ctx.b.op("Transpose", [ctx.inputs[0]], "transpose", out=ctx.out, perm=perm)


def _cast(ctx: _Ctx) -> None:
    to = _attr_type(ctx.attr, "DstT")
    if to not in _TF_DTYPES:
        raise UnsupportedOpError([f"Cast(to {to})"])
    ctx.b.op("Cast", [ctx.inputs[0]], "cast", out=ctx.out, to=_TF_DTYPES[to])


def _softmax(ctx: _Ctx) -> None:
    ctx.b.op("Softmax", [ctx.inputs[0]], "softmax", out=ctx.out, axis=-1)


def _simple(onnx_op: str, **attrs) -> Callable[[_Ctx], None]:
    def run(ctx: _Ctx) -> None:
        ctx.b.op(onnx_op, list(ctx.inputs), onnx_op.lower(), out=ctx.out, **attrs)
    return run


def _relu6(ctx: _Ctx) -> None:
    _activation(ctx, ctx.inputs[0], "Relu6", [], ctx.out)


def _leaky(ctx: _Ctx) -> None:
    ctx.b.op("LeakyRelu", [ctx.inputs[0]], "lrelu", out=ctx.out, alpha=_attr_f(ctx.attr, "alpha", 0.2))


def _prelu_op(ctx: _Ctx) -> None:
    _prelu(ctx, ctx.inputs[0], ctx.inputs[1], ctx.out)


def _square(ctx: _Ctx) -> None:
    ctx.b.op("Mul", [ctx.inputs[0], ctx.inputs[0]], "square", out=ctx.out)


def _rsqrt(ctx: _Ctx) -> None:
    s = ctx.b.op("Sqrt", [ctx.inputs[0]], "sqrt")
    ctx.b.op("Reciprocal", [s], "rsqrt", out=ctx.out)


def _squared_difference(ctx: _Ctx) -> None:
    d = ctx.b.op("Sub", list(ctx.inputs[:2]), "sd")
    ctx.b.op("Mul", [d, d], "sqdiff", out=ctx.out)


def _add_n(ctx: _Ctx) -> None:
    ctx.b.op("Sum", list(ctx.inputs), "addn", out=ctx.out)


def _bias_add(ctx: _Ctx) -> None:
    _check_nhwc(ctx)
    ctx.b.op("Add", list(ctx.inputs[:2]), "biasadd", out=ctx.out)


def _fused_batch_norm(ctx: _Ctx) -> None:
    _check_nhwc(ctx)
    scale, offset, mean, var = (np.asarray(ctx.const_input(i), np.float32) for i in range(1, 5))
    eps = _attr_f(ctx.attr, "epsilon", 1e-3)
    mul = scale / np.sqrt(var + eps)
    add = offset - mean * mul
    y = ctx.b.op("Mul", [ctx.inputs[0], ctx.b.const(mul.astype(np.float32))], "bn")
    ctx.b.op("Add", [y, ctx.b.const(add.astype(np.float32))], "bn", out=ctx.out)


def _identity(ctx: _Ctx) -> None:
    ctx.b.op("Identity", [ctx.inputs[0]], "id", out=ctx.out)


def _shape(ctx: _Ctx) -> None:
    ctx.b.op("Shape", [ctx.inputs[0]], "shape", out=ctx.out)


def _gather(ctx: _Ctx) -> None:
    axis = int(np.asarray(ctx.const_input(2)).reshape(-1)[0]) if len(ctx.inputs) > 2 else 0
    ctx.b.op("Gather", list(ctx.inputs[:2]), "gather", out=ctx.out, axis=axis)


def _tile(ctx: _Ctx) -> None:
    ctx.b.op("Tile", list(ctx.inputs[:2]), "tile", out=ctx.out)


_HANDLERS: dict[str, Callable[[_Ctx], None]] = {
    "Conv2D": lambda c: _conv(c, depthwise=False, fused=False),
    "_FusedConv2D": lambda c: _conv(c, depthwise=False, fused=True),
    "DepthwiseConv2dNative": lambda c: _conv(c, depthwise=True, fused=False),
    "DepthwiseConv2d": lambda c: _conv(c, depthwise=True, fused=False),
    "FusedDepthwiseConv2dNative": lambda c: _conv(c, depthwise=True, fused=True),
    "MatMul": lambda c: _matmul(c, fused=False),
    "_FusedMatMul": lambda c: _matmul(c, fused=True),
    "BiasAdd": _bias_add,
    "FusedBatchNorm": _fused_batch_norm,
    "FusedBatchNormV3": _fused_batch_norm,
    "Add": _simple("Add"),
    "AddV2": _simple("Add"),
    "AddN": _add_n,
    "Sub": _simple("Sub"),
    "Mul": _simple("Mul"),
    "RealDiv": _simple("Div"),
    "Div": _simple("Div"),
    "Maximum": _simple("Max"),
    "Minimum": _simple("Min"),
    "SquaredDifference": _squared_difference,
    "Relu": _simple("Relu"),
    "Relu6": _relu6,
    "Elu": _simple("Elu"),
    "Prelu": _prelu_op,
    "LeakyRelu": _leaky,
    "Sigmoid": _simple("Sigmoid"),
    "Tanh": _simple("Tanh"),
    "Softmax": _softmax,
    "Abs": _simple("Abs"),
    "Neg": _simple("Neg"),
    "Exp": _simple("Exp"),
    "Log": _simple("Log"),
    "Sqrt": _simple("Sqrt"),
    "Rsqrt": _rsqrt,
    "Square": _square,
    "Floor": _simple("Floor"),
    "Pad": _pad,
    "PadV2": _pad,
    "MirrorPad": _mirror_pad,
    "MaxPool": lambda c: _pool(c, "MaxPool"),
    "AvgPool": lambda c: _pool(c, "AveragePool"),
    "Mean": lambda c: _reduce(c, "ReduceMean"),
    "Sum": lambda c: _reduce(c, "ReduceSum"),
    "Max": lambda c: _reduce(c, "ReduceMax"),
    "Min": lambda c: _reduce(c, "ReduceMin"),
    "Prod": lambda c: _reduce(c, "ReduceProd"),
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "ExpandDims": _expand_dims,
    "Transpose": _transpose,
    "ConcatV2": _concat,
    "Pack": _pack,
    "StridedSlice": _strided_slice,
    "Cast": _cast,
    "Shape": _shape,
    "GatherV2": _gather,
    "Tile": _tile,
    "ResizeBilinear": lambda c: _resize_bilinear(c, "linear"),
    "ResizeNearestNeighbor": lambda c: _resize_bilinear(c, "nearest"),
    "DepthToSpace": _depth_to_space,
    "Identity": _identity,
    "StopGradient": _identity,
    "NoOp": _identity,
}

SUPPORTED_OPS: frozenset[str] = frozenset(_HANDLERS) | {"Const", "Placeholder"}


# ---------------------------------------------------------------------------------------------
# Conversion


@dataclass(frozen=True)
class ConvertedModel:
    model: onnx.ModelProto
    inputs: list[str]
    outputs: list[str]            # ONNX output names (TF node names)
    signature_outputs: dict[str, str]  # signature key -> ONNX output name (when the model has one)


def _graph_outputs(model_json: dict, nodes: list[dict]) -> tuple[list[str], dict[str, str]]:
    sig = (model_json.get("signature") or {}).get("outputs") or {}
    if sig:
        names: list[str] = []
        keys: dict[str, str] = {}
        for key, spec in sig.items():
            name, idx = _split_input(spec["name"])
            if idx != 0:
                raise ConversionError(f"signature output {spec['name']}: only output 0 of a node supported")
            names.append(name)
            keys[key] = name
        return names, keys
    consumed = {_split_input(i.lstrip("^"))[0] for n in nodes for i in n.get("input", [])}
    names = [n["name"] for n in nodes if n["name"] not in consumed and n["op"] not in ("Const", "NoOp")]
    return names, {}


def convert(model_json_path: str | os.PathLike[str], batch: int | str | None = None) -> ConvertedModel:
    """Convert the TF.js graph model at ``model_json_path`` (its shards beside it) to ONNX.

    ``batch``: override the placeholder's batch dimension (an int, or a symbolic name such as "N").
    """
    path = Path(model_json_path)
    model_json = json.loads(path.read_text())
    if model_json.get("format", "graph-model") != "graph-model":
        raise ConversionError(f"{path.name}: format {model_json.get('format')!r} is not a TF.js graph model")
    topo = model_json["modelTopology"]
    nodes: list[dict] = topo["node"]
    if topo.get("library", {}).get("function"):
        raise UnsupportedOpError(["function library (control flow)"], path.name)
    unsupported = {n["op"] for n in nodes if n["op"] not in SUPPORTED_OPS}
    if unsupported:
        raise UnsupportedOpError(unsupported, path.name)

    weights = load_weights(model_json, path.parent)
    b = _Builder()
    values: dict[str, np.ndarray] = {}
    onnx_name: dict[str, str] = {}  # TF "node:idx" -> ONNX tensor
    graph_inputs = []
    by_name = {n["name"]: n for n in nodes}
    out_names, sig_keys = _graph_outputs(model_json, nodes)

    def tensor_name(node_name: str) -> str:
        return node_name.replace(":", "_")

    for n in nodes:
        op = n["op"]
        name = n["name"]
        attr = n.get("attr", {})
        if op == "Const":
            value = weights[name] if name in weights else _inline_const(attr, name)
            tname = tensor_name(name)
            b.add_initializer(tname, value)
            values[tname] = b.consts[tname]
            onnx_name[name] = tname
            continue
        if op == "Placeholder":
            dims = [int(d.get("size", -1)) for d in attr.get("shape", {}).get("shape", {}).get("dim", [])]
            shape: list[int | str] = [d if d >= 0 else f"{name}_d{i}" for i, d in enumerate(dims)]
            if batch is not None and shape:
                shape[0] = batch
            dtype = _TF_DTYPES.get(_attr_type(attr, "dtype"), TensorProto.FLOAT)
            graph_inputs.append(helper.make_tensor_value_info(tensor_name(name), dtype, shape or None))
            onnx_name[name] = tensor_name(name)
            continue
        inputs = []
        for ref in n.get("input", []):
            if ref.startswith("^"):
                continue
            src, idx = _split_input(ref)
            if src not in by_name:
                raise ConversionError(f"node {name}: unknown input {ref}")
            key = src if idx == 0 else f"{src}:{idx}"
            if key not in onnx_name:
                raise ConversionError(f"node {name}: input {ref} not produced (graph not in topological order?)")
            inputs.append(onnx_name[key])
        out = tensor_name(name)
        ctx = _Ctx(b=b, node=n, inputs=inputs, values=values, out=out)
        try:
            _HANDLERS[op](ctx)
        except UnsupportedOpError as exc:
            raise UnsupportedOpError(exc.ops, path.name) from None
        onnx_name[name] = out

    outputs = []
    for o in out_names:
        tname = onnx_name.get(o)
        if tname is None:
            raise ConversionError(f"output {o} not produced by the graph")
        if tname in values:  # a constant output: give it a node so it is a graph output
            b.op("Identity", [tname], "out", out=tname + "__out")
            tname = tname + "__out"
        outputs.append(tname)
    graph = helper.make_graph(
        b.nodes,
        path.stem,
        graph_inputs,
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        initializer=b.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="visage.tfjs2onnx", producer_version=CONVERTER_VERSION)
    model.ir_version = 9
    _fuse_clip(model, b.consts)
    _prune(model)
    split_prelu(model)
    meta = {"source": path.name, "outputs": json.dumps(dict(zip(out_names, outputs, strict=True))),
            "signature_outputs": json.dumps({k: onnx_name[v] for k, v in sig_keys.items()})}
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model = _typed_outputs(model)
    onnx.checker.check_model(model)
    return ConvertedModel(model=model, inputs=[i.name for i in graph_inputs], outputs=outputs,
                          signature_outputs={k: onnx_name[v] for k, v in sig_keys.items()})


def _inline_const(attr: dict, name: str) -> np.ndarray:
    """A Const whose value is inline in the graph (small tensors the converter did not externalise)."""
    t = attr.get("value", {}).get("tensor")
    if t is None:
        raise ConversionError(f"Const {name} has no weight and no inline value")
    dims = [int(d.get("size", 0)) for d in t.get("tensorShape", {}).get("dim", [])]
    dtype = t.get("dtype", "DT_FLOAT")
    if dtype == "DT_FLOAT":
        vals = np.array([float(v) for v in t.get("floatVal", [])], np.float32)
    elif dtype in ("DT_INT32", "DT_INT64"):
        vals = np.array([int(v) for v in t.get("intVal", t.get("int64Val", []))], np.int64)
    elif dtype == "DT_BOOL":
        vals = np.array(t.get("boolVal", []), np.bool_)
    else:
        raise ConversionError(f"Const {name}: inline dtype {dtype} not supported")
    count = int(np.prod(dims)) if dims else 1
    if vals.size == 1 and count != 1:
        vals = np.full(count, vals[0], vals.dtype)
    return vals.reshape(dims)


def _typed_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give the graph outputs their element types and shapes, from ONNX shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.output)}
    for out in model.graph.output:
        info = known.get(out.name)
        if info is not None and info.type.tensor_type.elem_type:
            out.CopyFrom(info)
        else:
            out.CopyFrom(helper.make_tensor_value_info(out.name, TensorProto.FLOAT, None))
    return model


def _scalar(consts: dict[str, np.ndarray], name: str) -> float | None:
    v = consts.get(name)
    if v is None or v.size != 1 or not np.issubdtype(v.dtype, np.floating):
        return None
    return float(v.reshape(-1)[0])


def _fuse_clip(model: onnx.ModelProto, consts: dict[str, np.ndarray]) -> None:
    """Rewrite ``Max(Min([Relu](x), hi), lo)`` (scalar bounds, either order) as ``Clip(x, lo, hi)``.

    Keras' ReLU6 arrives as Relu -> Minimum -> Maximum; as one Clip, onnxruntime fuses it into the
    preceding convolution and keeps the blocked (NCHWc) layout across it.
    """
    g = model.graph
    producer, uses = graph_index(model)

    def split(node: onnx.NodeProto) -> tuple[str, float] | None:
        if len(node.input) != 2:
            return None
        a, c = node.input
        val = _scalar(consts, c)
        if val is None:
            a, c = c, a
            val = _scalar(consts, c)
        return (a, val) if val is not None else None

    new_nodes = []
    for node in g.node:
        if node.op_type in ("Max", "Min"):
            outer = split(node)
            inner_node = producer.get(outer[0]) if outer else None
            other = "Min" if node.op_type == "Max" else "Max"
            if inner_node is not None and inner_node.op_type == other and uses.get(outer[0]) == 1:
                inner = split(inner_node)
                if inner is not None:
                    x, lo, hi = inner[0], (outer[1] if node.op_type == "Max" else inner[1]), \
                        (inner[1] if node.op_type == "Max" else outer[1])
                    relu = producer.get(x)
                    if relu is not None and relu.op_type == "Relu" and uses.get(x) == 1:
                        x, lo = relu.input[0], max(lo, 0.0)
                    if lo <= hi:
                        lo_name, hi_name = f"{node.output[0]}__lo", f"{node.output[0]}__hi"
                        g.initializer.extend([numpy_helper.from_array(np.array(lo, np.float32), lo_name),
                                              numpy_helper.from_array(np.array(hi, np.float32), hi_name)])
                        new_nodes.append(helper.make_node("Clip", [x, lo_name, hi_name], list(node.output),
                                                          name=node.name + "__clip"))
                        continue
        new_nodes.append(node)
    del g.node[:]
    g.node.extend(new_nodes)


def _prune(model: onnx.ModelProto) -> None:
    """Drop nodes and initializers that no graph output depends on."""
    g = model.graph
    needed = {o.name for o in g.output}
    keep = []
    for node in reversed(g.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    inits = [i for i in g.initializer if i.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)


# The cache (convert_cached, source_sha256, CONVERTER_VERSION) lives in visage.models.onnx_cache, so that
# serving cached conversions never imports onnx.
