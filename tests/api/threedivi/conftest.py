"""Shared fixtures of the 3DiVi dialect tests: one fast-pipeline engine (the server's default) and an
app client over a temporary store; the seed's examples as golden data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def fast_engine(faces_dir):
    from visage.config import Settings
    from visage.engine import Engine

    return Engine(Settings(pipeline="fast"))


@pytest.fixture(scope="module")
def client(fast_engine, tmp_path_factory):
    from visage.api.app import create_app
    from visage.config import Settings

    home = tmp_path_factory.mktemp("vh3divi")
    settings = Settings(pipeline="fast", home=home, max_request_bytes=3 * 1024 * 1024)
    with TestClient(create_app(settings, fast_engine), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def portrait(faces_dir) -> bytes:
    return (faces_dir / "people" / "obama" / "obama.jpg").read_bytes()


@pytest.fixture(scope="session")
def two_people(faces_dir) -> bytes:
    return (faces_dir / "two_people.jpg").read_bytes()


@pytest.fixture(scope="module")
def dlib_client(engine, tmp_path_factory):
    """The dlib pipeline (68 points; the one that measures ICAO-style quality today)."""
    from visage.api.app import create_app
    from visage.config import Settings

    home = tmp_path_factory.mktemp("vh3divi-dlib")
    with TestClient(create_app(Settings(pipeline="dlib", home=home), engine), raise_server_exceptions=False) as c:
        yield c
