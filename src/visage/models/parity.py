"""Parity of our ONNX conversions with the same TF.js model run by ``@tensorflow/tfjs`` in Node.

Dev-time and test-time tool (needs Node.js and npm; installs the pure-JS ``@tensorflow/tfjs@4``,
no native download, into a cache folder on first use)::

    python -m visage.models.parity [--models blazeface,facemesh,...] [--image face.jpg]

prints, per model and output, the max absolute difference between onnxruntime and tfjs-cpu on the
same input. The bound is 1e-3 absolute; on elements whose reference magnitude exceeds 1000 (where
float32 spacing itself is above 1e-3) it is 1e-6 relative.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from visage.models.onnx_session import create_session
from visage.models.tfjs2onnx import convert_cached

TFJS_SPEC = "@tensorflow/tfjs@4.22.0"
_REPO = Path(__file__).resolve().parents[3]
REFERENCE_SCRIPT = _REPO / "tools" / "tfjs_reference.mjs"


def ensure_tfjs(cache_dir: Path) -> Path:
    """A folder whose node_modules holds @tensorflow/tfjs (npm install on first use)."""
    target = cache_dir / "tfjs-node-ref"
    if (target / "node_modules" / "@tensorflow" / "tfjs" / "package.json").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("parity checks need npm (Node.js) on PATH")
    target.mkdir(parents=True, exist_ok=True)
    (target / "package.json").write_text(json.dumps({"name": "tfjs-node-ref", "private": True}))
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", TFJS_SPEC],
                          cwd=target, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"npm install {TFJS_SPEC} failed: {proc.stderr[-800:]}")
    return target


def run_tfjs(model_json: Path, x: np.ndarray, output_names: list[str], tfjs_dir: Path) -> list[np.ndarray]:
    """Outputs of the TF.js model on ``x`` (NHWC float32), computed in Node by tfjs-cpu."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("parity checks need node on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "input.bin"
        inp.write_bytes(np.ascontiguousarray(x, dtype="<f4").tobytes())
        out_dir = Path(tmp) / "out"
        cmd = [node, str(REFERENCE_SCRIPT), "--tfjs", str(tfjs_dir), "--model", str(model_json),
               "--input", str(inp), "--shape", ",".join(str(d) for d in x.shape),
               "--outputs", ",".join(output_names), "--out", str(out_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tfjs reference failed: {proc.stderr[-1500:]}")
        meta = json.loads((out_dir / "meta.json").read_text())
        return [np.fromfile(out_dir / f"{k}.bin", dtype="<f4").reshape(o["shape"])
                for k, o in enumerate(meta["outputs"])]


# float32 spacing exceeds 1e-3 above 2**13: there an absolute bound says nothing, so values whose
# reference magnitude is above LARGE are held to a relative bound instead (~8 float32 ulps).
LARGE = 1000.0
REL_LARGE = 1e-6


@dataclass(frozen=True)
class ParityResult:
    model: str
    max_abs: dict[str, float]     # output name -> max |onnx - tfjs| over every element
    max_ref: dict[str, float]     # output name -> max |tfjs| (scale of the values)
    max_abs_small: dict[str, float]  # ... over elements with |tfjs| <= LARGE
    max_rel_large: dict[str, float]  # output name -> max |onnx - tfjs| / |tfjs| over |tfjs| > LARGE

    @property
    def worst(self) -> float:
        return max(self.max_abs.values())

    def ok(self, atol: float = 1e-3) -> bool:
        return max(self.max_abs_small.values()) < atol and max(self.max_rel_large.values()) < REL_LARGE


def check_model(model_json: Path, x: np.ndarray, tfjs_dir: Path) -> ParityResult:
    onnx_path = convert_cached(model_json)
    meta = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    outputs: dict[str, str] = json.loads(meta["outputs"])  # TF node -> ONNX output
    tf_names = list(outputs)
    sess = create_session(onnx_path)
    got = sess.run([outputs[n] for n in tf_names], {sess.get_inputs()[0].name: x})
    ref = run_tfjs(model_json, x, tf_names, tfjs_dir)
    max_abs, max_ref, small, rel = {}, {}, {}, {}
    for name, a, r in zip(tf_names, got, ref, strict=True):
        if a.shape != r.shape:
            raise AssertionError(f"{model_json.stem}/{name}: shape {a.shape} vs tfjs {r.shape}")
        diff = np.abs(a.astype(np.float64) - r)
        mag = np.abs(r.astype(np.float64))
        max_abs[name] = float(diff.max()) if diff.size else 0.0
        max_ref[name] = float(mag.max()) if mag.size else 0.0
        lo = mag <= LARGE
        small[name] = float(diff[lo].max()) if lo.any() else 0.0
        rel[name] = float((diff[~lo] / mag[~lo]).max()) if (~lo).any() else 0.0
    return ParityResult(model=model_json.stem, max_abs=max_abs, max_ref=max_ref, max_abs_small=small,
                        max_rel_large=rel)


# Input range each model expects (what its pipeline feeds it), and the input side.
INPUT_RANGE: dict[str, tuple[float, float]] = {
    "blazeface": (-1.0, 1.0),
    "blazeface-front": (-1.0, 1.0),
    "facemesh-detection-short": (-1.0, 1.0),
    "facemesh-detection-full": (-1.0, 1.0),
    "facemesh": (0.0, 1.0),
    "iris": (0.0, 1.0),
    "faceres": (0.0, 255.0),
    "faceres-deep": (0.0, 255.0),
    "mobilefacenet": (0.0, 1.0),
    "mobileface": (0.0, 255.0),
    "age": (0.0, 255.0),
    "gender": (-1.0, 1.0),
    "gear": (0.0, 1.0),
    "emotion": (-1.0, 1.0),
    "antispoof": (0.0, 1.0),
    "liveness": (0.0, 1.0),
}


def model_input(model_json: Path, image: np.ndarray | None, seed: int = 0) -> np.ndarray:
    """A [1, H, W, 3] input for the model: ``image`` (RGB uint8) resized, or seeded noise, in its range."""
    import cv2

    spec = json.loads(model_json.read_text())
    ph = next(n for n in spec["modelTopology"]["node"] if n["op"] == "Placeholder")
    dims = [int(d.get("size", -1)) for d in ph["attr"]["shape"]["shape"]["dim"]]
    h, w, c = dims[1], dims[2], dims[3]
    if image is not None and c == 3:
        unit = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    else:
        unit = np.random.default_rng(seed).random((h, w, c), dtype=np.float32)
    lo, hi = INPUT_RANGE.get(model_json.stem, (0.0, 1.0))
    return (lo + unit * (hi - lo))[None].astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    from visage.config import Settings
    from visage.models.fetch import ensure_models
    from visage.models.registry import zoo_specs

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(INPUT_RANGE))
    ap.add_argument("--image", default=None, help="RGB image to feed (resized); default seeded noise")
    args = ap.parse_args(argv)
    settings = Settings()
    image = None
    if args.image:
        import cv2

        image = cv2.cvtColor(cv2.imread(args.image), cv2.COLOR_BGR2RGB)
    names = [n for n in args.models.split(",") if n]
    paths = ensure_models(zoo_specs(names), settings.models_dir)
    tfjs_dir = ensure_tfjs(Path(os.environ.get("VISAGE_HOME", settings.home)))
    worst, failed = 0.0, 0
    for name in names:
        mj = paths[f"human-{name}"]
        res = check_model(mj, model_input(mj, image), tfjs_dir)
        for out, err in res.max_abs.items():
            extra = f" rel(|ref|>{LARGE:g})={res.max_rel_large[out]:.1e}" if res.max_ref[out] > LARGE else ""
            print(f"{name:26s} {out:26s} max_abs={err:.3e} (|ref|max={res.max_ref[out]:.3g}){extra}")
        worst = max(worst, res.worst)
        failed += not res.ok()
    print(f"worst max_abs over all outputs: {worst:.3e}; models failing the bound: {failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
