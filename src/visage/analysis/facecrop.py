"""A face resampled to a fixed scale, with the masks the pixel measures share.

Pixel measures (brightness, sharpness, occlusion, illumination evenness, background) must be
comparable across image resolutions, so each face is resampled so that its eye-to-mouth distance
is :data:`EYE_MOUTH_PX` pixels, in a square of :data:`CROP_SIZE` pixels centred between eyes and
mouth. Downscaling uses area averaging (``INTER_AREA``); faces smaller than the canonical size
are upscaled bilinearly, so they honestly score as less sharp: they hold less detail.
Pixels of the crop that fall outside the source image are flagged in ``inside``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from visage.analysis.regions import FaceRegions

EYE_MOUTH_PX = 48.0
CROP_SIZE = 160


@dataclass(frozen=True, slots=True, eq=False)
class FaceCrop:
    """The canonical crop: ``rgb``/``luma`` (uint8 / float32), ``inside`` (bool), and the mapping
    ``crop = (image - origin) * scale``."""

    rgb: np.ndarray
    luma: np.ndarray
    inside: np.ndarray
    origin: np.ndarray
    scale: float

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.origin) * self.scale

    def polygon_mask(self, points: np.ndarray, hull: bool = True) -> np.ndarray:
        """Boolean mask of a polygon given in IMAGE pixels (convex hull unless ``hull=False``)."""
        pts = self.to_crop(points).astype(np.float32)
        if hull:
            pts = cv2.convexHull(pts).reshape(-1, 2)
        mask = np.zeros(self.luma.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        return mask.astype(bool)


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma (what JPEG stores), float32 in 0..255."""
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def face_crop(image: np.ndarray, regions: FaceRegions) -> FaceCrop:
    """Cut and resample the face of ``regions`` from the RGB ``image`` (see module docstring)."""
    height, width = image.shape[:2]
    scale = EYE_MOUTH_PX / max(regions.eye_mouth_distance, 1.0)
    eyes_mid = (regions.left_eye_center + regions.right_eye_center) / 2.0
    center = (eyes_mid + regions.mouth_center) / 2.0
    half = CROP_SIZE / 2.0 / scale  # half side in image pixels
    side = max(int(np.ceil(2.0 * half)), 1)
    x0, y0 = int(np.floor(center[0] - half)), int(np.floor(center[1] - half))
    x1, y1 = x0 + side, y0 + side
    # Pad the source so the window is always whole; track which pixels are real.
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x1 - width), max(0, y1 - height)
    src = image[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    valid = np.ones(src.shape[:2], np.uint8)
    if pad_l or pad_t or pad_r or pad_b:
        src = cv2.copyMakeBorder(src, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
        valid = cv2.copyMakeBorder(valid, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_CONSTANT, value=0)
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    size = (CROP_SIZE, CROP_SIZE)
    rgb = cv2.resize(np.ascontiguousarray(src), size, interpolation=interp)
    inside = cv2.resize(valid * 255, size, interpolation=cv2.INTER_AREA) > 250
    actual_scale = CROP_SIZE / float(side)  # the window is whole pixels: a little wider than 2*half
    return FaceCrop(rgb=rgb, luma=luma_of(rgb), inside=inside, origin=np.array([x0, y0], np.float64),
                    scale=actual_scale)
