"""The engine: image bytes in, typed results out. No HTTP here; every API calls this.

One :class:`Engine` per process holds the pipeline (models loaded once) and the image limits.
It is thread-safe: servers call it from a worker pool so the event loop stays free.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from visage.analysis.pipeline import AnalyzeOptions, Pipeline, build_pipeline
from visage.calibration import DEFAULT_THRESHOLD, Calibration, get_calibration
from visage.config import Settings
from visage.errors import NoFaceError
from visage.imaging import DecodedImage, ImageLimits, load_image
from visage.types import ImageAnalysis, Match, Template

if TYPE_CHECKING:
    from visage.analysis.body import BodyDetection, BodyDetector


class Engine:
    """Face analysis on one pipeline; build once, share across threads."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None = None) -> None:
        self.settings = settings
        self.pipeline = pipeline or build_pipeline(settings)
        self.limits = ImageLimits(
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            min_side=settings.min_image_side,
        )
        self._body: BodyDetector | None = None
        self._body_lock = threading.Lock()

    @property
    def calibration(self) -> Calibration:
        """Score calibration of this pipeline's embedder (looked up when first needed)."""
        return get_calibration(self.pipeline.embedder_model)

    @property
    def embedder_model(self) -> str:
        return self.pipeline.embedder_model

    @property
    def embedder_dim(self) -> int:
        return self.pipeline.embedder_dim

    def decode(self, data: bytes) -> DecodedImage:
        """Decode image bytes under this engine's limits (domain errors on bad input)."""
        return load_image(data, self.limits)

    def analyze(self, image: bytes | DecodedImage | np.ndarray, options: AnalyzeOptions | None = None) -> ImageAnalysis:
        """Every face in the image with what ``options`` asks for, largest first."""
        rgb = self._rgb(image)
        return self.pipeline.analyze(rgb, options or AnalyzeOptions())

    def detect_bodies(self, image: bytes | DecodedImage | np.ndarray,
                      min_score: float | None = None) -> list[BodyDetection]:
        """Person boxes (image pixels) with confidence, from CenterNet (visage.analysis.body)."""
        rgb = self._rgb(image)
        with self._body_lock:
            if self._body is None:
                from visage.analysis.body import BodyDetector

                self._body = BodyDetector(self.settings.models_dir, self.settings.onnx_threads or None)
        return self._body.detect(rgb, min_score)

    def embed(self, image: bytes | DecodedImage | np.ndarray, max_faces: int | None = None) -> ImageAnalysis:
        """Faces with templates (and landmarks), largest first."""
        return self.analyze(image, AnalyzeOptions(landmarks=True, pose=True, templates=True, max_faces=max_faces))

    def largest_template(self, image: bytes | DecodedImage | np.ndarray) -> Template:
        """The template of the largest face; :class:`NoFaceError` when there is none."""
        result = self.analyze(image, AnalyzeOptions(landmarks=False, pose=False, templates=True, max_faces=1))
        if not result.faces or result.faces[0].template is None:
            raise NoFaceError("no face found in the image")
        return result.faces[0].template

    def compare(self, a: Template, b: Template, threshold: float | None = None) -> Match:
        """1:1 verification of two templates of the same model."""
        cosine = a.cosine(b)
        calibration = get_calibration(a.model)
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        similarity = calibration.similarity(cosine)
        return Match(similarity=round(similarity, 6), match=similarity >= threshold, threshold=threshold,
                     model=a.model, cosine=round(cosine, 6))

    def verify(self, a: bytes | DecodedImage | np.ndarray, b: bytes | DecodedImage | np.ndarray,
               threshold: float | None = None) -> Match:
        """1:1 verification of the largest face of each image."""
        return self.compare(self.largest_template(a), self.largest_template(b), threshold)

    def _rgb(self, image: bytes | DecodedImage | np.ndarray) -> np.ndarray:
        if isinstance(image, bytes | bytearray | memoryview):
            return self.decode(bytes(image)).rgb
        if isinstance(image, DecodedImage):
            return image.rgb
        return np.ascontiguousarray(image, dtype=np.uint8)
