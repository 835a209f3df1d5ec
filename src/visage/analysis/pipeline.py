"""The pipeline contract: every model family composes behind one ``analyze`` call.

A pipeline takes an RGB uint8 array and per-request :class:`AnalyzeOptions` and returns typed,
immutable results. Pipelines register by name in :data:`PIPELINES`; choosing one is a setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from visage.types import ImageAnalysis

if TYPE_CHECKING:
    from visage.config import Settings


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """What one request wants computed; each request carries its own (no module-level flags)."""

    landmarks: bool = True
    pose: bool = True
    templates: bool = False
    max_faces: int | None = None
    # Face quality (docs/quality.md): fills Face.quality; needs landmarks, computes them if not asked.
    quality: bool = False
    # Adds the ICAO-style block (seed 003's quality-assessment-estimator) as Face.quality["icao"].
    icao: bool = False

    # Face attributes to compute (names of visage.analysis.attributes.ATTRIBUTES); "all", a list or
    # a comma-separated string are normalised to a frozenset. Only these run.
    attributes: frozenset[str] = frozenset()

    # Embedder to make templates with (a name of visage.analysis.embedders.EMBEDDERS); None = the
    # pipeline's own. Collections set it to the embedder they were made with.
    embedder: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.attributes, frozenset) or "all" in self.attributes:
            from visage.analysis.attributes import parse_attributes

            object.__setattr__(self, "attributes", parse_attributes(self.attributes))

    @property
    def wants_quality(self) -> bool:
        return self.quality or self.icao


class Pipeline(Protocol):
    """Detect faces and compute what the options ask for, on an RGB uint8 (H x W x 3) image."""

    name: str
    embedder_model: str
    embedder_dim: int

    def analyze(self, image: np.ndarray, options: AnalyzeOptions) -> ImageAnalysis: ...

    def models(self) -> list[str]:
        """Names of the manifest models this pipeline runs (for responses' model lists)."""
        ...


def _build_dlib(settings: Settings) -> Pipeline:
    from visage.analysis.dlib_pipeline import DlibPipeline

    return DlibPipeline.from_settings(settings)


def _build_fast(settings: Settings) -> Pipeline:
    from visage.analysis.fast_pipeline import FastPipeline

    return FastPipeline.from_settings(settings)


PIPELINES: dict[str, Callable[[Settings], Pipeline]] = {"dlib": _build_dlib, "fast": _build_fast}


def build_pipeline(settings: Settings) -> Pipeline:
    """The pipeline ``settings.pipeline`` names (ValueError lists the known ones)."""
    try:
        factory = PIPELINES[settings.pipeline]
    except KeyError:
        raise ValueError(f"unknown pipeline {settings.pipeline!r}; known: {', '.join(sorted(PIPELINES))}") from None
    return factory(settings)
