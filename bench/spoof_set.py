"""A presentation-attack test set built from real photos by re-photographing-style transforms.

No real spoof photos (a face on a screen, a printed photo) are available here, so each real photo
is turned into simulated recaptures, deterministic per seed:

* ``screen``: the photo shown on a display inside a dark bezel and some background, resampled through
  a sub-pixel RGB stripe pattern (moire when re-sampled), gamma/contrast of a display, a colour cast,
  slight perspective, sensor noise and a JPEG recompression.
* ``print``: paper white border, reduced dynamic range and saturation, halftone dot screen, a warm
  colour cast, blur, noise, JPEG recompression.
* ``moire``: only the interference of a screen pixel grid with the camera grid (sinusoidal beat
  pattern) and a JPEG recompression: the mildest attack.
* ``jpeg``: three rounds of JPEG recompression at quality 35..50 and a downscale/upscale: a control
  that is NOT a spoof cue by itself (recorded as its own row so the numbers show what the models react to).

These are simulations: they say how the models react to those artefacts, not how they perform on
real presentation attacks (docs/attributes.md).
"""

from __future__ import annotations

import cv2
import numpy as np

ATTACKS = ("screen", "print", "moire")


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()


def _moire(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(3.0, 9.0)
    wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    wave2 = np.sin((xx * np.cos(angle + 0.1) + yy * np.sin(angle + 0.1)) * 2 * np.pi / (period * 1.07))
    pattern = (wave * wave2)[..., None]
    out = img.astype(np.float32) * (1.0 + strength * pattern)
    return np.clip(out, 0, 255).astype(np.uint8)


def _cast(img: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    return np.clip(img.astype(np.float32) * np.array(gains, np.float32), 0, 255).astype(np.uint8)


def _noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _frame(img: np.ndarray, rng: np.random.Generator, border: float, colour: tuple[int, int, int],
           background: tuple[int, int, int]) -> np.ndarray:
    """The photo inside a border (bezel or paper), inside some background, slightly tilted."""
    h, w = img.shape[:2]
    b = round(border * max(h, w))
    framed = cv2.copyMakeBorder(img, b, b, b, b, cv2.BORDER_CONSTANT, value=colour)
    m = round(0.08 * max(h, w))
    canvas = cv2.copyMakeBorder(framed, m, m, m, m, cv2.BORDER_CONSTANT, value=background)
    ch, cw = canvas.shape[:2]
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    j = 0.03 * min(ch, cw)
    dst = (src + rng.uniform(-j, j, src.shape)).astype(np.float32)
    warp = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(canvas, warp, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)


def screen(img: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    # Display sub-pixels: each pixel column lit through R, G, B stripes, then the camera resamples.
    up = cv2.resize(img, (w * 3, h * 3), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    stripes = np.zeros((1, w * 3, 3), np.float32)
    for c in range(3):
        stripes[0, c::3, c] = 1.0
    up = up * (0.35 + 0.65 * stripes)
    shown = cv2.resize(up.clip(0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA)
    shown = np.clip(255.0 * (shown / 255.0) ** rng.uniform(0.8, 1.2) * 1.25, 0, 255).astype(np.uint8)
    shown = _moire(shown, rng, rng.uniform(0.08, 0.18))
    shown = _cast(shown, (rng.uniform(0.85, 0.95), rng.uniform(0.95, 1.05), rng.uniform(1.05, 1.2)))
    shown = _frame(shown, rng, 0.03, (12, 12, 12), tuple(int(v) for v in rng.integers(40, 200, 3)))
    shown = cv2.GaussianBlur(shown, (0, 0), rng.uniform(0.6, 1.2))
    return _jpeg(_noise(shown, rng, 3.0), int(rng.integers(60, 85)))


def printed(img: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    x = img.astype(np.float32)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.6, 0.8)              # ink saturation
    x = 30 + x * (200 / 255.0)                                 # paper black and white points
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(2.5, 4.0)
    dots = (np.sin(xx * 2 * np.pi / period) * np.sin(yy * 2 * np.pi / period))[..., None]
    x = x * (1.0 + 0.12 * dots)                                # halftone screen
    out = _cast(np.clip(x, 0, 255).astype(np.uint8), (1.05, 1.0, rng.uniform(0.8, 0.9)))
    out = _frame(out, rng, 0.05, (235, 232, 220), tuple(int(v) for v in rng.integers(60, 180, 3)))
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 1.5))
    return _jpeg(_noise(out, rng, 4.0), int(rng.integers(60, 85)))


def moire(img: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _jpeg(_moire(img, rng, rng.uniform(0.1, 0.2)), 80)


def jpeg_only(img: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    out = cv2.resize(img, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    for _ in range(3):
        out = _jpeg(out, int(rng.integers(35, 51)))
    return out


TRANSFORMS = {"screen": screen, "print": printed, "moire": moire, "jpeg": jpeg_only}
