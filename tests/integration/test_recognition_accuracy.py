"""The default engine's verification on real labelled pairs at its default threshold (LFW: never used to tune it).

The engine is built with the shipped default embedder (``DEFAULT_EMBEDDER``) named explicitly, so a
``VISAGE_EMBEDDER`` in the environment cannot make this test score another model, and every template is
checked to be the default's template model.

LFW View 2 (fold 1's first 150 genuine and 150 impostor pairs) and calib/ (every pair of every
other of its identity photos). Floors, not exact figures: bench/bench_lfw.py measures both
sets with the published protocol (docs/models.md). The threshold is the calibrated similarity 0.5
(set on all of calib/), so the calib floor checks the false-accept rate the calibration promises, and
LFW checks that it carries over.
"""

from __future__ import annotations

import itertools

import pytest

from recognition_sets import CALIB, LFW, calib_images, lfw_pairs
from visage.analysis.embedders import DEFAULT_EMBEDDER, TEMPLATE_MODELS
from visage.config import Settings
from visage.engine import Engine
from visage.errors import NoFaceError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> Engine:
    if not (LFW / "pairs.txt").is_file() or not CALIB.is_dir():
        pytest.skip("needs ../shared/fixtures/lfw and calib")
    return Engine(Settings(pipeline="fast", embedder=DEFAULT_EMBEDDER))


def _templates(engine: Engine, root, rel: set[str]) -> dict:
    out = {}
    for r in sorted(rel):
        try:
            out[r] = engine.largest_template((root / r).read_bytes())
            assert out[r].model == TEMPLATE_MODELS[DEFAULT_EMBEDDER], out[r].model
        except NoFaceError:
            out[r] = None
    return out


def _decide(engine: Engine, ta, tb) -> bool:
    return ta is not None and tb is not None and engine.compare(ta, tb).match


def test_lfw_pairs_at_the_default_threshold(engine) -> None:
    fold = [p for p in lfw_pairs() if p.fold == 1]
    pairs = [p for p in fold if p.same][:150] + [p for p in fold if not p.same][:150]
    temps = _templates(engine, LFW, {r for p in pairs for r in (p.a, p.b)})
    right = sum(_decide(engine, temps[p.a], temps[p.b]) == p.same for p in pairs)
    false_accepts = sum(_decide(engine, temps[p.a], temps[p.b]) for p in pairs if not p.same)
    assert right / len(pairs) >= 0.98, f"{right}/{len(pairs)}"  # 298/300 on 2026-12-02
    assert false_accepts <= 1


def test_calib_pairs_at_the_default_threshold(engine) -> None:
    images = calib_images()[::2]
    temps = _templates(engine, CALIB, {r for _, r in images})
    genuine = impostor = accepted_genuine = accepted_impostor = 0
    for (wa, ra), (wb, rb) in itertools.combinations(images, 2):
        match = _decide(engine, temps[ra], temps[rb])
        if wa == wb:
            genuine += 1
            accepted_genuine += match
        else:
            impostor += 1
            accepted_impostor += match
    assert genuine >= 50 and impostor >= 5000
    # 101/103 and 8/8543 on 2026-12-02; issue 11 asks TAR >= 0.95 at FAR 1e-3 (here 2x, for the sample)
    assert accepted_genuine / genuine >= 0.95, f"TAR {accepted_genuine}/{genuine}"
    assert accepted_impostor / impostor <= 0.002, f"FAR {accepted_impostor}/{impostor}"
