"""The ``fast`` pipeline: RetinaFace (or BlazeFace) + Face Mesh + an embedder (analysis.embedders), on onnxruntime.

Stages (each timed in ``ImageAnalysis.timings_ms``):

1. ``detect``: the ``detector`` setting's component (visage.analysis.detectors): RetinaFace by default
   (boxes, scores and five points; a coarse pass, then the long side capped, small images enlarged, tiles
   for very large images), or the BlazeFace
   pair (MediaPipe short-range and full-range on a letterboxed copy, tiles from 1,280 px).
2. ``landmarks``: Face Mesh on a rotated 1.5x square around each detection, its eye line from the
   detector's two eye points (one batch per image);
   faces whose mesh face-presence score is below ``min_mesh_score`` are dropped (detector false
   positives). ``refine`` runs the mesh a second time on the square the first mesh defines.
3. ``embed``: the embedder's aligned crops of every face, one batch.

Each kept face keeps its detection beside its mesh (``landmarks`` returns the pairs) and
:func:`detector_points` gives its five points (``detectors.base.POINTS5`` order, pixels): the detector's own
where it has them (RetinaFace), else the same five taken from the mesh: what alignment builds on.
Boxes are the mesh bounds (eye line level) mapped to an axis-aligned box, clipped to the image;
``confidence`` is the detector's score; landmarks are ``mesh468`` (x, y pixels); pose comes from
six mesh points through :func:`visage.analysis.pose.pose_from_points` (its sign conventions).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from visage.analysis.attributes import ATTRIBUTES, UNSUPPORTED, FaceAttributes
from visage.analysis.detectors.base import Detection
from visage.analysis.detectors.blazeface import BlazeFace, BlazeFacePair
from visage.analysis.detectors.retinaface import MODEL_NAME as RETINAFACE_MODEL
from visage.analysis.detectors.retinaface import RetinaFace, SizePolicy
from visage.analysis.embedders import DEFAULT_EMBEDDER, Embedder, build_embedder
from visage.analysis.embedders.align import FacePoints
from visage.analysis.facemesh import FaceMesh, Iris, MeshResult, Roi, roi_from_mesh, roi_from_points
from visage.analysis.pipeline import AnalyzeOptions
from visage.analysis.pose import pose_from_points
from visage.analysis.quality import QUALITY_METHODS, FaceInput, Timer, assess_faces
from visage.config import Settings
from visage.models.fetch import ensure_model
from visage.models.onnx_session import get_session
from visage.models.zoo import load_zoo_model
from visage.types import Box, Face, ImageAnalysis, Landmarks

# Mesh indices of the six points pose_from_points expects: nose tip, chin, outer eye corners
# (image-left, image-right), mouth corners (image-left, image-right). The nose point is 4, just above
# the mesh's tip (1): the generic head was built for iBUG's point 30, and with 4 the pose of the 20
# single-face fixtures agrees with the dlib pipeline's (mean |difference| yaw 2.4, pitch 3.3, roll 1.2
# degrees; with 1, pitch read 7.8 degrees lower on average).
MESH_POSE_INDICES = (4, 152, 33, 263, 61, 291)

# Mesh points of the five detector points when the detector has none (BlazeFace): eye centres (mean
# of the two corners), nose tip, mouth corners; image-left first, as in POINTS5.
MESH_POINTS5 = ((33, 133), (362, 263), (1,), (61,), (291,))

MESH_NOSE_TIP = 1   # the mesh vertex _dedupe compares to tell two overlapping faces from one face found twice

DETECTORS = ("retinaface", "blazeface")


@dataclass(frozen=True)
class FastConfig:
    embedder: str = DEFAULT_EMBEDDER
    detector: str = "retinaface"
    min_detector_score: float | None = None   # None: the detector's own default (RetinaFace 0.7, BlazeFace 0.5)
    nms_iou: float | None = None              # None: the detector's own default (0.4, 0.3)
    min_mesh_score: float = 0.5
    # Detections scoring at least this are kept whatever their mesh says (None: the detector's default,
    # RetinaFace 0.8, BlazeFace never): Face Mesh scores profiles, faces cut by the border and small
    # occluded faces near 0, and RetinaFace finds them; such a face's box is the detector's.
    trust_detector_score: float | None = None
    min_face_size: int = 0           # faces whose mesh box's longer side is below this (pixels) are dropped
    tiles: bool = True               # BlazeFace: tiled passes on large images
    tile_min_side: int = 1280        # BlazeFace: images whose longer side is at least this get tiled passes
    refine: bool = False             # second mesh pass on the mesh's own square (measured: no accuracy gain)
    iris: bool = False
    max_faces: int = 120
    threads: int | None = None


class FaceDetector(Protocol):
    """A detector component: faces of an RGB uint8 image in its pixels, and the models it runs."""

    model_names: tuple[str, ...]

    def detect(self, image: np.ndarray) -> list[Detection]: ...


@dataclass
class FastPipeline:
    detector: FaceDetector
    mesh: FaceMesh
    embedder: Embedder
    iris: Iris | None = None
    config: FastConfig = field(default_factory=FastConfig)
    name: str = "fast"
    attributes: FaceAttributes | None = None
    models_dir: Path | None = None
    # Other embedders a request asked for by name (a collection made with another one), loaded on first use.
    _others: dict[str, Embedder] = field(default_factory=dict, repr=False)
    _others_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, config: FastConfig | None = None) -> FastPipeline:
        config = config or FastConfig(embedder=settings.embedder, iris=settings.fast_iris,
                                      detector=settings.detector, min_face_size=settings.min_face_size,
                                      max_faces=settings.max_faces, threads=settings.onnx_threads or None)
        md, th = settings.models_dir, config.threads

        def load(name: str):
            return load_zoo_model(name, md, th)

        embedder = build_embedder(config.embedder, md, th)
        return cls(
            detector=build_detector(config, settings),
            mesh=FaceMesh(load("facemesh")),
            embedder=embedder,
            iris=Iris(load("iris")) if config.iris else None,
            config=config,
            attributes=FaceAttributes(md, th),
            models_dir=md,
        )

    def embedder_named(self, name: str | None) -> Embedder:
        """The pipeline's embedder, or the one ``name`` asks for (loaded once, on first use)."""
        if name is None or name == self.embedder.name:
            return self.embedder
        with self._others_lock:
            other = self._others.get(name)
            if other is None:
                other = self._others[name] = build_embedder(name, self.models_dir or Settings().models_dir,
                                                            self.config.threads)
        return other

    @property
    def embedder_model(self) -> str:
        return self.embedder.template_model

    @property
    def embedder_dim(self) -> int:
        return self.embedder.dim

    def models(self) -> list[str]:
        names = [*self.detector.model_names, "human-facemesh", *self.embedder.model_names]
        if self.iris is not None:
            names.append("human-iris")
        # Quality is not a model: QUALITY_METHODS names the landmark/pixel methods (docs/quality.md).
        return [*names, QUALITY_METHODS]

    # -- stages -----------------------------------------------------------------------------

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The detector's faces, largest first."""
        dets = self.detector.detect(image)
        dets.sort(key=lambda d: d.size, reverse=True)
        return dets

    def landmarks(self, image: np.ndarray, dets: list[Detection]) -> list[tuple[Detection, MeshResult]]:
        scale, shift = getattr(self.detector, "mesh_roi", (1.5, 0.0))
        rois = [seed_roi(d, scale, shift) for d in dets]
        meshes = self.mesh.run(image, rois)
        cfg = self.config
        keeps = self._keeps()
        kept = [(d, m) for d, m in zip(dets, meshes, strict=True) if keeps(d, m.score)]
        if self.config.refine and kept:
            again = self.mesh.run(image, [roi_from_mesh(m.points) for _, m in kept])
            kept = [(d, m2 if m2.score >= self.config.min_mesh_score else m)
                    for (d, m), m2 in zip(kept, again, strict=True)]
        kept = [(d, m) for d, m in kept if _size(self.face_box(d, m)) >= cfg.min_face_size]
        kept = _dedupe(kept, self.face_box, cfg.min_mesh_score)
        # Largest first by the area each face shows inside the image (what every dialect's limit keeps).
        h, w = image.shape[:2]
        kept.sort(key=lambda dm: _clipped_area(self.face_box(*dm), w, h), reverse=True)
        return kept

    def _keeps(self) -> Callable[[Detection, float], bool]:
        """Whether a detection with this Face Mesh score is kept: from the detector's ``min_score`` up when the
        mesh scores it ``min_mesh_score`` or the detector is trusted; below it (RetinaFace returns 0.5-0.7 for
        this) only when the mesh is sure, the detector's ``mesh_sure[1]``."""
        trusts, cfg = self._trusts(), self.config
        floor = getattr(self.detector, "min_score", 0.0)
        sure = getattr(self.detector, "mesh_sure", None)

        def keeps(d: Detection, mesh_score: float) -> bool:
            if d.score < floor:
                return sure is not None and mesh_score >= sure[1]
            return mesh_score >= cfg.min_mesh_score or trusts(d)

        return keeps

    def _trusts(self) -> Callable[[Detection], bool]:
        """Which detections are kept whatever Face Mesh scores: ``trust_detector_score`` when set, else the
        detector's own rule (RetinaFace: a score threshold by face size), else none (BlazeFace)."""
        trust = self.config.trust_detector_score
        if trust is not None:
            return lambda d: d.score >= trust
        rule = getattr(self.detector, "trusts", None)
        if rule is not None:
            return rule
        trust = getattr(self.detector, "trusted_score", None)
        return (lambda d: d.score >= trust) if trust is not None else (lambda d: False)

    def face_box(self, det: Detection, mesh: MeshResult) -> np.ndarray:
        """A kept face's box (x0, y0, x1, y1): its mesh's bounds, or the detector's box where the mesh
        did not find the face (its score is below ``min_mesh_score``: profiles, faces cut by the border)."""
        if mesh.score >= self.config.min_mesh_score:
            p = mesh.points
            return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()], np.float32)
        return det.box

    @staticmethod
    def face_points(faces_mesh: list[tuple[Detection, MeshResult]]) -> list[FacePoints]:
        """What the embedder aligns each face on: the five points of :func:`detector_points` (RetinaFace's
        own, or read off the mesh for BlazeFace) and the mesh itself (mesh-based embedders)."""
        return [FacePoints(points5=detector_points(d, m), mesh=m.points) for d, m in faces_mesh]

    # -- the Pipeline protocol --------------------------------------------------------------

    def analyze(self, image: np.ndarray, options: AnalyzeOptions) -> ImageAnalysis:
        height, width = image.shape[:2]
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        dets = self.detect(image)
        timings["detect"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        faces_mesh = self.landmarks(image, dets)
        limit = min(options.max_faces or self.config.max_faces, self.config.max_faces)
        faces_mesh = faces_mesh[:limit]
        timings["landmarks"] = (time.perf_counter() - t0) * 1000

        irises: list[np.ndarray | None] = [None] * len(faces_mesh)
        if self.iris is not None and options.landmarks and faces_mesh:
            t0 = time.perf_counter()
            irises = list(self.iris.run(image, [m.points for _, m in faces_mesh]))
            timings["iris"] = (time.perf_counter() - t0) * 1000

        meshes = [m.points for _, m in faces_mesh]
        wanted = options.attributes
        faceres = None
        templates = [None] * len(faces_mesh)
        embed_models: list[str] = []
        if options.templates and faces_mesh:
            t0 = time.perf_counter()
            embedder = self.embedder_named(options.embedder)
            points = self.face_points(faces_mesh)
            if wanted & {"age", "gender"} and embedder.name == "faceres-deep":
                # One FaceRes-Deep run gives the template and the age and gender heads.
                faceres, templates = embedder.embed_with_outputs(image, points)
            else:
                templates = embedder.embed(image, points)
            timings["embed"] = (time.perf_counter() - t0) * 1000
            if embedder is not self.embedder:
                embed_models = list(embedder.model_names)

        attrs: list[dict[str, object]] = [{} for _ in faces_mesh]
        extra_models: list[str] = embed_models
        if wanted and faces_mesh and self.attributes is not None:
            res = self.attributes.run(image, meshes, wanted, faceres=faceres)
            attrs = res.values
            extra_models = [*embed_models, *res.models]
            timings.update(res.timings_ms)

        boxes, poses = [], []
        for det, mesh in faces_mesh:
            pts = mesh.points
            x0, y0, x1, y1 = (float(v) for v in self.face_box(det, mesh))
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0))  # unclipped: a face cut by the border shows it
            poses.append(pose_from_points(pts[list(MESH_POSE_INDICES), :2], width, height)
                         if (options.pose or options.icao) else None)

        qualities: list[dict | None] = [None] * len(faces_mesh)
        if options.wants_quality and faces_mesh:
            timer = Timer()
            inputs = [FaceInput(box=boxes[i], landmarks=Landmarks(scheme="mesh468", points=m.points[:, :2]),
                                pose=poses[i]) for i, (_, m) in enumerate(faces_mesh)]
            qualities = list(assess_faces(image, inputs, icao=options.icao, timer=timer))
            timings.update(timer.ms)
            timings["quality"] = sum(timer.ms.values())

        faces = []
        for i, (det, mesh) in enumerate(faces_mesh):
            pts = mesh.points
            landmarks = Landmarks(scheme="mesh468", points=pts[:, :2].copy()) if options.landmarks else None
            attributes = dict(attrs[i]) if wanted else None
            if irises[i] is not None:
                attributes = {**(attributes or {}), "iris": irises[i].round(2).tolist()}
            faces.append(Face(box=boxes[i].clipped(width, height), confidence=round(det.score, 4),
                              landmarks=landmarks, pose=poses[i] if options.pose else None,
                              template=templates[i], quality=qualities[i], attributes=attributes))
        unsupported = tuple(n for n in ATTRIBUTES if n in wanted and n in UNSUPPORTED)
        return ImageAnalysis(width=width, height=height, faces=tuple(faces), timings_ms=timings,
                             models=tuple(m for m in extra_models if m not in self.models()),
                             unsupported=unsupported)


def build_detector(config: FastConfig, settings: Settings) -> FaceDetector:
    """The detector component ``config.detector`` names, with its models loaded."""
    md, th = settings.models_dir, config.threads
    overrides = {k: v for k, v in (("min_score", config.min_detector_score), ("nms_iou", config.nms_iou))
                 if v is not None}
    if config.detector == "retinaface":
        policy = SizePolicy(max_side=settings.detect_max_side, min_side=min(settings.detect_min_side,
                                                                            settings.detect_max_side),
                            tile_above=max(2560, settings.detect_max_side), coarse_side=settings.detect_coarse_side)
        return RetinaFace(get_session(ensure_model(RETINAFACE_MODEL, md), th), policy, **overrides)
    if config.detector == "blazeface":
        return BlazeFacePair(BlazeFace(load_zoo_model("facemesh-detection-short", md, th)),
                             BlazeFace(load_zoo_model("facemesh-detection-full", md, th)),
                             tiles=config.tiles, tile_min_side=config.tile_min_side, **overrides)
    raise ValueError(f"unknown detector {config.detector!r}; known: {', '.join(DETECTORS)}")


def seed_roi(det: Detection, scale: float, shift: float) -> Roi:
    """The Face Mesh square of a detection: eye line from its two eye points, side ``scale`` x the box's
    longer side, centre moved ``shift`` x that side towards the chin (along the face's own down axis)."""
    roi = roi_from_points(det.keypoints[0], det.keypoints[1], tuple(det.box), scale)
    if shift:
        down = shift * roi.side / scale
        roi = replace(roi, cx=roi.cx - down * math.sin(roi.angle), cy=roi.cy + down * math.cos(roi.angle))
    return roi


def detector_points(det: Detection, mesh: MeshResult) -> np.ndarray:
    """The five points (5 x 2 pixels, ``POINTS5`` order) of a kept face: the detector's own where it
    gives them (RetinaFace), else the same five points read off the face's mesh (BlazeFace)."""
    if det.points5 is not None:
        return det.points5
    pts = mesh.points[:, :2]
    return np.array([pts[list(idx)].mean(axis=0) for idx in MESH_POINTS5], np.float32)


def _clipped_area(box: np.ndarray, width: int, height: int) -> float:
    x0, x1 = np.clip(box[[0, 2]], 0, width)
    y0, y1 = np.clip(box[[1, 3]], 0, height)
    return float((x1 - x0) * (y1 - y0))


def _size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _dedupe(pairs: list[tuple[Detection, MeshResult]], face_box: Callable[[Detection, MeshResult], np.ndarray],
            min_mesh_score: float = 0.5, overlap_max: float = 0.5,
            apart: float | None = None) -> list[tuple[Detection, MeshResult]]:
    """Keep one face per person: drop a face whose box lies more than ``overlap_max`` inside an already
    kept face's (intersection over the smaller box), keeping the higher mesh score first, unless ``apart`` is
    set, both faces have a mesh and their nose tips lie more than ``apart`` x the smaller box's side apart: two
    people, one half hidden behind the other (a mesh that converged on the same face puts its nose on the same
    spot). Off by default: a box straddling two neighbours' faces has its mesh nose between them, so the rule
    kept it beside the real face (LFW Hugo_Chavez_0033, Maria_Luisa_Mendonca_0001: docs/models.md)."""

    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
        return float(ix * iy / small) if small > 0 else 0.0

    def same_face(m: MeshResult, box: np.ndarray, other: MeshResult, other_box: np.ndarray) -> bool:
        if overlap(box, other_box) <= overlap_max:
            return False
        if apart is None or m.score < min_mesh_score or other.score < min_mesh_score:
            return True
        nose = float(np.hypot(*(m.points[MESH_NOSE_TIP, :2] - other.points[MESH_NOSE_TIP, :2])))
        return nose <= apart * min(_size(box), _size(other_box))

    kept: list[tuple[Detection, MeshResult, np.ndarray]] = []
    for d, m in sorted(pairs, key=lambda dm: (dm[1].score, dm[0].score), reverse=True):
        box = face_box(d, m)
        if not any(same_face(m, box, km, k) for _, km, k in kept):
            kept.append((d, m, box))
    return [(d, m) for d, m, _ in kept]
