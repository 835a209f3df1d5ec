"""Five-point face alignment onto the standard 112x112 ArcFace template.

Every ArcFace-class recognizer (InsightFace, MobileFaceNet, faceplugin's fr_feature) was trained on
crops made the same way: a least-squares similarity transform (rotation, uniform scale, translation;
no shear) maps five facial points onto fixed positions in a 112x112 image. Feeding a model crops made
any other way (a box crop, a 3-point affine) costs it 2 to 8 LFW points (issue 11), so the transform
lives here, once, for every embedder.

Point order (the detectors' :data:`visage.analysis.detectors.base.POINTS5` order): image-left eye,
image-right eye, nose tip, image-left mouth corner, image-right mouth corner, in image pixels of an
upright face. For a frontal face the image-left eye is the subject's right eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# ArcFace reference points in a 112x112 crop, in POINTS5 order (InsightFace's ``arcface_dst``).
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], np.float64)

# Face Mesh indices: image-left eye ring, image-right eye ring (means give eye centres), nose tip,
# image-left and image-right mouth corners.
MESH_LEFT_EYE_RING = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
MESH_RIGHT_EYE_RING = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
MESH_NOSE_TIP = 1
MESH_MOUTH_LEFT, MESH_MOUTH_RIGHT = 61, 291


@dataclass(frozen=True, eq=False)
class FacePoints:
    """What an embedder may align a face on: five points (5 x 2, POINTS5 order) and, where the
    pipeline ran it, the 468-point mesh (N x 2 or N x 3) that mesh-based embedders use."""

    points5: np.ndarray
    mesh: np.ndarray | None = None

    @classmethod
    def from_mesh(cls, mesh: np.ndarray) -> FacePoints:
        return cls(points5=mesh_five_points(mesh), mesh=mesh)


def mesh_five_points(mesh: np.ndarray) -> np.ndarray:
    """The five alignment points (5 x 2, POINTS5 order) from a 468-point Face Mesh."""
    return np.array([
        mesh[list(MESH_LEFT_EYE_RING), :2].mean(axis=0),
        mesh[list(MESH_RIGHT_EYE_RING), :2].mean(axis=0),
        mesh[MESH_NOSE_TIP, :2],
        mesh[MESH_MOUTH_LEFT, :2],
        mesh[MESH_MOUTH_RIGHT, :2],
    ], np.float64)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama 1991) mapping ``src`` points onto ``dst``: a 2x3 matrix.

    Reflections are excluded (a mirrored face is not the same face to a recognizer).
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    var_s = (s ** 2).sum() / len(src)
    if var_s <= 0:
        raise ValueError("alignment points are all the same point")
    scale = (sig * sign).sum() / var_s
    a = scale * rot
    t = mu_d - a @ mu_s
    return np.hstack([a, t[:, None]])


def template_points(size: int = 112, zoom_out: float = 1.0) -> np.ndarray:
    """The ArcFace reference points for a ``size`` x ``size`` crop, zoomed out about the centre."""
    return ((ARCFACE_112 - 56.0) / zoom_out + 56.0) * (size / 112.0)


def align_crops(image: np.ndarray, faces: Sequence[FacePoints] | Sequence[np.ndarray], size: int = 112,
                zoom_out: float = 1.0) -> np.ndarray:
    """Aligned uint8 crops (N x size x size x 3) of ``image`` for each face's five points.

    Bilinear sampling; pixels outside the image are black (what the recognizers saw in training,
    where InsightFace's ``norm_crop`` pads with zeros).
    """
    ref = template_points(size, zoom_out)
    crops = np.empty((len(faces), size, size, 3), np.uint8)
    for i, face in enumerate(faces):
        pts = face.points5 if isinstance(face, FacePoints) else face
        m = similarity_transform(np.asarray(pts, np.float64)[:, :2], ref)
        cv2.warpAffine(image, m, (size, size), dst=crops[i], flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crops
