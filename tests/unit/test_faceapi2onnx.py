"""faceapi2onnx on synthetic layer weights (no download): the ONNX rebuild and the numpy transcription of
face-api's TypeScript agree, uint8 quantization is undone as TF.js does (q x scale + min), and a manifest
with a weight the graph does not use is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from visage.models import faceapi2onnx as fx  # noqa: E402
from visage.models.onnx_session import create_session  # noqa: E402


def _sep(prefix: str, cin: int, cout: int) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{prefix}/depthwise_filter", (3, 3, cin, 1)), (f"{prefix}/pointwise_filter", (1, 1, cin, cout)),
            (f"{prefix}/bias", (cout,))]


def _age_gender_shapes() -> list[tuple[str, tuple[int, ...]]]:
    out = [("entry_flow/conv_in/filters", (3, 3, 3, 8)), ("entry_flow/conv_in/bias", (8,))]
    for name, cin, cout in (("entry_flow/reduction_block_0", 8, 16), ("entry_flow/reduction_block_1", 16, 16)):
        out += _sep(f"{name}/separable_conv0", cin, cout) + _sep(f"{name}/separable_conv1", cout, cout)
        out += [(f"{name}/expansion_conv/filters", (1, 1, cin, cout)), (f"{name}/expansion_conv/bias", (cout,))]
    for i in range(2):
        for j in range(3):
            out += _sep(f"middle_flow/main_block_{i}/separable_conv{j}", 16, 16)
    name = "exit_flow/reduction_block"
    out += _sep(f"{name}/separable_conv0", 16, 24) + _sep(f"{name}/separable_conv1", 24, 24)
    out += [(f"{name}/expansion_conv/filters", (1, 1, 16, 24)), (f"{name}/expansion_conv/bias", (24,))]
    out += _sep("exit_flow/separable_conv", 24, 32)
    return [*out, ("fc/age/weights", (32, 1)), ("fc/age/bias", (1,)), ("fc/gender/weights", (32, 2)),
            ("fc/gender/bias", (2,))]


def _expression_shapes() -> list[tuple[str, tuple[int, ...]]]:
    out: list[tuple[str, tuple[int, ...]]] = []
    cin = 3
    for i, c in enumerate((8, 12, 16, 16)):
        if i == 0:
            out += [("dense0/conv0/filters", (3, 3, 3, c)), ("dense0/conv0/bias", (c,))]
        else:
            out += _sep(f"dense{i}/conv0", cin, c)
        for j in (1, 2, 3):
            out += _sep(f"dense{i}/conv{j}", c, c)
        cin = c
    return [*out, ("fc/weights", (16, 7)), ("fc/bias", (7,))]


def _write(tmp: Path, stem: str, shapes, extra: tuple[str, tuple[int, ...]] | None = None) -> Path:
    rng = np.random.default_rng(7)
    weights, data = [], b""
    for name, shape in shapes + ([extra] if extra else []):
        n = int(np.prod(shape))
        if name.endswith("bias"):  # float32, as face-api's biases
            data += (rng.standard_normal(n) * 0.1).astype(np.float32).tobytes()
            weights.append({"name": name, "shape": list(shape), "dtype": "float32"})
        else:  # uint8-quantized with scale and min, as face-api's filters
            fan_in = 9 if name.endswith("depthwise_filter") else int(np.prod(shape[:-1]))
            scale = 2 * (3 / fan_in) ** 0.5 / 255  # uniform, variance 1 / fan-in: activations stay O(1)
            lo = -127.5 * scale
            data += rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            weights.append({"name": name, "shape": list(shape), "dtype": "float32",
                            "quantization": {"dtype": "uint8", "scale": scale, "min": lo}})
    (tmp / f"{stem}.bin").write_bytes(data)
    manifest = tmp / f"{stem}-weights_manifest.json"
    manifest.write_text(json.dumps([{"paths": [f"{stem}.bin"], "weights": weights}]))
    return manifest


@pytest.mark.parametrize(("stem", "shapes", "outputs"), [
    ("age_gender_model", _age_gender_shapes(), ("age", "gender")),
    ("face_expression_model", _expression_shapes(), ("expression",)),
])
def test_rebuild_matches_the_numpy_transcription(tmp_path, stem, shapes, outputs) -> None:
    manifest = _write(tmp_path, stem, shapes)
    model = fx.build(manifest)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    batch = np.random.default_rng(1).uniform(0, 255, (2, 112, 112, 3)).astype(np.float32)
    sess = create_session(path, 1)
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": batch}), strict=True))
    ref = fx.reference_forward(manifest, batch)
    assert tuple(got) == outputs and set(ref) == set(outputs)
    for key in outputs:
        scale = max(float(np.abs(ref[key]).max()), 1.0)
        assert np.abs(got[key] - ref[key]).max() <= 1e-4 * scale, key
    for key in ("gender", "expression"):
        if key in got:
            assert np.allclose(got[key].sum(axis=1), 1.0, atol=1e-5)


def test_quantized_weights_are_q_times_scale_plus_min(tmp_path) -> None:
    manifest = _write(tmp_path, "face_expression_model", _expression_shapes())
    entry = json.loads(manifest.read_text())[0]["weights"][0]
    q = np.frombuffer((tmp_path / "face_expression_model.bin").read_bytes(), np.uint8, count=3 * 3 * 3 * 8)
    quant = entry["quantization"]
    expected = q.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
    got = fx.load_manifest_weights(manifest)["dense0/conv0/filters"]
    assert np.array_equal(got.reshape(-1), expected)


def test_an_unused_weight_is_refused(tmp_path) -> None:
    manifest = _write(tmp_path, "face_expression_model", _expression_shapes(), extra=("dense9/conv0/bias", (4,)))
    with pytest.raises(fx.ConversionError, match="dense9"):
        fx.build(manifest)


def test_tf_same_padding_puts_the_odd_pixel_at_the_end() -> None:
    assert fx._same_pads(112, 3, 2) == (56, 0, 1)
    assert fx._same_pads(56, 3, 1) == (56, 1, 1)
    assert fx._same_pads(56, 1, 2) == (28, 0, 0)
