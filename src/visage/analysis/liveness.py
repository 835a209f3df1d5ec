"""Single-image liveness (presentation-attack detection) from the zoo's two anti-spoofing models.

* ``human-antispoof``: 128x128 RGB crop in [0, 1] -> one sigmoid, 1 = real (Human's ``face.real``).
* ``human-liveness``: 32x32 RGB crop in [0, 1] -> softmax of two, index 0 = live (Human's ``face.live``).

Both take the upright face square (eyes level) ``CROP`` x the mesh extent. The reported ``score`` is
the probability of a real face that the chosen ``combine`` rule gives; ``value`` is ``real`` when
``score >= threshold``. Rule and threshold are data (:data:`LIVENESS_CALIBRATION`), measured by
``bench/eval_liveness.py`` on real fixture faces and re-photographed-style spoofs built from them
(docs/attributes.md has the numbers and their limits).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from visage.analysis.attributes import face_crops
from visage.models.zoo import ZooModel, load_zoo_model

CROP = 1.5

# Measured by bench/eval_liveness.py (docs/attributes.md): which score decides and where.
LIVENESS_CALIBRATION = {"combine": "liveness", "threshold": 0.5}


class Liveness:
    def __init__(self, models_dir: Path, threads: int | None = None,
                 loader: Callable[[str, Path, int | None], ZooModel] = load_zoo_model,
                 calibration: dict | None = None) -> None:
        self.antispoof = loader("antispoof", models_dir, threads)
        self.live = loader("liveness", models_dir, threads)
        self.calibration = calibration or LIVENESS_CALIBRATION

    def models(self) -> list[str]:
        return [self.antispoof.spec.name, self.live.spec.name]

    def raw_scores(self, image: np.ndarray, meshes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(antispoof real-probability, liveness live-probability) per face, batched."""
        a = face_crops(image, meshes, self.antispoof.input_size[0], CROP).astype(np.float32) / 255.0
        b = face_crops(image, meshes, self.live.input_size[0], CROP).astype(np.float32) / 255.0
        real = self.antispoof.run(a)[0].reshape(len(meshes), -1)[:, 0]
        live = self.live.run(b)[0].reshape(len(meshes), -1)[:, 0]
        return real.astype(np.float64), live.astype(np.float64)

    def combine(self, real: np.ndarray, live: np.ndarray) -> np.ndarray:
        rule = self.calibration["combine"]
        if rule == "antispoof":
            return real
        if rule == "liveness":
            return live
        if rule == "mean":
            return (real + live) / 2.0
        if rule == "min":
            return np.minimum(real, live)
        raise ValueError(f"unknown liveness rule {rule}")

    def run(self, image: np.ndarray, meshes: list[np.ndarray]) -> list[dict[str, object]]:
        if not meshes:
            return []
        real, live = self.raw_scores(image, meshes)
        score = self.combine(real, live)
        thr = float(self.calibration["threshold"])
        rule = self.calibration["combine"]
        names = {"antispoof": self.antispoof.spec.name, "liveness": self.live.spec.name}
        model = names.get(rule, "+".join(self.models()))
        return [{"value": "real" if s >= thr else "spoof", "score": round(float(s), 4), "threshold": thr,
                 "model": model, "antispoof": round(float(r), 4), "liveness": round(float(v), 4)}
                for s, r, v in zip(score, real, live, strict=True)]
