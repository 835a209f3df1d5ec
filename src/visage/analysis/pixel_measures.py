"""Pixel statistics on a face crop: each function one published or plainly stated method.

They take luma arrays and boolean masks and return plain floats, so they are testable on
synthetic arrays and reusable by any pipeline. Scale constants that turn a raw statistic into a
score are named here and documented (with what was measured) in docs/quality.md.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def masked_mean(values: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean of ``values`` under ``mask``; None when the mask is empty."""
    return float(values[mask].mean()) if mask.any() else None


def laplacian_std(luma: np.ndarray, mask: np.ndarray) -> float:
    """Standard deviation of the 3x3 Laplacian under ``mask`` (grey levels).

    The classic variance-of-Laplacian focus measure (Pech-Pacheco et al. 2000), as a std so it
    is in grey levels. Only meaningful on a crop of fixed face scale (see ``facecrop``).
    """
    lap = cv2.Laplacian(luma.astype(np.float32), cv2.CV_32F, ksize=3)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return float(lap[inner].std()) if inner.sum() > 16 else 0.0


def crete_blur(luma: np.ndarray, mask: np.ndarray) -> float:
    """No-reference blur in [0, 1] (Crété-Roffet et al., "The blur effect", SPIE 2007).

    The image is re-blurred with a 9-tap box filter along each axis; the less the neighbour
    differences drop, the blurrier the image already was. 0 is sharp, 1 is fully blurred. It
    is a ratio, so it does not depend on contrast or brightness.
    """
    f = luma.astype(np.float32)
    scores = []
    for axis, ksize in ((0, (1, 9)), (1, (9, 1))):
        b = cv2.blur(f, ksize)
        d_f = np.abs(np.diff(f, axis=axis))
        d_b = np.abs(np.diff(b, axis=axis))
        m = mask[1:, :] & mask[:-1, :] if axis == 0 else mask[:, 1:] & mask[:, :-1]
        # Leave out the filter's reach from the mask edge, where the box filter sees outside pixels.
        m = cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        s_f = float(d_f[m].sum())
        if s_f <= 1e-6:
            scores.append(1.0)
            continue
        s_v = float(np.maximum(0.0, d_f - d_b)[m].sum())
        scores.append((s_f - s_v) / s_f)
    return float(min(1.0, max(0.0, max(scores))))


_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def noise_sigma(luma: np.ndarray, mask: np.ndarray) -> float:
    """Gaussian noise std estimate in grey levels (Immerkær, CVIU 1996, with edge exclusion).

    Convolve with the difference of two Laplacians (zero response to linear ramps); on smooth
    pixels the mean absolute response times sqrt(pi/2)/6 estimates sigma. Edges are excluded
    (Tai & Yang 2008): only pixels whose Sobel magnitude is in the lowest half are used, so
    facial features do not count as noise. Run it at the image's native resolution: resampling
    averages noise away.
    """
    f = luma.astype(np.float32)
    resp = np.abs(cv2.filter2D(f, cv2.CV_32F, _NOISE_KERNEL))
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1)
    mag = np.hypot(gx, gy)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if inner.sum() < 64:
        return 0.0
    smooth = inner & (mag <= np.percentile(mag[inner], 50))
    return float(resp[smooth].mean() * math.sqrt(math.pi / 2.0) / 6.0)


def span_bits(luma: np.ndarray, mask: np.ndarray, tail: float = 0.5) -> float:
    """Intensity span of the masked pixels in bits: log2 of (p[100-tail] - p[tail] + 1).

    ISO/IEC 19794-5 asks the face region to span at least 7 bits (128 levels); ``tail`` percent
    is trimmed at each end so a few specular or black pixels do not fake a wide range.
    """
    if not mask.any():
        return 0.0
    lo, hi = np.percentile(luma[mask], [tail, 100.0 - tail])
    return float(math.log2(max(hi - lo, 0.0) + 1.0))


def mean_gradient(luma: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean Sobel gradient magnitude (grey levels per pixel) under ``mask``; None if empty."""
    if not mask.any():
        return None
    f = luma.astype(np.float32)
    mag = np.hypot(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1)) / 8.0
    return float(mag[mask].mean())
