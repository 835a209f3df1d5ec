"""Hostile and broken inputs shared by the dialect contract tests."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png_bomb_header(width: int = 20000, height: int = 20000) -> bytes:
    """A small valid PNG whose IHDR claims ``width`` x ``height`` (a decompression bomb's header)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8), 0).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    # IHDR chunk: length(4) 'IHDR'(4) width(4) height(4) ... crc(4), starting at byte 8.
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    return bytes(data)


def truncated(jpeg: bytes, keep: float = 0.5) -> bytes:
    return jpeg[: int(len(jpeg) * keep)]
