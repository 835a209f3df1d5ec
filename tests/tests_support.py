"""Small image builders shared by tests."""

from __future__ import annotations

import io

from PIL import Image


def flat_png(size: int = 200, value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (value, value, value)).save(buf, "PNG")
    return buf.getvalue()
