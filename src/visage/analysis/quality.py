"""Per-face quality: geometry from landmarks, appearance from pixels. No model is involved.

Every field, its range, method and what was measured of it is in docs/quality.md. Entry point:
:func:`assess_faces` (used by every pipeline) computes the dict for each face of one image and
reports milliseconds per measure, so a caller sees what each attribute costs.

Field summary (``left``/``right`` are the image's sides, see ``regions``):
* ``illumination`` 0..255: mean BT.601 luma of the face region (landmark outline hull);
  ``brightness`` 0..100 is the same number rescaled (Rekognition's range); seed 000's [-1, 1]
  brightness is :func:`senseid_brightness`.
* ``sharpness`` 0..100 from the Laplacian std on the canonical crop; ``blur`` 0..1 Crété-Roffet.
* ``noise``: estimated Gaussian noise std, grey levels, native resolution.
* ``integrity`` 0..1, ``completeness`` 0/1, ``size`` 0..1, ``distance2center`` 0..1: seed 000.
* ``mouth_open`` 0..1 with seed 001's direction (1 = closed); ``mouth_open_ratio`` raw.
* ``left_eye_aspect_ratio``/``right_eye_aspect_ratio``: Soukupová & Čech's EAR.
* ``occlusion``: per-part visible fraction (``occlusion`` module).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from visage.analysis import pixel_measures as pm
from visage.analysis.facecrop import FaceCrop, face_crop, luma_of
from visage.analysis.occlusion import occlusion_scores
from visage.analysis.regions import FaceRegions, regions_from_landmarks
from visage.types import Box, Landmarks, Pose

# The name responses list among their models for the quality fields: methods, not a trained model.
QUALITY_METHODS = "visage_quality_v1"
SHARPNESS_SCALE = 40.0  # Laplacian std (grey levels) that maps to sharpness 63.2 (= 100 * (1 - 1/e))


@dataclass(frozen=True, slots=True)
class FaceInput:
    """What the quality measures need of one face: pipelines build these from their own results."""

    box: Box
    landmarks: Landmarks
    pose: Pose | None = None


def senseid_brightness(illumination: float) -> float:
    """Seed 000's brightness in [-1, 1] from mean luma 0..255 (linear: 0 -> -1, 255 -> 1)."""
    return round(illumination / 127.5 - 1.0, 4)


def rekognition_brightness(illumination: float) -> float:
    """Rekognition's Brightness 0..100 from mean luma 0..255 (linear)."""
    return round(illumination / 2.55, 2)


def _image_rect(width: int, height: int) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)


def _hull(points: np.ndarray) -> np.ndarray:
    return cv2.convexHull(np.asarray(points, np.float32)).reshape(-1, 2)


def inside_area(polygon: np.ndarray, width: int, height: int) -> float:
    """Area of a convex polygon's part inside the image."""
    area, _ = cv2.intersectConvexConvex(np.asarray(polygon, np.float32), _image_rect(width, height))
    return max(float(area), 0.0)


def polygon_centroid(polygon: np.ndarray) -> np.ndarray:
    m = cv2.moments(np.asarray(polygon, np.float32))
    if abs(m["m00"]) < 1e-9:
        return np.asarray(polygon, np.float64).mean(axis=0)
    return np.array([m["m10"] / m["m00"], m["m01"] / m["m00"]])


def geometry(regions: FaceRegions, box: Box, width: int, height: int) -> dict[str, float]:
    """Seed 000's integrity, size and distance2center, and Qiniu's 0/1 completeness.

    The "five features" area is the convex hull of the eyebrow, eye, nose and mouth landmarks
    (ears are not landmarked). Landmark predictors pull the points of a cut-off side back towards
    the border (measured on the fixtures: dlib's hull is 0.98 and 0.97 inside the two
    ``obama_partial_face`` crops whose true faces are 0.87 and 0.79 inside), so integrity takes
    the smaller of the hull's and the detector box's inside fractions.
    """
    hull = _hull(regions.features)
    full = cv2.contourArea(hull)
    in_image = inside_area(hull, width, height)
    hull_fraction = in_image / full if full > 0 else 0.0
    box_fraction = box.clipped(width, height).area / box.area if box.area > 0 else 0.0
    integrity = min(1.0, hull_fraction, box_fraction)
    center = polygon_centroid(hull)
    offset = float(np.linalg.norm(center - np.array([width / 2.0, height / 2.0])))
    return {
        "integrity": round(integrity, 4),
        "completeness": 1 if integrity >= 0.999 else 0,
        "size": round(in_image / float(width * height), 6),
        "distance2center": round(max(1.0 - offset / min(width, height), 0.0), 4),
    }


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """(|p1-p5| + |p2-p4|) / (2 |p0-p3|): ~0.3 open, near 0 closed (Soukupová & Čech 2016)."""
    width = float(np.linalg.norm(eye[0] - eye[3]))
    if width <= 1e-6:
        return 0.0
    return (float(np.linalg.norm(eye[1] - eye[5])) + float(np.linalg.norm(eye[2] - eye[4]))) / (2.0 * width)


def mouth_open_ratio(regions: FaceRegions) -> float:
    """Mean inner-lip gap over the mouth width: 0 closed, about 1 for a wide-open mouth."""
    inner = regions.mouth_inner
    gap = np.mean([np.linalg.norm(inner[i] - inner[8 - i]) for i in (1, 2, 3)])
    outer = regions.mouth_outer
    width = float(np.linalg.norm(outer[0] - outer[len(outer) // 2]))
    return float(gap) / width if width > 1e-6 else 0.0


def landmark_measures(regions: FaceRegions) -> dict[str, float]:
    """Mouth opening (seed 001's direction: 1 = closed) and both eye aspect ratios."""
    ratio = mouth_open_ratio(regions)
    return {
        "mouth_open": round(1.0 - min(1.0, ratio), 4),
        "mouth_open_ratio": round(ratio, 4),
        "left_eye_aspect_ratio": round(eye_aspect_ratio(regions.left_eye), 4),
        "right_eye_aspect_ratio": round(eye_aspect_ratio(regions.right_eye), 4),
    }


def appearance(crop: FaceCrop, regions: FaceRegions) -> dict[str, float]:
    """Illumination, brightness, sharpness and blur on the canonical crop."""
    face = crop.polygon_mask(regions.outline) & crop.inside
    features = crop.polygon_mask(regions.features) & crop.inside
    illumination = pm.masked_mean(crop.luma, face) or 0.0
    lap = pm.laplacian_std(crop.luma, features)
    return {
        "illumination": round(illumination, 2),
        "brightness": rekognition_brightness(illumination),
        "sharpness": round(100.0 * (1.0 - math.exp(-lap / SHARPNESS_SCALE)), 2),
        "blur": round(pm.crete_blur(crop.luma, features), 4),
    }


def native_noise(image: np.ndarray, regions: FaceRegions) -> float:
    """Noise sigma on the face region at the image's own resolution (see ``noise_sigma``)."""
    height, width = image.shape[:2]
    pts = regions.outline
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    luma = luma_of(image[y0:y1, x0:x1])
    mask = np.zeros(luma.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(_hull(pts - [x0, y0])).astype(np.int32), 1)
    return round(pm.noise_sigma(luma, mask.astype(bool)), 3)


class Timer:
    """Accumulates milliseconds per named measure across the faces of one image."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def add(self, name: str, started: float) -> float:
        now = time.perf_counter()
        self.ms[name] = self.ms.get(name, 0.0) + (now - started) * 1000.0
        return now


def assess_faces(image: np.ndarray, faces: Sequence[FaceInput], icao: bool = False,
                 timer: Timer | None = None) -> list[dict[str, object]]:
    """Quality dict of each face (and its ICAO-style block when ``icao``), same order as ``faces``.

    ``image`` is the full-resolution RGB uint8 array the landmarks refer to.
    """
    from visage.analysis.icao import icao_assessment  # local: icao builds on this module

    timer = timer or Timer()
    height, width = image.shape[:2]
    results: list[dict[str, object]] = []
    for face in faces:
        t = time.perf_counter()
        regions = regions_from_landmarks(face.landmarks)
        quality: dict[str, object] = dict(geometry(regions, face.box, width, height))
        quality.update(landmark_measures(regions))
        t = timer.add("quality.geometry", t)
        crop = face_crop(image, regions)
        t = timer.add("quality.crop", t)
        quality.update(appearance(crop, regions))
        t = timer.add("quality.appearance", t)
        quality["noise"] = native_noise(image, regions)
        t = timer.add("quality.noise", t)
        quality["occlusion"] = occlusion_scores(crop, regions)
        t = timer.add("quality.occlusion", t)
        if icao:
            quality["icao"] = icao_assessment(crop, regions, quality, face.pose, face.box, width, height)
            timer.add("quality.icao", t)
        results.append(quality)
    return results
