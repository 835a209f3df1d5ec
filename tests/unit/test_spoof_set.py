"""The simulated-recapture transforms of bench/spoof_set.py: deterministic, shape-preserving, and not identity."""

from __future__ import annotations

import numpy as np
import pytest

from spoof_set import TRANSFORMS


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform(name: str) -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    a, b = TRANSFORMS[name](img, 3), TRANSFORMS[name](img, 3)
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - img).mean() > 1.0
