"""Image decoding: every accepted form and every refusal, without any model."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from visage.errors import (
    EmptyImageError,
    ImageTooLargeError,
    ImageTooManyPixelsError,
    ImageTooSmallError,
    InvalidBase64Error,
    InvalidImageError,
)
from visage.imaging import ImageLimits, decode_base64, load_image


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(w: int = 64, h: int = 48) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w)[None, :]
    arr[..., 1] = np.linspace(0, 255, h)[:, None]
    arr[..., 2] = 77
    return Image.fromarray(arr)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A real 1-bit PNG of width x height zeros (400 MP, about 50 KB compressed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row * 1000) for _ in range(height // 1000)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF"])
def test_formats_decode_to_rgb(fmt: str) -> None:
    out = load_image(encode(gradient(), fmt))
    assert out.rgb.shape == (48, 64, 3) and out.rgb.dtype == np.uint8
    assert out.format == fmt


def test_gif_uses_first_frame() -> None:
    red, blue = Image.new("RGB", (40, 40), (255, 0, 0)), Image.new("RGB", (40, 40), (0, 0, 255))
    data = encode(red, "GIF", save_all=True, append_images=[blue])
    rgb = load_image(data).rgb
    assert rgb[..., 0].mean() > 200 and rgb[..., 2].mean() < 50


def test_sixteen_bit_gray_png_is_scaled_not_clipped() -> None:
    arr = np.full((40, 40), 32768, np.uint16)
    rgb = load_image(encode(Image.fromarray(arr), "PNG")).rgb
    assert 120 <= int(rgb.mean()) <= 135  # mid-grey, not saturated white


def test_gray_and_palette_png() -> None:
    assert load_image(encode(gradient().convert("L"), "PNG")).rgb.shape == (48, 64, 3)
    assert load_image(encode(gradient().convert("P"), "PNG")).rgb.shape == (48, 64, 3)


def test_rgba_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    rgb = load_image(encode(rgba, "PNG")).rgb
    assert rgb.min() == 255


def test_rgba_fixture(faces_dir) -> None:
    out = load_image((faces_dir / "32bit.png").read_bytes())
    assert out.rgb.shape[2] == 3


def test_exif_orientation_applied() -> None:
    img = gradient(80, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = load_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert (out.width, out.height) == (40, 80)


def test_base64_forms() -> None:
    raw = encode(gradient(), "PNG")
    text = base64.b64encode(raw).decode()
    assert decode_base64(text) == raw
    assert decode_base64("data:image/png;base64," + text) == raw
    assert decode_base64(text[:40] + "\n" + text[40:]) == raw
    assert decode_base64(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw


@pytest.mark.parametrize("bad", ["not base64!!", "abc$def", "data:image/png;base64,%%%"])
def test_invalid_base64(bad: str) -> None:
    with pytest.raises(InvalidBase64Error):
        decode_base64(bad)


def test_empty_inputs() -> None:
    with pytest.raises(EmptyImageError):
        load_image(b"")
    with pytest.raises(EmptyImageError):
        decode_base64("   ")


def test_truncated_jpeg_is_an_error() -> None:
    data = encode(gradient(400, 300), "JPEG", quality=95)
    with pytest.raises(InvalidImageError):
        load_image(data[: len(data) // 2])


def test_garbage_and_unsupported_format() -> None:
    with pytest.raises(InvalidImageError):
        load_image(b"hello world, not an image")
    with pytest.raises(InvalidImageError, match="unsupported image format TIFF"):
        load_image(encode(gradient(), "TIFF"))


def test_png_bomb_refused_from_header_without_decoding() -> None:
    bomb = png_bomb()
    assert len(bomb) < 200_000
    with pytest.raises(ImageTooManyPixelsError):
        load_image(bomb)


def test_byte_and_size_limits() -> None:
    data = encode(gradient(), "PNG")
    with pytest.raises(ImageTooLargeError):
        load_image(data, ImageLimits(max_bytes=len(data) - 1))
    with pytest.raises(ImageTooSmallError):
        load_image(encode(gradient(20, 100), "PNG"))
