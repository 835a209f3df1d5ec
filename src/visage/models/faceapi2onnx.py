"""face-api's AgeGenderNet and FaceExpressionNet rebuilt as ONNX from their TF.js layer weights.

``@vladmandic/face-api`` ships these two networks as a weights manifest plus one uint8-quantized
shard and no graph: the graph is face-api's TypeScript (``src/xception/TinyXception.ts``,
``src/ageGenderNet/AgeGenderNet.ts``, ``src/faceFeatureExtractor/*``, ``src/faceExpressionNet/*``),
transcribed here op for op:

* input: N x 112 x 112 x 3 float32 RGB 0..255 (face-api's ``toBatchTensor(112)``), minus the mean
  RGB (122.782, 117.001, 104.298), / 255; then NCHW inside the graph;
* TF ``'same'`` padding = ONNX explicit pads with the odd pixel at the end (spatial size is fixed);
* ``separableConv2d`` = a depthwise conv (group = channels, the stride) then a 1x1 conv, one bias;
* AgeGenderNet: TinyXception(2) (entry conv s2 + ReLU, two reduction blocks, two main blocks, exit
  reduction block, separable conv + ReLU) -> the 7x7 average pool (global at 112 px) -> ``fc/age``
  (years, regression) and ``fc/gender`` -> softmax (index 0 = male);
* FaceExpressionNet: four dense blocks of four convs -> the 7x7 average pool -> ``fc`` -> softmax
  over (neutral, happy, sad, angry, fearful, disgusted, surprised).

Imported only to convert (``visage.models.onnx_cache.faceapi_cached``): serving never imports onnx.
:func:`reference_forward` runs the same TypeScript in plain numpy, for the parity test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from visage.models.tfjs2onnx import load_weights

OPSET = 18
INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
EXPRESSIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
# Which network a manifest holds, by its file name stem (face-api's getDefaultModelName()).
NETWORKS = {"age_gender_model": "age_gender", "face_expression_model": "face_expression"}


class ConversionError(ValueError):
    pass


def load_manifest_weights(manifest_path: Path) -> dict[str, np.ndarray]:
    """Every weight of a face-api ``*-weights_manifest.json``, dequantised to float32."""
    manifest = json.loads(Path(manifest_path).read_text())
    return load_weights({"weightsManifest": manifest}, Path(manifest_path).parent)


def network_of(manifest_path: Path) -> str:
    stem = Path(manifest_path).name.removesuffix("-weights_manifest.json")
    try:
        return NETWORKS[stem]
    except KeyError:
        raise ConversionError(f"{Path(manifest_path).name} is not a face-api network this converter knows") from None


# -- the graph ---------------------------------------------------------------------------------

def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF 'same': output size and (begin, end) padding, the odd pixel at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


class _Builder:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.w = weights
        self.used: set[str] = set()
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def name(self, hint: str) -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, arr: np.ndarray, hint: str) -> str:
        nm = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), nm))
        return nm

    def weight(self, key: str) -> np.ndarray:
        if key not in self.w:
            raise ConversionError(f"weight {key} missing from the manifest")
        self.used.add(key)
        return self.w[key]

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, size: int, filt: np.ndarray, bias: np.ndarray | None, stride: int,
             group: int = 1) -> tuple[str, int]:
        """TF conv2d 'same' of an HWIO (or depthwise HWC1) filter on an NCHW tensor of ``size`` px."""
        k = filt.shape[0]
        out, b, e = _same_pads(size, k, stride)
        # depthwise [k, k, C, 1] -> [C, 1, k, k]; dense [k, k, Cin, Cout] -> [Cout, Cin, k, k]
        w = filt.transpose(2, 3, 0, 1) if group > 1 else filt.transpose(3, 2, 0, 1)
        inputs = [x, self.const(w, "w")]
        if bias is not None:
            inputs.append(self.const(bias.reshape(-1), "b"))
        y = self.op("Conv", inputs, "conv", kernel_shape=[k, k], strides=[stride, stride],
                    pads=[b, b, e, e], group=group)
        return y, out

    def conv_params(self, x: str, size: int, prefix: str, stride: int) -> tuple[str, int]:
        return self.conv(x, size, self.weight(f"{prefix}/filters"), self.weight(f"{prefix}/bias"), stride)

    def separable(self, x: str, size: int, prefix: str, stride: int) -> tuple[str, int]:
        """face-api's depthwiseSeparableConv: separableConv2d(depthwise, pointwise, stride, 'same') + bias."""
        dw = self.weight(f"{prefix}/depthwise_filter")
        y, size = self.conv(x, size, dw, None, stride, group=dw.shape[2])
        return self.conv(y, size, self.weight(f"{prefix}/pointwise_filter"), self.weight(f"{prefix}/bias"), 1)

    def relu(self, x: str) -> str:
        return self.op("Relu", [x], "relu")

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b], "add")

    def fc(self, x: str, prefix: str) -> str:
        return self.op("Gemm", [x, self.const(self.weight(f"{prefix}/weights"), "fcw"),
                                self.const(self.weight(f"{prefix}/bias"), "fcb")], "fc")


def _reduction_block(b: _Builder, x: str, size: int, prefix: str, activate_input: bool = True) -> tuple[str, int]:
    out = b.relu(x) if activate_input else x
    out, s = b.separable(out, size, f"{prefix}/separable_conv0", 1)
    out, s = b.separable(b.relu(out), s, f"{prefix}/separable_conv1", 1)
    s2, pb, pe = _same_pads(s, 3, 2)
    out = b.op("MaxPool", [out], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[pb, pb, pe, pe])
    skip, _ = b.conv_params(x, size, f"{prefix}/expansion_conv", 2)
    return b.add(out, skip), s2


def _main_block(b: _Builder, x: str, size: int, prefix: str) -> str:
    out, _ = b.separable(b.relu(x), size, f"{prefix}/separable_conv0", 1)
    out, _ = b.separable(b.relu(out), size, f"{prefix}/separable_conv1", 1)
    out, _ = b.separable(b.relu(out), size, f"{prefix}/separable_conv2", 1)
    return b.add(out, x)


def _dense_block4(b: _Builder, x: str, size: int, prefix: str, first: bool) -> tuple[str, int]:
    if first:
        out1, s = b.conv_params(x, size, f"{prefix}/conv0", 2)
    else:
        out1, s = b.separable(x, size, f"{prefix}/conv0", 2)
    out1 = b.relu(out1)
    out2, _ = b.separable(out1, s, f"{prefix}/conv1", 1)
    in3 = b.relu(b.add(out1, out2))
    out3, _ = b.separable(in3, s, f"{prefix}/conv2", 1)
    in4 = b.relu(b.add(out1, b.add(out2, out3)))
    out4, _ = b.separable(in4, s, f"{prefix}/conv3", 1)
    return b.relu(b.add(out1, b.add(out2, b.add(out3, out4)))), s


def _normalised_nchw(b: _Builder) -> str:
    mean = b.const(np.array(MEAN_RGB, np.float32).reshape(1, 1, 1, 3), "mean")
    x = b.op("Sub", ["input", mean], "sub")
    x = b.op("Mul", [x, b.const(np.array(1.0 / 255.0, np.float32), "inv255")], "scale")
    return b.op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])


def _pooled(b: _Builder, x: str, size: int) -> str:
    """tf.avgPool([7, 7], [2, 2], 'valid') on the 7x7 map, flattened: the global average."""
    if size != 7:
        raise ConversionError(f"feature map is {size}x{size}, expected 7x7 at {INPUT_SIZE} px")
    return b.op("Flatten", [b.op("GlobalAveragePool", [x], "gap")], "flat")


def build(manifest_path: str | Path) -> onnx.ModelProto:
    """The ONNX model of the face-api network whose weights manifest is ``manifest_path``."""
    path = Path(manifest_path)
    net = network_of(path)
    b = _Builder(load_manifest_weights(path))
    x = _normalised_nchw(b)
    size = INPUT_SIZE
    if net == "age_gender":
        x, size = b.conv_params(x, size, "entry_flow/conv_in", 2)
        x = b.relu(x)
        x, size = _reduction_block(b, x, size, "entry_flow/reduction_block_0", activate_input=False)
        x, size = _reduction_block(b, x, size, "entry_flow/reduction_block_1")
        for i in range(2):
            x = _main_block(b, x, size, f"middle_flow/main_block_{i}")
        x, size = _reduction_block(b, x, size, "exit_flow/reduction_block")
        x, size = b.separable(x, size, "exit_flow/separable_conv", 1)
        pooled = _pooled(b, b.relu(x), size)
        b.nodes.append(helper.make_node("Identity", [b.fc(pooled, "fc/age")], ["age"], name="age"))
        b.nodes.append(helper.make_node("Softmax", [b.fc(pooled, "fc/gender")], ["gender"], name="gender", axis=1))
        outputs = {"age": ("age", 1), "gender": ("gender", 2)}
    else:
        for i in range(4):
            x, size = _dense_block4(b, x, size, f"dense{i}", first=i == 0)
        pooled = _pooled(b, x, size)
        b.nodes.append(helper.make_node("Softmax", [b.fc(pooled, "fc")], ["expression"], name="expression", axis=1))
        outputs = {"expression": ("expression", 7)}
    unused = sorted(set(b.w) - b.used)
    if unused:
        raise ConversionError(f"weights not used by the rebuilt {net} graph: {', '.join(unused)}")
    graph = helper.make_graph(
        b.nodes, net,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", INPUT_SIZE, INPUT_SIZE, 3])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["N", k]) for o, k in outputs.values()],
        initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="visage.faceapi2onnx")
    model.ir_version = 9
    meta = {"source": path.name, "network": net, "outputs": json.dumps({k: v[0] for k, v in outputs.items()})}
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    return model


# -- the same TypeScript in numpy (parity reference) --------------------------------------------

def _np_conv(x: np.ndarray, filt: np.ndarray, stride: int, depthwise: bool = False) -> np.ndarray:
    """tf.conv2d / tf.depthwiseConv2d 'same' on NHWC ``x`` with an HWIO / HWC1 filter, by taps."""
    n, h, w, c = x.shape
    k = filt.shape[0]
    oh, pt, pb = _same_pads(h, k, stride)
    ow, pl, pr = _same_pads(w, k, stride)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    cout = c if depthwise else filt.shape[3]
    out = np.zeros((n, oh, ow, cout), np.float64)
    for i in range(k):
        for j in range(k):
            patch = xp[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride, :]
            out += patch * filt[i, j, :, 0] if depthwise else patch @ filt[i, j]
    return out


def _np_maxpool_same(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    oh, pt, pb = _same_pads(h, 3, 2)
    ow, pl, pr = _same_pads(w, 3, 2)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    out = np.full((n, oh, ow, c), -np.inf)
    for i in range(3):
        for j in range(3):
            out = np.maximum(out, xp[:, i:i + 2 * (oh - 1) + 1:2, j:j + 2 * (ow - 1) + 1:2, :])
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference_forward(manifest_path: str | Path, batch: np.ndarray) -> dict[str, np.ndarray]:
    """face-api's forward pass in float64 numpy, NHWC as the TypeScript writes it (for the parity test)."""
    path = Path(manifest_path)
    net = network_of(path)
    w = {k: v.astype(np.float64) for k, v in load_manifest_weights(path).items()}
    relu = lambda t: np.maximum(t, 0.0)  # noqa: E731

    def conv(t, p, s):
        return _np_conv(t, w[f"{p}/filters"], s) + w[f"{p}/bias"]

    def sep(t, p, s):
        t = _np_conv(t, w[f"{p}/depthwise_filter"], s, depthwise=True)
        return _np_conv(t, w[f"{p}/pointwise_filter"], 1) + w[f"{p}/bias"]

    def fc(t, p):
        return t @ w[f"{p}/weights"] + w[f"{p}/bias"]

    x = (np.asarray(batch, np.float64) - np.array(MEAN_RGB)) / 255.0
    if net == "age_gender":
        def reduction(t, p, act=True):
            out = relu(t) if act else t
            out = sep(out, f"{p}/separable_conv0", 1)
            out = _np_maxpool_same(sep(relu(out), f"{p}/separable_conv1", 1))
            return out + conv(t, f"{p}/expansion_conv", 2)

        out = relu(conv(x, "entry_flow/conv_in", 2))
        out = reduction(out, "entry_flow/reduction_block_0", act=False)
        out = reduction(out, "entry_flow/reduction_block_1")
        for i in range(2):
            p = f"middle_flow/main_block_{i}"
            m = sep(relu(out), f"{p}/separable_conv0", 1)
            m = sep(relu(m), f"{p}/separable_conv1", 1)
            out = sep(relu(m), f"{p}/separable_conv2", 1) + out
        out = reduction(out, "exit_flow/reduction_block")
        pooled = relu(sep(out, "exit_flow/separable_conv", 1)).mean(axis=(1, 2))
        return {"age": fc(pooled, "fc/age"), "gender": _softmax(fc(pooled, "fc/gender"))}
    out = x
    for i in range(4):
        p = f"dense{i}"
        out1 = relu(conv(out, f"{p}/conv0", 2) if i == 0 else sep(out, f"{p}/conv0", 2))
        out2 = sep(out1, f"{p}/conv1", 1)
        out3 = sep(relu(out1 + out2), f"{p}/conv2", 1)
        out4 = sep(relu(out1 + out2 + out3), f"{p}/conv3", 1)
        out = relu(out1 + out2 + out3 + out4)
    return {"expression": _softmax(fc(out.mean(axis=(1, 2)), "fc"))}
