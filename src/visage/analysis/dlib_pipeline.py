"""The dlib pipeline: HOG detection, ERT landmarks, ResNet-29 128-d templates.

Detection runs on a copy scaled so its longer side is at most ``detect_max_side`` pixels (HOG
cost grows with area; one upsampling pass then still finds faces of about 40 px in that copy),
and boxes are scaled back. Landmarks and templates run on the full-resolution image. Every
dlib call here releases the GIL, so a thread pool runs requests in parallel.

Thread safety: dlib's ``object_detector`` loads each image's HOG pyramid into its own member
scanner and the DNN embedder keeps per-layer output buffers, so neither may be shared between
threads; each worker thread gets its own (cheap: the weights file is read once per thread).
Shape predictors are const at inference and are shared.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import dlib
import numpy as np

from visage.analysis.pipeline import AnalyzeOptions
from visage.analysis.pose import pose_from_dlib68
from visage.analysis.quality import QUALITY_METHODS, FaceInput, Timer, assess_faces
from visage.config import Settings
from visage.errors import TemplateMismatchError
from visage.models.fetch import ensure_models
from visage.models.registry import MODELS
from visage.types import Box, Face, ImageAnalysis, Landmarks, Template

EMBEDDER_MODEL = "dlib_resnet_v1"


def hog_confidence(score: float) -> float:
    """Map the HOG detector's SVM margin to (0, 1) with a fixed logistic, ``sigmoid(2*score + 1)``.

    The detector's own threshold (margin 0) maps to 0.73 and a margin of 2 (a clear frontal face)
    to 0.99. It is monotone in the margin, not a calibrated probability (docs/models.md).
    """
    return 1.0 / (1.0 + math.exp(-(2.0 * score + 1.0)))


@dataclass
class DlibPipeline:
    """Composes dlib models by role; construct with :meth:`from_settings`."""

    landmarker68: object
    landmarker5: object
    embedder_path: Path
    upsample: int = 1
    detect_max_side: int = 1024
    max_faces: int = 100
    name: str = "dlib"
    embedder_model: str = EMBEDDER_MODEL
    embedder_dim: int = 128
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> DlibPipeline:
        names = ["dlib_shape_predictor_68", "dlib_shape_predictor_5", "dlib_resnet_v1"]
        paths = ensure_models([MODELS[n] for n in names], settings.models_dir)
        pipeline = cls(
            landmarker68=dlib.shape_predictor(str(paths["dlib_shape_predictor_68"])),
            landmarker5=dlib.shape_predictor(str(paths["dlib_shape_predictor_5"])),
            embedder_path=paths["dlib_resnet_v1"],
            upsample=settings.upsample,
            max_faces=settings.max_faces,
        )
        pipeline.embedder  # noqa: B018 - load once now, so a bad model file fails at startup
        return pipeline

    @property
    def detector(self) -> dlib.fhog_object_detector:
        """This thread's HOG detector (not shareable: it holds the current image's pyramid)."""
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = self._local.detector = dlib.get_frontal_face_detector()
        return detector

    @property
    def embedder(self) -> dlib.face_recognition_model_v1:
        """This thread's ResNet embedder (not shareable: the network keeps per-layer buffers)."""
        embedder = getattr(self._local, "embedder", None)
        if embedder is None:
            embedder = self._local.embedder = dlib.face_recognition_model_v1(str(self.embedder_path))
        return embedder

    def models(self) -> list[str]:
        # Quality is not a model: QUALITY_METHODS names the landmark/pixel methods (docs/quality.md).
        return ["dlib_hog_frontal", "dlib_shape_predictor_68", "dlib_shape_predictor_5", EMBEDDER_MODEL,
                QUALITY_METHODS]

    def detect(self, image: np.ndarray) -> list[tuple[dlib.rectangle, float]]:
        """Face rectangles in full-resolution pixels with HOG margins, largest first."""
        height, width = image.shape[:2]
        scale = min(1.0, self.detect_max_side / max(height, width))
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        rects, scores, _ = self.detector.run(small, self.upsample, 0.0)
        found = []
        for rect, score in zip(rects, scores, strict=True):
            full = dlib.rectangle(
                round(rect.left() / scale), round(rect.top() / scale),
                round(rect.right() / scale), round(rect.bottom() / scale),
            )
            found.append((full, float(score)))
        found.sort(key=lambda item: item[0].area(), reverse=True)
        return found

    def analyze(self, image: np.ndarray, options: AnalyzeOptions) -> ImageAnalysis:
        height, width = image.shape[:2]
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        found = self.detect(image)
        limit = min(options.max_faces or self.max_faces, self.max_faces)
        found = found[:limit]
        timings["detect"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        from visage.analysis.attributes import ATTRIBUTES, OCCLUDER_ATTRIBUTES, _timing_key
        from visage.analysis.occluders import OCCLUDER_METHOD, occluder_attributes

        occluders = options.attributes & OCCLUDER_ATTRIBUTES
        need68 = options.landmarks or options.pose or options.wants_quality or bool(occluders)
        shapes68 = [self.landmarker68(image, rect) for rect, _ in found] if need68 else []
        timings["landmarks"] = (time.perf_counter() - t0) * 1000

        templates: list[Template | None] = [None] * len(found)
        if options.templates and options.embedder not in (None, "dlib"):
            raise TemplateMismatchError(f"the dlib pipeline makes {EMBEDDER_MODEL} templates only, not the"
                                        f" {options.embedder} embedder's (run the fast pipeline)")
        if options.templates and found:
            t0 = time.perf_counter()
            shapes5 = dlib.full_object_detections()
            for rect, _ in found:
                shapes5.append(self.landmarker5(image, rect))
            vectors = self.embedder.compute_face_descriptor(image, shapes5, 0, 0.25)
            templates = [Template.from_vector(EMBEDDER_MODEL, np.asarray(v)) for v in vectors]
            timings["embed"] = (time.perf_counter() - t0) * 1000

        boxes = [Box(float(r.left()), float(r.top()), float(r.width()), float(r.height())) for r, _ in found]
        points = [np.array([(p.x, p.y) for p in s.parts()], dtype=np.float32) for s in shapes68]
        poses = [pose_from_dlib68(pts, width, height) for pts in points] if (options.pose or options.icao) else []

        qualities: list[dict[str, object] | None] = [None] * len(found)
        if options.wants_quality and found:
            timer = Timer()
            inputs = [FaceInput(box=boxes[i], landmarks=Landmarks(scheme="dlib68", points=points[i]),
                                pose=poses[i] if poses else None) for i in range(len(found))]
            qualities = list(assess_faces(image, inputs, icao=options.icao, timer=timer))
            timings.update(timer.ms)
            timings["quality"] = sum(timer.ms.values())

        # The model attributes need the fast pipeline's 468-point mesh crops; glasses and mask are a
        # landmark + pixel method (visage.analysis.occluders) that runs on the 68 points too.
        attrs: list[dict[str, object] | None] = [None] * len(found)
        models: tuple[str, ...] = ()
        if occluders and found:
            t0 = time.perf_counter()
            for i in range(len(found)):
                attrs[i] = occluder_attributes(image, Landmarks(scheme="dlib68", points=points[i]), occluders)
            timings[_timing_key(occluders, ("glasses", "mask"))] = (time.perf_counter() - t0) * 1000
            models = (OCCLUDER_METHOD,)

        faces = []
        for i, (_rect, score) in enumerate(found):
            landmarks = Landmarks(scheme="dlib68", points=points[i]) if options.landmarks else None
            pose = poses[i] if options.pose else None
            faces.append(Face(box=boxes[i], confidence=round(hog_confidence(score), 4), landmarks=landmarks,
                              pose=pose, template=templates[i], quality=qualities[i], attributes=attrs[i]))
        unsupported = tuple(n for n in ATTRIBUTES if n in options.attributes and n not in OCCLUDER_ATTRIBUTES)
        return ImageAnalysis(width=width, height=height, faces=tuple(faces), timings_ms=timings,
                             models=models, unsupported=unsupported)

    def aligned_crop(self, image: np.ndarray, box: Box, size: int = 150, padding: float = 0.25) -> np.ndarray:
        """An eye-aligned RGB crop of the face in ``box`` (the embedder's own input geometry)."""
        rect = dlib.rectangle(round(box.left), round(box.top), round(box.right), round(box.bottom))
        shape = self.landmarker5(image, rect)
        return np.asarray(dlib.get_face_chip(image, shape, size=size, padding=padding))
