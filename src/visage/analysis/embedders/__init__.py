"""Face embedders by role: one name per embedder, each a manifest row plus alignment, preprocessing and a run.

``build_embedder(name, models_dir, threads)`` loads one (models fetched on first use); every embedder
has ``name``, ``template_model`` (the name its templates and collections carry), ``dim``,
``model_names`` (manifest rows) and ``embed(image, faces) -> list[Template]`` over
:class:`~visage.analysis.embedders.align.FacePoints`. ``embedder_for_template(model)`` finds the
embedder that makes a given template model, so a collection made with another embedder keeps working.

Adding an embedder is one entry in :data:`EMBEDDERS` (and a manifest row for its file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from visage.analysis.embedders.align import FacePoints
from visage.errors import ModelUnavailableError
from visage.types import Template

# Chosen by measurement on calib/ and LFW (bench/bench_lfw.py, docs/models.md): expo's MobileFaceNet
# (192-d) with flip averaging had the best calib TAR at FAR 1e-3 and LFW figures of the embedders whose
# embed cost is one model (two crops); the fused pair is more accurate still at twice the cost.
DEFAULT_EMBEDDER = "mobilefacenet-tflite-flip"


class Embedder(Protocol):
    name: str
    template_model: str
    dim: int
    model_names: tuple[str, ...]

    def embed(self, image: np.ndarray, faces: list[FacePoints]) -> list[Template]: ...


def _zoo(name: str) -> Callable[[Path, int | None], Embedder]:
    def build(models_dir: Path, threads: int | None) -> Embedder:
        from visage.analysis.embedders.zoo import EMBEDDERS as ZOO
        from visage.analysis.embedders.zoo import ZooEmbedder
        from visage.models.zoo import load_zoo_model

        cfg = ZOO[name]
        return ZooEmbedder(load_zoo_model(cfg.model, models_dir, threads), cfg, name)
    return build


def _dlib(models_dir: Path, threads: int | None) -> Embedder:
    from visage.analysis.embedders.dlib import DlibMeshEmbedder
    from visage.models.fetch import ensure_models
    from visage.models.registry import MODELS

    return DlibMeshEmbedder(ensure_models([MODELS["dlib_resnet_v1"]], models_dir)["dlib_resnet_v1"])


def _arcface_specs() -> dict:
    from visage.analysis.embedders.arcface import ArcFaceSpec

    fr = dict(model="faceplugin-fr_feature", layout="NCHW", mean=127.0, scale=1 / 128)
    mfn = dict(model="expo-MobileFaceNet", layout="NHWC", mean=127.5, scale=1 / 128)
    return {
        "fr-feature": ArcFaceSpec(template="faceplugin-fr_feature", **fr),
        "fr-feature-flip": ArcFaceSpec(template="faceplugin-fr_feature-flip", flip=True, **fr),
        "mobilefacenet-tflite": ArcFaceSpec(template="expo-mobilefacenet", **mfn),
        "mobilefacenet-tflite-flip": ArcFaceSpec(template="expo-mobilefacenet-flip", flip=True, **mfn),
    }


def _arcface(name: str) -> Callable[[Path, int | None], Embedder]:
    def build(models_dir: Path, threads: int | None) -> Embedder:
        from visage.analysis.embedders.arcface import ArcFaceEmbedder

        return ArcFaceEmbedder(name, _arcface_specs()[name], models_dir, threads)
    return build


def _fused(name: str, parts: tuple[str, ...]) -> Callable[[Path, int | None], Embedder]:
    def build(models_dir: Path, threads: int | None) -> Embedder:
        from visage.analysis.embedders.arcface import ArcFaceEmbedder, FusedEmbedder

        specs = _arcface_specs()
        return FusedEmbedder(name, tuple(ArcFaceEmbedder(p, specs[p], models_dir, threads) for p in parts))
    return build


EMBEDDERS: dict[str, Callable[[Path, int | None], Embedder]] = {
    "fr-feature": _arcface("fr-feature"),
    "fr-feature-flip": _arcface("fr-feature-flip"),
    "mobilefacenet-tflite": _arcface("mobilefacenet-tflite"),
    "mobilefacenet-tflite-flip": _arcface("mobilefacenet-tflite-flip"),
    "fused-flip": _fused("fused-flip", ("fr-feature-flip", "mobilefacenet-tflite-flip")),
    "fused": _fused("fused", ("fr-feature", "mobilefacenet-tflite")),
    "faceres-deep": _zoo("faceres-deep"),
    "faceres": _zoo("faceres"),
    "mobileface": _zoo("mobileface"),
    "mobilefacenet": _zoo("mobilefacenet"),
    "dlib": _dlib,
}

# Template model each embedder makes (what collections record), without loading any model.
TEMPLATE_MODELS: dict[str, str] = {
    "fr-feature": "faceplugin-fr_feature-512",
    "fr-feature-flip": "faceplugin-fr_feature-flip-512",
    "mobilefacenet-tflite": "expo-mobilefacenet-192",
    "mobilefacenet-tflite-flip": "expo-mobilefacenet-flip-192",
    "fused-flip": "fused-faceplugin-fr_feature-flip-512+expo-mobilefacenet-flip-192",
    "fused": "fused-faceplugin-fr_feature-512+expo-mobilefacenet-192",
    "faceres-deep": "human-faceres-deep-1024",
    "faceres": "human-faceres-1024",
    "mobileface": "human-mobileface-256",
    "mobilefacenet": "human-mobilefacenet-192",
    "dlib": "dlib_resnet_v1",
}


def build_embedder(name: str, models_dir: Path, threads: int | None = None) -> Embedder:
    """The embedder ``name`` with its models loaded (ValueError lists the known names)."""
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        raise ValueError(f"unknown embedder {name!r}; known: {', '.join(sorted(EMBEDDERS))}") from None
    embedder = factory(models_dir, threads)
    if embedder.template_model != TEMPLATE_MODELS[name]:  # the table above must say what the model makes
        raise RuntimeError(f"embedder {name} makes {embedder.template_model}, table says {TEMPLATE_MODELS[name]}")
    return embedder


def embedder_for_template(template_model: str) -> str:
    """The embedder name whose templates are ``template_model`` (collections record the latter)."""
    for name, model in TEMPLATE_MODELS.items():
        if model == template_model:
            return name
    raise ModelUnavailableError(f"no embedder makes {template_model!r} templates; known: "
                                f"{', '.join(sorted(TEMPLATE_MODELS.values()))}")
