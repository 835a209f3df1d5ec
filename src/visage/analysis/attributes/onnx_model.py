"""Plain ONNX attribute models from the manifest (faceplugin's): fetched, verified, one session each.

faceplugin's models are exported with a fixed batch of 1, so :meth:`OnnxModel.run_each` runs them
once per crop (they are small: well under a millisecond per eye crop, a few per face crop).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from visage.models.fetch import ensure_models
from visage.models.onnx_session import get_session
from visage.models.registry import MODELS, ModelSpec


@dataclass(frozen=True)
class OnnxModel:
    spec: ModelSpec
    session: ort.InferenceSession
    input_name: str

    def run_each(self, batch: np.ndarray) -> np.ndarray:
        """The first output for each item of an NCHW float32 ``batch`` (N x ...), stacked."""
        if len(batch) == 0:
            return np.zeros((0, *self.session.get_outputs()[0].shape[1:]), np.float32)
        return np.concatenate([self.session.run(None, {self.input_name: batch[i:i + 1]})[0]
                               for i in range(len(batch))])


def load_onnx_model(name: str, models_dir: Path, threads: int | None = None) -> OnnxModel:
    """The manifest model ``name`` (e.g. ``faceplugin-fr_eye``), fetched on first use."""
    spec = MODELS[name]
    path = ensure_models([spec], models_dir)[spec.name]
    session = get_session(path, threads)
    return OnnxModel(spec=spec, session=session, input_name=session.get_inputs()[0].name)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (N x K)."""
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
