"""MediaPipe Face Mesh (468 points) and Iris on onnxruntime, batched over the faces of an image.

Geometry: a face's region of interest is a square, rotated so the eyes are level, centred on the
detector box and 1.5x its size (MediaPipe's convention). One affine warp per face cuts that square
out at the model's input size (192), the crops run as one batch, and the mesh comes back into image
pixels through the inverse warp. z is in the same pixel scale as x (relative depth, larger = farther).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from visage.models.zoo import ZooModel


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated square in image pixels: centre, side length, rotation (radians, eye line angle)."""

    cx: float
    cy: float
    side: float
    angle: float

    def affine(self, size: int) -> np.ndarray:
        """2x3 matrix mapping image pixels into a ``size`` x ``size`` upright crop of this square."""
        s = size / self.side
        c, si = math.cos(self.angle), math.sin(self.angle)
        a = s * np.array([[c, si], [-si, c]], np.float64)  # rotate by -angle, then scale
        t = np.array([size / 2.0, size / 2.0]) - a @ np.array([self.cx, self.cy])
        return np.hstack([a, t[:, None]])


def roi_from_points(right_eye: np.ndarray, left_eye: np.ndarray, box: tuple[float, float, float, float],
                    scale: float = 1.5) -> Roi:
    """ROI for a face box (x0, y0, x1, y1) with the eye line from the subject's right to left eye."""
    dx, dy = float(left_eye[0] - right_eye[0]), float(left_eye[1] - right_eye[1])
    angle = math.atan2(dy, dx)
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * scale
    return Roi(cx=(x0 + x1) / 2.0, cy=(y0 + y1) / 2.0, side=side, angle=angle)


def warp_crops(image: np.ndarray, rois: list[Roi], size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """uint8 crops (N x size x size x 3) and their affine matrices."""
    crops = np.empty((len(rois), size, size, 3), np.uint8)
    mats = []
    for i, roi in enumerate(rois):
        m = roi.affine(size)
        cv2.warpAffine(image, m, (size, size), dst=crops[i], flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        mats.append(m)
    return crops, mats


def unwarp(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Map crop coordinates (N x 2 or N x 3, z scaled like x) back to image pixels."""
    a = m[:, :2]
    inv = np.linalg.inv(a)
    xy = (points[:, :2] - m[:, 2]) @ inv.T
    if points.shape[1] == 2:
        return xy
    z = points[:, 2:3] / math.sqrt(abs(np.linalg.det(a)))
    return np.hstack([xy, z])


@dataclass(frozen=True, slots=True, eq=False)
class MeshResult:
    points: np.ndarray   # 468 x 3, image pixels (z relative)
    score: float         # face presence probability from the model
    roi: Roi


class FaceMesh:
    """The ``facemesh`` model (192x192 input in [0, 1]; outputs 468x3 points and a face flag)."""

    def __init__(self, model: ZooModel) -> None:
        self.model = model
        self.size = model.input_size[0]
        names = list(model.outputs)
        sig = {"mesh": "Identity_2", "flag": "Identity_1"}
        if not all(v in names for v in sig.values()):
            raise ValueError(f"unexpected facemesh outputs {names}")
        self._outputs = [model.outputs[sig["mesh"]], model.outputs[sig["flag"]]]

    def run(self, image: np.ndarray, rois: list[Roi]) -> list[MeshResult]:
        if not rois:
            return []
        crops, mats = warp_crops(image, rois, self.size)
        batch = crops.astype(np.float32) * (1.0 / 255.0)
        mesh, flag = self.model.session.run(self._outputs, {self.model.input_name: batch})
        out = []
        for i, roi in enumerate(rois):
            pts = unwarp(mesh[i].reshape(-1, 3).astype(np.float64), mats[i]).astype(np.float32)
            out.append(MeshResult(points=pts, score=float(flag[i].reshape(-1)[0]), roi=roi))
        return out


def roi_from_mesh(points: np.ndarray, scale: float = 1.5) -> Roi:
    """ROI refined from a mesh: eye line from the outer eye corners, square around the mesh bounds."""
    right_eye, left_eye = points[33, :2], points[263, :2]
    angle = math.atan2(float(left_eye[1] - right_eye[1]), float(left_eye[0] - right_eye[0]))
    # Bounds in the rotated frame, so the square fits the face and not its rotated bounding box.
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s], [-s, c]])
    local = points[:, :2] @ rot.T
    lo, hi = local.min(axis=0), local.max(axis=0)
    centre_local = (lo + hi) / 2.0
    cx, cy = rot.T @ centre_local
    side = float(max(hi - lo)) * scale
    return Roi(cx=float(cx), cy=float(cy), side=side, angle=angle)


class Iris:
    """The ``iris`` model: 64x64 eye crop in [0, 1] -> 71 eye-contour points and 5 iris points.

    The left eye is run mirrored (the model is trained on right eyes), as MediaPipe does.
    """

    def __init__(self, model: ZooModel) -> None:
        self.model = model
        self.size = model.input_size[0]

    def crops(self, image: np.ndarray, meshes: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """uint8 eye crops (2 per face, image-left eye first, the other mirrored) and their warps."""
        rois = []
        for pts in meshes:
            for a, b in ((33, 133), (362, 263)):  # subject's right eye corners, then left eye
                p, q = pts[a, :2], pts[b, :2]
                angle = math.atan2(float(q[1] - p[1]), float(q[0] - p[0]))
                width = float(np.hypot(*(q - p)))
                rois.append(Roi(cx=float((p[0] + q[0]) / 2), cy=float((p[1] + q[1]) / 2), side=width * 2.3,
                                angle=angle))
        crops, mats = warp_crops(image, rois, self.size)
        crops[1::2] = crops[1::2, :, ::-1]  # mirror the subject's left eyes
        return crops, mats

    def run(self, image: np.ndarray, meshes: list[np.ndarray]) -> list[np.ndarray]:
        """Per face, 10 x 2 iris points in image pixels: image-left iris (centre + 4), then the other."""
        if not meshes:
            return []
        crops, mats = self.crops(image, meshes)
        out = self.model.run(crops.astype(np.float32) * (1.0 / 255.0))[0].reshape(len(crops), -1)
        results = []
        for f in range(len(meshes)):
            both = []
            for e in (0, 1):
                k = 2 * f + e
                iris = out[k, 213:228].reshape(5, 3)[:, :2].astype(np.float64)
                if e == 1:
                    iris[:, 0] = self.size - iris[:, 0]
                both.append(unwarp(iris, mats[k]))
            results.append(np.vstack(both).astype(np.float32))
        return results
