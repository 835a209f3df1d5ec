"""Face embedders of the TF.js zoo (faceres, faceres-deep, mobilefacenet, mobileface) on onnxruntime.

Every embedder takes a face (:class:`FacePoints`: five points and the 468-point mesh) and returns
L2-normalised templates named ``human-<model>-<dim>``. How each one wants its crop (alignment, crop
scale, input range) is data in :data:`EMBEDDERS`, measured on the labelled fixtures with ``bench/eval_embedders.py``.

Alignments:
* ``arcface``: a similarity transform of the five points onto the standard 112x112 ArcFace template
  (:mod:`visage.analysis.embedders.align`, scaled for other input sizes), ``crop`` zooms out around it.
* ``box``: an upright square around the mesh (eye line level), ``crop`` times the mesh extent
  (Human's own way of feeding faceres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from visage.analysis.embedders.align import FacePoints, align_crops
from visage.analysis.facemesh import Roi, warp_crops
from visage.models.zoo import ZooModel
from visage.types import Template


@dataclass(frozen=True)
class EmbedderConfig:
    model: str                   # zoo name
    output: str                  # TF output node holding the descriptor
    alignment: str               # "arcface" | "box"
    crop: float                  # zoom-out factor (arcface) or mesh-extent factor (box)
    input_range: tuple[float, float]  # pixel 0..255 maps linearly onto this range
    bgr: bool = False            # feed channels as BGR

    @property
    def template_model(self) -> str:
        return f"human-{self.model}"


# Measured with bench/eval_embedders.py on the labelled fixtures (docs/models.md has the numbers):
# the FaceRes pair wants raw 0..255 BGR pixels of an upright square 1.3x the mesh extent;
# MobileFace raw 0..255 RGB on the ArcFace alignment. MobileFaceNet separates no pair in any
# variant tried (its outputs barely depend on the input) and is kept only for measurement.
EMBEDDERS: dict[str, EmbedderConfig] = {
    "faceres": EmbedderConfig("faceres", "global_pooling/Mean", "box", 1.3, (0.0, 255.0), bgr=True),
    "faceres-deep": EmbedderConfig("faceres-deep", "global_pooling/Mean", "box", 1.3, (0.0, 255.0), bgr=True),
    "mobilefacenet": EmbedderConfig("mobilefacenet", "embeddings", "arcface", 1.0, (-1.0, 1.0)),
    "mobileface": EmbedderConfig("mobileface", "batchnorm0/add_1", "arcface", 1.0, (0.0, 255.0)),
}


class ZooEmbedder:
    """An embedder of the zoo with its alignment; ``embed(image, faces)`` -> templates."""

    def __init__(self, model: ZooModel, config: EmbedderConfig, name: str | None = None) -> None:
        self.name = name or config.model
        self.model = model
        self.config = config
        self.size = model.input_size[0]
        self._output = [model.outputs[config.output]]
        self.dim = int(model.session.get_outputs()[list(model.outputs).index(config.output)].shape[-1])
        self.template_model = f"{config.template_model}-{self.dim}"
        self.model_names = (model.spec.name,)

    def crops(self, image: np.ndarray, faces: list[FacePoints]) -> np.ndarray:
        """Aligned uint8 crops (N x size x size x 3)."""
        size, cfg = self.size, self.config
        if cfg.alignment == "box":
            rois = []
            for face in faces:
                mesh = face.mesh
                if mesh is None:
                    raise ValueError(f"embedder {self.name} aligns on the Face Mesh; the pipeline gave none")
                right, left = mesh[33, :2], mesh[263, :2]
                angle = math.atan2(float(left[1] - right[1]), float(left[0] - right[0]))
                c, s = math.cos(angle), math.sin(angle)
                rot = np.array([[c, s], [-s, c]])
                local = mesh[:, :2] @ rot.T
                lo, hi = local.min(axis=0), local.max(axis=0)
                cx, cy = rot.T @ ((lo + hi) / 2.0)
                rois.append(Roi(float(cx), float(cy), float(max(hi - lo)) * cfg.crop, angle))
            crops, _ = warp_crops(image, rois, size)
            return crops
        if cfg.alignment != "arcface":
            raise ValueError(f"unknown alignment {cfg.alignment}")
        return align_crops(image, faces, size, cfg.crop)

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """The model's float32 input for uint8 RGB crops (channel order and range of the config)."""
        lo, hi = self.config.input_range
        if self.config.bgr:
            crops = crops[..., ::-1]
        return crops.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)

    def vectors(self, crops: np.ndarray) -> np.ndarray:
        batch = self.prepare(crops)
        return self.model.session.run(self._output, {self.model.input_name: batch})[0].reshape(len(crops), -1)

    def embed_with_outputs(self, image: np.ndarray,
                           faces: list[FacePoints]) -> tuple[dict[str, np.ndarray], list[Template]]:
        """Every output of the model (TF names) and the templates, from one batched run."""
        if not faces:
            return {}, []
        outs = dict(zip(self.model.outputs, self.model.run(self.prepare(self.crops(image, faces))), strict=True))
        vecs = outs[self.config.output].reshape(len(faces), -1)
        return outs, [Template.from_vector(self.template_model, v) for v in vecs]

    def embed(self, image: np.ndarray, faces: list[FacePoints]) -> list[Template]:
        if not faces:
            return []
        vecs = self.vectors(self.crops(image, faces))
        return [Template.from_vector(self.template_model, v) for v in vecs]
