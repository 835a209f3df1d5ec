"""Decode untrusted image bytes into an orientation-corrected RGB array, safely.

Limits are checked from the header before pixels are decoded (a 20000x20000 PNG costs nothing
to refuse), truncated files are errors rather than half-grey images, EXIF orientation is
applied, and every pixel format Pillow reads (RGBA, LA, P, 16-bit gray, CMYK, ...) becomes RGB.
"""

from __future__ import annotations

import binascii
import io
import re
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import pybase64
from PIL import Image, ImageOps, UnidentifiedImageError

from visage.errors import (
    EmptyImageError,
    ImageTooLargeError,
    ImageTooManyPixelsError,
    ImageTooSmallError,
    InvalidBase64Error,
    InvalidImageError,
)

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF"})

# We enforce our own pixel limit from the header; Pillow's global guard would only duplicate it.
Image.MAX_IMAGE_PIXELS = None

_DATA_URI = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """Bounds on what an image may cost us; defaults match :class:`visage.config.Settings`."""

    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 32


@dataclass(frozen=True, slots=True, eq=False)
class DecodedImage:
    """An RGB uint8 array (H x W x 3, C-contiguous) plus the source format."""

    rgb: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def decode_base64(text: str | bytes) -> bytes:
    """Decode base64 image text, with or without a ``data:image/...;base64,`` prefix.

    Whitespace and line breaks are ignored; URL-safe alphabet and missing padding are accepted
    (clients differ); anything else is an :class:`InvalidBase64Error`.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidBase64Error("image is not valid base64 text") from exc
    if text:
        # pybase64 (SIMD) rather than the standard library: 60x faster, 1.4 ms less per 270 KB photo on
        # every base64 JSON request. The common case, plain padded base64, skips the regex passes.
        try:
            return pybase64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass
    text = _WHITESPACE.sub("", text)
    text = _DATA_URI.sub("", text, count=1)
    if not text:
        raise EmptyImageError("image is empty")
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidBase64Error("image is not valid base64") from exc


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB uint8; 16-bit data is scaled, alpha composited on white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        if arr.dtype != np.uint16:
            # Mode "I" holds 16-bit PNG gray as int32 in practice; scale by the data's own range.
            arr = np.clip(arr, 0, 65535).astype(np.uint16) if arr.max(initial=0) > 255 else arr.astype(np.uint16) * 257
        gray = (arr >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        gray = np.zeros(arr.shape, np.uint8) if hi <= lo else ((arr - lo) / (hi - lo) * 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def load_image(data: bytes, limits: ImageLimits | None = None) -> DecodedImage:
    """Decode image bytes under ``limits``; raise a domain error naming what is wrong."""
    limits = limits or ImageLimits()
    if not data:
        raise EmptyImageError("image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(
            f"image is {len(data)} bytes; the limit is {limits.max_bytes}",
            size=len(data), limit=limits.max_bytes,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            fmt = (img.format or "").upper()
            if fmt not in SUPPORTED_FORMATS:
                raise InvalidImageError(f"unsupported image format {fmt or 'unknown'}; use JPEG, PNG, WebP, BMP or GIF")
            width, height = img.size
            if width * height > limits.max_pixels:
                raise ImageTooManyPixelsError(
                    f"image is {width}x{height} = {width * height} pixels; the limit is {limits.max_pixels}",
                    width=width, height=height, limit=limits.max_pixels,
                )
            if min(width, height) < limits.min_side:
                raise ImageTooSmallError(
                    f"image is {width}x{height}; the shorter side must be at least {limits.min_side} pixels",
                    width=width, height=height, limit=limits.min_side,
                )
            if fmt == "JPEG":
                img.draft("RGB", img.size)  # decode straight to RGB/YCbCr, no scaling
            img.load()
            ImageOps.exif_transpose(img, in_place=True)  # in place: the copy it makes otherwise is a third of decoding
            rgb = _to_rgb(img)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InvalidImageError("image data is not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise InvalidImageError("image data is corrupt or truncated") from exc  # no class names to clients
    return DecodedImage(rgb=rgb, format=fmt)

