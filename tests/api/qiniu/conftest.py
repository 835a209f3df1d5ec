"""Engines for the Qiniu contract tests: the session's (dlib: quality measures) and a fast one (mesh468:
the 4/72/150-point landmark sets)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fast_engine():
    from visage.config import Settings
    from visage.engine import Engine

    return Engine(Settings(pipeline="fast"))
