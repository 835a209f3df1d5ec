"""A face warped to a fixed frame from its Face Mesh (eyes level, 36 px apart), for pixel methods.

The glasses-frame and beard measures read small boxes placed at mesh points in this frame, and
divide every quantity by the same quantity on the cheeks of the same face, so they keep their
meaning across resolutions, exposure and skin tones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 112
EYE_DISTANCE = 36.0
_LEFT_EYE_AT = np.array([38.0, 48.0])  # image-left eye centre in the frame
MESH_CHEEKS = (50, 280)


@dataclass(frozen=True, slots=True, eq=False)
class AlignedFace:
    grey: np.ndarray      # SIZE x SIZE float32, 0..255
    ycrcb: np.ndarray     # SIZE x SIZE x 3 float32
    points: np.ndarray    # the mesh in frame coordinates (468 x 2)

    def box(self, centre: np.ndarray, width: float, height: float) -> tuple[slice, slice]:
        """Rows/columns of a box centred on ``centre`` (frame pixels), at least one pixel, clipped."""
        w, h = max(round(float(width)), 1), max(round(float(height)), 1)
        x0 = min(max(round(float(centre[0]) - w / 2), 0), SIZE - 1)
        y0 = min(max(round(float(centre[1]) - h / 2), 0), SIZE - 1)
        return slice(y0, min(y0 + h, SIZE)), slice(x0, min(x0 + w, SIZE))

    def cheek_values(self, values: np.ndarray, side: float = 9.0) -> np.ndarray:
        """``values`` (a SIZE x SIZE map) under both cheek boxes, flattened."""
        return np.concatenate([values[self.box(self.points[i], side, side)].ravel() for i in MESH_CHEEKS])


def align_face(image: np.ndarray, mesh: np.ndarray) -> AlignedFace:
    """Similarity warp of the RGB ``image`` putting the mesh's eye centres at fixed frame points."""
    m = np.asarray(mesh, np.float64)[:, :2]
    left, right = m[[33, 133]].mean(axis=0), m[[362, 263]].mean(axis=0)
    d = right - left
    scale = EYE_DISTANCE / max(float(np.hypot(*d)), 1e-6)
    angle = math.atan2(float(d[1]), float(d[0]))
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    a = np.array([[c, s], [-s, c]])  # rotate by -angle, then scale
    t = _LEFT_EYE_AT - a @ left
    warp = np.hstack([a, t[:, None]])
    rgb = cv2.warpAffine(image, warp, (SIZE, SIZE), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    return AlignedFace(grey=grey, ycrcb=ycrcb, points=m @ a.T + t)
