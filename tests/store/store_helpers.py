"""Data helpers shared by the store tests (imported by name: tests/store is on sys.path)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from visage.store import NewFace
from visage.types import Box, Template

MODEL = "test-model"
DIM = 16
_db_counter = itertools.count()
_PG_OPTIONS = {"ann_min", "probes", "index", "pool_size", "ef_search"}


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def new_faces(vectors: np.ndarray, model: str = MODEL, prefix: str = "img", start: int = 0) -> list[NewFace]:
    return [
        NewFace(
            image_id=f"{prefix}-{start + i}",
            box=Box(10.0 + i % 7, 20.0, 64.0, 80.0),
            confidence=0.99,
            template=Template.from_vector(model, v),
            external_image_id=f"ext-{start + i}",
            quality={"sharpness": 0.5, "brightness": 0.25},
        )
        for i, v in enumerate(vectors)
    ]


def template(vector: np.ndarray, model: str = MODEL) -> Template:
    return Template.from_vector(model, vector)


def _fresh_database(base_uri: str) -> str:
    import psycopg

    name = f"visage_test_{next(_db_counter)}"
    with psycopg.connect(base_uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return base_uri.replace("/postgres?", f"/{name}?", 1)


def backend_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path, **opts: object) -> str:
    """A fresh, empty store of ``kind``; ``sqlite-ann`` / ``postgres-ann`` force the IVF (approximate)
    path from 8 faces up."""
    if kind == "sqlite-ann":
        kind, opts = "sqlite", {"ann_threshold": 8, **opts}
    if kind == "postgres-ann":
        kind, opts = "postgres", {"ann_min": 8, **opts}
    if kind == "postgres":  # the SQLite-only knobs some tests pass mean nothing here
        opts = {k: v for k, v in opts.items() if k in _PG_OPTIONS}
    query = "&".join(f"{k}={v}" for k, v in opts.items())
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/visage.db" + (f"?{query}" if query else "")
    url = _fresh_database(request.getfixturevalue("pg_server"))
    return url + (("&" if "?" in url else "?") + query if query else "")
