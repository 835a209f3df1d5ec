"""face-api's AgeGenderNet and FaceExpressionNet (npm ``@vladmandic/face-api``), run by onnxruntime.

The package ships TF.js layer weights only; :mod:`visage.models.faceapi2onnx` rebuilds each network
as ONNX once (cached beside the weights by :func:`visage.models.onnx_cache.faceapi_cached`), so serving
imports neither onnx nor tfjs. Both take N x 112 x 112 x 3 float32 RGB 0..255 (the mean subtraction
and /255 are inside the graph).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from visage.models.fetch import ensure_models
from visage.models.onnx_cache import faceapi_cached
from visage.models.onnx_session import get_session
from visage.models.registry import MODELS

AGE_GENDER_MODEL = "faceapi-age_gender"
EXPRESSION_MODEL = "faceapi-face_expression"
INPUT_SIZE = 112
# face-api's class order (FACE_EXPRESSION_LABELS) -> visage's emotion names.
EXPRESSION_TO_EMOTION = {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry",
                         "fearful": "scared", "disgusted": "disgusted", "surprised": "surprised"}
FACEAPI_EXPRESSIONS = tuple(EXPRESSION_TO_EMOTION)


class FaceApiModels:
    """Both networks, each fetched, converted and loaded on first use."""

    def __init__(self, models_dir: Path, threads: int | None = None) -> None:
        self.models_dir = models_dir
        self.threads = threads
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._lock = threading.Lock()

    def session(self, name: str) -> ort.InferenceSession:
        with self._lock:
            s = self._sessions.get(name)
            if s is None:
                spec = MODELS[name]
                manifest = ensure_models([spec], self.models_dir)[spec.name]
                s = get_session(faceapi_cached(manifest), self.threads)
                self._sessions[name] = s
            return s

    def age_gender(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ages in years (N) and gender probabilities (N x 2: male, female) for RGB 0..255 crops."""
        if len(batch) == 0:
            return np.zeros(0, np.float32), np.zeros((0, 2), np.float32)
        age, gender = self.session(AGE_GENDER_MODEL).run(["age", "gender"], {"input": batch})
        return age.reshape(-1), gender

    def emotion_probs(self, batch: np.ndarray, order: tuple[str, ...] | None = None) -> np.ndarray:
        """Expression probabilities (N x 7) in visage's emotion order (``order``: names of
        :data:`EXPRESSION_TO_EMOTION`'s values; default visage.analysis.attributes.EMOTIONS)."""
        from visage.analysis.attributes import EMOTIONS

        order = order or EMOTIONS
        if len(batch) == 0:
            return np.zeros((0, len(order)), np.float32)
        p = self.session(EXPRESSION_MODEL).run(["expression"], {"input": batch})[0]
        ours = [EXPRESSION_TO_EMOTION[n] for n in FACEAPI_EXPRESSIONS]
        return p[:, [ours.index(n) for n in order]]
