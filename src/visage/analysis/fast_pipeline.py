"""The ``fast`` pipeline: BlazeFace + Face Mesh + an embedder (visage.analysis.embedders), on onnxruntime.

Stages (each timed in ``ImageAnalysis.timings_ms``):

1. ``detect``: MediaPipe short-range (128) and full-range (192) BlazeFace on the letterboxed image;
   with ``tiles`` the full-range model also runs on overlapping square tiles of large images, for
   small faces in group photos. Detections of every pass are merged with weighted NMS.
2. ``landmarks``: Face Mesh on a rotated 1.5x square around each detection (one batch per image);
   faces whose mesh face-presence score is below ``min_mesh_score`` are dropped (detector false
   positives). ``refine`` runs the mesh a second time on the square the first mesh defines.
3. ``embed``: the embedder's aligned crops of every face, one batch.

Boxes are the mesh bounds (eye line level) mapped to an axis-aligned box, clipped to the image;
``confidence`` is the detector's score; landmarks are ``mesh468`` (x, y pixels); pose comes from
six mesh points through :func:`visage.analysis.pose.pose_from_points` (its sign conventions).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from visage.analysis.attributes import ATTRIBUTES, UNSUPPORTED, FaceAttributes
from visage.analysis.blazeface import BlazeFace, Detection, weighted_nms
from visage.analysis.embedders import DEFAULT_EMBEDDER, Embedder, build_embedder
from visage.analysis.embedders.align import FacePoints
from visage.analysis.facemesh import FaceMesh, Iris, MeshResult, roi_from_mesh, roi_from_points
from visage.analysis.pipeline import AnalyzeOptions
from visage.analysis.pose import pose_from_points
from visage.analysis.quality import QUALITY_METHODS, FaceInput, Timer, assess_faces
from visage.config import Settings
from visage.models.zoo import load_zoo_model
from visage.types import Box, Face, ImageAnalysis, Landmarks

# Mesh indices of the six points pose_from_points expects: nose tip, chin, outer eye corners
# (image-left, image-right), mouth corners (image-left, image-right). The nose point is 4, just above
# the mesh's tip (1): the generic head was built for iBUG's point 30, and with 4 the pose of the 20
# single-face fixtures agrees with the dlib pipeline's (mean |difference| yaw 2.4, pitch 3.3, roll 1.2
# degrees; with 1, pitch read 7.8 degrees lower on average).
MESH_POSE_INDICES = (4, 152, 33, 263, 61, 291)

_TILE_FRACTION = 0.6


@dataclass(frozen=True)
class FastConfig:
    embedder: str = DEFAULT_EMBEDDER
    min_detector_score: float = 0.5
    nms_iou: float = 0.3
    min_mesh_score: float = 0.5
    tiles: bool = True
    tile_min_side: int = 1280        # images whose longer side is at least this get tiled passes
    refine: bool = False             # second mesh pass on the mesh's own square (measured: no accuracy gain)
    iris: bool = False
    max_faces: int = 100
    threads: int | None = None


@dataclass
class FastPipeline:
    short: BlazeFace
    full: BlazeFace
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
                                      max_faces=settings.max_faces, threads=settings.onnx_threads or None)
        md, th = settings.models_dir, config.threads

        def load(name: str):
            return load_zoo_model(name, md, th)

        embedder = build_embedder(config.embedder, md, th)
        return cls(
            short=BlazeFace(load("facemesh-detection-short")),
            full=BlazeFace(load("facemesh-detection-full")),
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
        names = ["human-facemesh-detection-short", "human-facemesh-detection-full", "human-facemesh",
                 *self.embedder.model_names]
        if self.iris is not None:
            names.append("human-iris")
        # Quality is not a model: QUALITY_METHODS names the landmark/pixel methods (docs/quality.md).
        return [*names, QUALITY_METHODS]

    # -- stages -----------------------------------------------------------------------------

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Both BlazeFace passes (and the tiles) on one downscaled copy of the image."""
        cfg = self.config
        h, w = image.shape[:2]
        tiled = cfg.tiles and max(h, w) >= cfg.tile_min_side
        # One area-averaged downscale serves every pass: long side 192 (whole-image pass), or 320 when
        # tiling, so that a 0.6 tile is 192 pixels, the full-range model's input, with no second resize.
        target = round(self.full.size / _TILE_FRACTION) if tiled else self.full.size
        scale = min(1.0, target / max(h, w))
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        dets = self.short.detect(small, cfg.min_detector_score)
        regions = [(0, 0, sw, sh)] + (_tiles(sw, sh) if tiled else [])
        dets += self.full.detect(small, cfg.min_detector_score, regions)
        if scale < 1.0:
            inv = 1.0 / scale
            dets = [Detection(box=d.box * inv, score=d.score, keypoints=d.keypoints * inv) for d in dets]
        merged = weighted_nms(dets, cfg.nms_iou)
        merged.sort(key=lambda d: d.size, reverse=True)
        return merged

    def landmarks(self, image: np.ndarray, dets: list[Detection]) -> list[tuple[Detection, MeshResult]]:
        rois = [roi_from_points(d.keypoints[0], d.keypoints[1], tuple(d.box)) for d in dets]
        meshes = self.mesh.run(image, rois)
        kept = [(d, m) for d, m in zip(dets, meshes, strict=True) if m.score >= self.config.min_mesh_score]
        if self.config.refine and kept:
            again = self.mesh.run(image, [roi_from_mesh(m.points) for _, m in kept])
            kept = [(d, m2 if m2.score >= self.config.min_mesh_score else m)
                    for (d, m), m2 in zip(kept, again, strict=True)]
        return _dedupe(kept)

    @staticmethod
    def face_points(faces_mesh: list[tuple[Detection, MeshResult]]) -> list[FacePoints]:
        """What the embedder aligns each face on: five points from the mesh (eye centres, nose tip,
        mouth corners) and the mesh itself."""
        return [FacePoints.from_mesh(m.points) for _, m in faces_mesh]

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
        for _, mesh in faces_mesh:
            pts = mesh.points
            x0, y0 = float(pts[:, 0].min()), float(pts[:, 1].min())
            x1, y1 = float(pts[:, 0].max()), float(pts[:, 1].max())
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


def _tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """A 2 x 2 grid of overlapping tiles (x0, y0, x1, y1), each 0.6 of the image on both axes.

    At the full-range model's 192-pixel input a tile shows faces at about 1.7x the scale of the whole
    image's pass: the second chance for small faces in group photos (docs/models.md).
    """
    tw, th = round(width * _TILE_FRACTION), round(height * _TILE_FRACTION)
    return [(x, y, x + tw, y + th) for y in (0, height - th) for x in (0, width - tw)]


def _dedupe(pairs: list[tuple[Detection, MeshResult]], overlap_max: float = 0.5) -> list[tuple[Detection, MeshResult]]:
    """Keep one face per person: drop a face whose mesh box lies more than ``overlap_max`` inside an
    already kept face's (intersection over the smaller box), keeping the higher mesh score first."""

    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
        return float(ix * iy / small) if small > 0 else 0.0

    def mbox(m: MeshResult) -> np.ndarray:
        p = m.points
        return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()], np.float32)

    kept: list[tuple[Detection, MeshResult]] = []
    for d, m in sorted(pairs, key=lambda dm: dm[1].score, reverse=True):
        if all(overlap(mbox(m), mbox(k)) <= overlap_max for _, k in kept):
            kept.append((d, m))
    kept.sort(key=lambda dm: float(np.ptp(dm[1].points[:, 0])), reverse=True)
    return kept
