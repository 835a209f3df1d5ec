"""Stored faces keep the size of the image their box is in (so dialects can give relative boxes).

Every backend stores and returns ``image_width``/``image_height``; stores written before the
columns existed open, gain them (NULL for the old rows) and lose nothing; export/import carry them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from store_helpers import DIM, MODEL, backend_url, new_faces, template, unit_vectors

from visage.errors import InvalidParameterError
from visage.store import NewFace, TemplateStore, open_store
from visage.types import Box, Template

DATA = Path(__file__).parent / "data"


def _sized(faces: list[NewFace], width: int = 640, height: int = 480) -> list[NewFace]:
    return [dataclasses.replace(f, image_width=width + i, image_height=height + i) for i, f in enumerate(faces)]


def test_image_size_round_trips(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    vecs = unit_vectors(6)
    faces = _sized(new_faces(vecs[:4])) + new_faces(vecs[4:], start=4)  # two without a size
    out = store.add_faces("c", faces)
    expected = {r.face_id: (f.image_width, f.image_height) for r, f in zip(out, faces, strict=True)}
    assert [(r.image_width, r.image_height) for r in out] == [
        (640, 480), (641, 481), (642, 482), (643, 483), (None, None), (None, None),
    ]  # fmt: skip
    got = store.get_faces("c", list(expected))
    assert {g.face_id: (g.image_width, g.image_height) for g in got} == expected
    listed, _ = store.list_faces("c", max_results=100)
    assert {f.face_id: (f.image_width, f.image_height) for f in listed} == expected
    for vec, rec in zip(vecs, out, strict=True):
        hit = store.search("c", template(vec), max_results=1)[0]
        assert hit.face.face_id == rec.face_id
        assert (hit.face.image_width, hit.face.image_height) == expected[rec.face_id]
    # An idempotent retry returns the stored record, size included.
    again = store.add_faces("c", faces[:1])
    assert (again[0].face_id, again[0].image_width, again[0].image_height) == (out[0].face_id, 640, 480)


@pytest.mark.parametrize("size", [(640, None), (None, 480), (0, 480), (640, -1), (640.0, 480), (True, 480)])
def test_bad_image_size_is_rejected_and_nothing_stored(store: TemplateStore, size: tuple) -> None:
    store.create_collection("c", MODEL, DIM)
    good, bad = new_faces(unit_vectors(2))
    bad = dataclasses.replace(bad, image_width=size[0], image_height=size[1])
    with pytest.raises(InvalidParameterError):
        store.add_faces("c", [good, bad])
    assert store.describe_collection("c").face_count == 0


def test_export_import_carries_image_size(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    faces = _sized(new_faces(unit_vectors(3))) + new_faces(unit_vectors(2, seed=1), start=3)
    store.add_faces("c", faces)
    buf = io.StringIO()
    store.export_collection("c", buf)
    lines = [json.loads(x) for x in buf.getvalue().splitlines()[1:]]
    assert [(x["image_width"], x["image_height"]) for x in lines] == [
        (640, 480), (641, 481), (642, 482), (None, None), (None, None),
    ]  # fmt: skip
    buf.seek(0)
    store.import_collection(buf, collection_id="copy")
    a, _ = store.list_faces("c")
    b, _ = store.list_faces("copy")
    assert [(f.face_id, f.image_width, f.image_height) for f in a] == [
        (f.face_id, f.image_width, f.image_height) for f in b
    ]


def test_export_written_before_image_size_imports_with_none(store: TemplateStore) -> None:
    """A backup made by an older visage (face lines without the keys) still imports."""
    vec = unit_vectors(1)[0]
    header = {"type": "collection", "format": "visage.store/1", "collection_id": "old", "model": MODEL,
              "dim": DIM, "created_at": "2026-11-01T00:00:00+00:00"}  # fmt: skip
    face = {"type": "face", "face_id": "f-1", "image_id": "img", "external_image_id": None,
            "box": {"left": 1.0, "top": 2.0, "width": 30.0, "height": 40.0}, "confidence": 0.9,
            "quality": None, "user_id": None, "created_at": "2026-11-01T00:00:00+00:00",
            "template": Template(MODEL, vec).to_base64()}  # fmt: skip
    store.import_collection(io.StringIO(json.dumps(header) + "\n" + json.dumps(face) + "\n"))
    (rec,) = store.get_faces("old", ["f-1"])
    assert (rec.box, rec.image_width, rec.image_height) == (Box(1.0, 2.0, 30.0, 40.0), None, None)


# ---------------------------------------------------------------------------- migration

# tests/store/data/store_before_image_size.db was written by the store at commit 23317ad (before
# the image-size columns) with tests/store/data/make_store_before_image_size.py: collection
# "before" (test-model/16), 12 faces from rng seed 7, user "alice" with the first two faces.
OLD_FACES = 12


def _old_vectors() -> np.ndarray:
    rng = np.random.default_rng(7)
    v = rng.standard_normal((OLD_FACES, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _check_old_store(store: TemplateStore) -> None:
    info = store.describe_collection("before")
    assert (info.model, info.dim, info.face_count, info.user_count) == ("test-model", 16, OLD_FACES, 1)
    faces, _ = store.list_faces("before", max_results=100)
    assert [f.image_id for f in faces] == [f"img-{i}" for i in range(OLD_FACES)]
    assert all((f.image_width, f.image_height) == (None, None) for f in faces)
    assert faces[3].box == Box(13.0, 20.0, 64.0, 80.0) and faces[3].quality == {"sharpness": 0.5}
    assert store.get_user("before", "alice").face_ids == (faces[0].face_id, faces[1].face_id)
    for vec, face in zip(_old_vectors(), faces, strict=True):
        np.testing.assert_array_equal(face.template.vector, vec)
        hit = store.search("before", Template("test-model", vec), max_results=1)[0]
        assert hit.face.face_id == face.face_id
    assert store.search_users("before", Template("test-model", _old_vectors()[1]))[0].user_id == "alice"


@pytest.mark.parametrize("ann_threshold", [20000, 8])
def test_sqlite_store_from_before_image_size_opens_and_migrates(tmp_path: Path, ann_threshold: int) -> None:
    path = tmp_path / "visage.db"
    shutil.copy(DATA / "store_before_image_size.db", path)
    with sqlite3.connect(path) as conn:
        assert "image_width" not in {r[1] for r in conn.execute("PRAGMA table_info(faces)")}
    url = f"sqlite:///{path}?ann_threshold={ann_threshold}"
    store = open_store(url)
    try:
        _check_old_store(store)
        new = dataclasses.replace(new_faces(unit_vectors(1, seed=3), model="test-model", prefix="new")[0],
                                  image_width=800, image_height=600)  # fmt: skip
        rec = store.add_faces("before", [new])[0]
        assert (rec.image_width, rec.image_height) == (800, 600)
    finally:
        store.close()
    store = open_store(url)  # migrating twice is a no-op
    try:
        assert store.describe_collection("before").face_count == OLD_FACES + 1
        (again,) = store.get_faces("before", [rec.face_id])
        assert (again.image_width, again.image_height) == (800, 600)
    finally:
        store.close()


# The faces table as PostgresStore created it at commit 23317ad, before the image-size columns.
_OLD_PG_FACES_TABLE = """
CREATE TABLE visage_faces_{cid} (
 seq bigserial PRIMARY KEY, face_id text NOT NULL UNIQUE, image_id text NOT NULL,
 external_image_id text, box_left real NOT NULL, box_top real NOT NULL,
 box_width real NOT NULL, box_height real NOT NULL, confidence real NOT NULL, quality jsonb,
 embedding vector(16) NOT NULL, user_id text, dedupe_key text NOT NULL UNIQUE,
 created_at timestamptz NOT NULL)
"""


def test_postgres_store_from_before_image_size_opens_and_migrates(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The old SQLite file is copied into a database laid out by the old PostgreSQL schema."""
    import psycopg

    url = backend_url("postgres", request, tmp_path)
    old = sqlite3.connect(DATA / "store_before_image_size.db")
    faces = old.execute(
        "SELECT face_id, image_id, external_image_id, box_left, box_top, box_width, box_height, confidence, "
        "quality, template, user_id, dedupe_key, created_us FROM faces ORDER BY seq"
    ).fetchall()
    old.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(
            "CREATE TABLE visage_collections (cid bigserial PRIMARY KEY, collection_id text COLLATE \"C\" "
            "NOT NULL UNIQUE, model text NOT NULL, dim integer NOT NULL, created_at timestamptz NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE visage_users (cid bigint NOT NULL REFERENCES visage_collections (cid) ON DELETE "
            "CASCADE, user_id text COLLATE \"C\" NOT NULL, status text NOT NULL, "
            "created_at timestamptz NOT NULL, PRIMARY KEY (cid, user_id))"
        )
        cid = conn.execute(
            "INSERT INTO visage_collections (collection_id, model, dim, created_at) "
            "VALUES ('before', 'test-model', 16, now()) RETURNING cid"
        ).fetchone()[0]
        conn.execute(_OLD_PG_FACES_TABLE.format(cid=cid))
        conn.execute(
            f"CREATE INDEX visage_faces_{cid}_hnsw ON visage_faces_{cid} USING hnsw "
            "(embedding vector_cosine_ops)"
        )
        for f in faces:
            vec = "[" + ",".join(repr(float(x)) for x in np.frombuffer(f[9], dtype="<f4")) + "]"
            conn.execute(
                f"INSERT INTO visage_faces_{cid} (face_id, image_id, external_image_id, box_left, box_top, "
                "box_width, box_height, confidence, quality, embedding, user_id, dedupe_key, created_at) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s::vector,%s,%s,to_timestamp(%s / 1e6))",
                (*f[:9], vec, *f[10:]),
            )
        conn.execute("INSERT INTO visage_users VALUES (%s, 'alice', 'ACTIVE', now())", (cid,))
    store = open_store(url)
    try:
        _check_old_store(store)
        new = dataclasses.replace(new_faces(unit_vectors(1, seed=3), model="test-model", prefix="new")[0],
                                  image_width=800, image_height=600)  # fmt: skip
        rec = store.add_faces("before", [new])[0]
        assert (rec.image_width, rec.image_height) == (800, 600)
    finally:
        store.close()
    open_store(url).close()  # migrating twice is a no-op
