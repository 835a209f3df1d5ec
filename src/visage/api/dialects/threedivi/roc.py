"""verify-matcher's ``fa_r`` / ``fr_r`` from a measured ROC of the embedder, kept as data.

``src/visage/data/roc_<model>.json`` holds the cosine distance (``1 - cosine``) of every genuine and
impostor pair of calib/ (sorted, 1e-4 resolution, base64 uint16), measured by ``bench/calibrate.py``
with the thresholds of ``calibration.json`` (older tables: raw distances, ``bench/roc_threedivi.py``). At a request's
distance ``d`` (the decision threshold a client would set there):

* ``fa_r(d)``: share of impostor pairs with distance <= d (they would be falsely accepted);
* ``fr_r(d)``: share of genuine pairs with distance > d (they would be falsely rejected).

Between measured distances both are linearly interpolated on the empirical curves; below every
measurement ``fa_r`` is 0 and ``fr_r`` 1, above every measurement the reverse (the curve is pinned at
distance 0 and 2, the ends of the cosine-distance range).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from visage.errors import ModelUnavailableError


@dataclass(frozen=True, slots=True, eq=False)
class Roc:
    model: str
    genuine: np.ndarray
    impostor: np.ndarray
    measured_on: str
    _t: np.ndarray
    _far: np.ndarray
    _frr: np.ndarray

    @classmethod
    def from_distances(cls, model: str, genuine: list[float], impostor: list[float], measured_on: str) -> Roc:
        gen = np.sort(np.asarray(genuine, np.float64))
        imp = np.sort(np.asarray(impostor, np.float64))
        if gen.size == 0 or imp.size == 0:
            raise ValueError("an ROC needs genuine and impostor pairs")
        t = np.unique(np.concatenate([[0.0], gen, imp, [2.0]]))
        far = np.searchsorted(imp, t, side="right") / imp.size
        frr = 1.0 - np.searchsorted(gen, t, side="right") / gen.size
        return cls(model, gen, imp, measured_on, t, far, frr)

    def rates(self, distance: float) -> tuple[float, float]:
        """(fa_r, fr_r) at ``distance``."""
        d = float(np.clip(distance, 0.0, 2.0))
        return float(np.interp(d, self._t, self._far)), float(np.interp(d, self._t, self._frr))


def _load(model: str) -> dict | None:
    name = f"roc_{model}.json"
    ref = resources.files("visage.data").joinpath(name)
    if not ref.is_file():
        return None
    return json.loads(ref.read_text())


@lru_cache(maxsize=16)
def get_roc(model: str) -> Roc:
    """The measured ROC of ``model``; a model without one cannot report error rates."""
    data = _load(model)
    if data is None:
        raise ModelUnavailableError(
            f"no measured ROC for embedder {model!r}: verify-matcher cannot report fa_r/fr_r "
            "(run bench/roc_threedivi.py --write with that pipeline)")
    if "impostor_u16" in data:  # bench/calibrate.py: sorted distances x 10000, uint16, base64
        def decode(text: str) -> np.ndarray:
            return np.frombuffer(base64.b64decode(text), "<u2").astype(np.float64) / 10000.0
        return Roc.from_distances(model, decode(data["genuine_u16"]), decode(data["impostor_u16"]),
                                  data["measured_on"])
    return Roc.from_distances(model, data["genuine_distances"], data["impostor_distances"], data["measured_on"])
