"""Per-model score calibration, kept as data (``visage/data/calibration.json``), not constants.

For each embedder the table holds the cosine threshold measured on labelled pairs and a scale.
Similarity maps cosine to [0, 1] with a logistic centred on that threshold,
``similarity = 1 / (1 + exp(-(cosine - threshold) / scale))``, so 0.5 is the measured decision
point of every model and scores of different models mean the same thing. ``bench/calibrate.py``
regenerates the table from the fixtures and prints the measurement.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from visage.errors import InvalidParameterError

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Calibration:
    """How one model's cosine maps to similarity, and what it was measured on."""

    model: str
    cosine_threshold: float
    cosine_scale: float
    measured_on: str

    def similarity(self, cosine: float) -> float:
        z = (cosine - self.cosine_threshold) / self.cosine_scale
        z = max(-60.0, min(60.0, z))
        return 1.0 / (1.0 + math.exp(-z))

    def cosine_at(self, similarity: float) -> float:
        """Inverse of :meth:`similarity`: the cosine a similarity threshold corresponds to."""
        s = min(max(similarity, 1e-12), 1 - 1e-12)
        return self.cosine_threshold + self.cosine_scale * math.log(s / (1 - s))


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, object]]:
    text = resources.files("visage.data").joinpath("calibration.json").read_text()
    return json.loads(text)["models"]


def known_models() -> list[str]:
    """The embedders with a measured calibration: the only template models visage can compare."""
    return sorted(_table())


def get_calibration(model: str) -> Calibration:
    """The calibration of ``model``; a model without one cannot produce similarities.

    An unknown name comes from the caller (a template or an import file naming a model this
    build does not have), so it is an invalid parameter (400), not an unavailable service.
    """
    try:
        row = _table()[model]
    except (KeyError, TypeError):
        name = model[:64] if isinstance(model, str) else model
        raise InvalidParameterError(
            f"unknown template model {name!r}; this server compares {', '.join(known_models())}") from None
    return Calibration(
        model=model,
        cosine_threshold=float(row["cosine_threshold"]),
        cosine_scale=float(row["cosine_scale"]),
        measured_on=str(row["measured_on"]),
    )
