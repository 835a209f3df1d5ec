"""Face embedders of the TF.js zoo (faceres, faceres-deep, mobilefacenet, mobileface) on onnxruntime.

Every embedder takes a face aligned from the 468-point mesh and returns L2-normalised templates
named ``human-<model>-<dim>``. How each one wants its crop (alignment, crop scale, input range) is
data in :data:`EMBEDDERS`, measured on the labelled fixtures with ``bench/eval_embedders.py``.

Alignments:
* ``arcface``: a similarity transform of five mesh points (eye centres, nose tip, mouth corners) onto
  the standard 112x112 ArcFace template (scaled for other input sizes), ``crop`` zooms out around it.
* ``box``: an upright square around the mesh (eye line level), ``crop`` times the mesh extent
  (Human's own way of feeding faceres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from visage.analysis.facemesh import Roi, warp_crops
from visage.models.zoo import ZooModel
from visage.types import Template

# ArcFace reference points in a 112x112 crop: right eye, left eye (subject's), nose tip, mouth corners.
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], np.float64)

# Mesh indices: right eye ring, left eye ring (means give eye centres), nose tip, mouth corners.
RIGHT_EYE_RING = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE_RING = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE_TIP = 1
MOUTH_RIGHT, MOUTH_LEFT = 61, 291


def five_points(mesh: np.ndarray) -> np.ndarray:
    """The ArcFace five points (5 x 2) from a 468-point mesh."""
    return np.array([
        mesh[list(RIGHT_EYE_RING), :2].mean(axis=0),
        mesh[list(LEFT_EYE_RING), :2].mean(axis=0),
        mesh[NOSE_TIP, :2],
        mesh[MOUTH_RIGHT, :2],
        mesh[MOUTH_LEFT, :2],
    ], np.float64)


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


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping ``src`` points onto ``dst``: a 2x3 matrix."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    var_s = (s ** 2).sum() / len(src)
    scale = (sig * sign).sum() / var_s
    a = scale * rot
    t = mu_d - a @ mu_s
    return np.hstack([a, t[:, None]])


class ZooEmbedder:
    """An embedder of the zoo with its alignment; ``embed(image, meshes)`` -> templates."""

    def __init__(self, model: ZooModel, config: EmbedderConfig) -> None:
        self.model = model
        self.config = config
        self.size = model.input_size[0]
        self._output = [model.outputs[config.output]]
        self.dim = int(model.session.get_outputs()[list(model.outputs).index(config.output)].shape[-1])
        self.template_model = f"{config.template_model}-{self.dim}"
        self.model_names = (model.spec.name,)

    def crops(self, image: np.ndarray, meshes: list[np.ndarray]) -> np.ndarray:
        """Aligned uint8 crops (N x size x size x 3)."""
        size, cfg = self.size, self.config
        if cfg.alignment == "box":
            rois = []
            for mesh in meshes:
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
        ref = (ARCFACE_112 - 56.0) / cfg.crop + 56.0
        ref = ref * (size / 112.0)
        crops = np.empty((len(meshes), size, size, 3), np.uint8)
        for i, mesh in enumerate(meshes):
            m = similarity_transform(five_points(mesh), ref)
            cv2.warpAffine(image, m, (size, size), dst=crops[i], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return crops

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
                           meshes: list[np.ndarray]) -> tuple[dict[str, np.ndarray], list[Template]]:
        """Every output of the model (TF names) and the templates, from one batched run."""
        if not meshes:
            return {}, []
        outs = dict(zip(self.model.outputs, self.model.run(self.prepare(self.crops(image, meshes))), strict=True))
        vecs = outs[self.config.output].reshape(len(meshes), -1)
        return outs, [Template.from_vector(self.template_model, v) for v in vecs]

    def embed(self, image: np.ndarray, meshes: list[np.ndarray]) -> list[Template]:
        if not meshes:
            return []
        vecs = self.vectors(self.crops(image, meshes))
        return [Template.from_vector(self.template_model, v) for v in vecs]
