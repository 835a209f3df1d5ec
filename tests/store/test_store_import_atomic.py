"""Import is one transaction on every backend (issue 15, finding 6): nothing of it is visible
before it commits, and a process that dies midway leaves nothing a retry would trip over.

(The checks before writing, 400 with the line number, are tested through the API in
tests/integration/test_collection_import.py; this is the store side, on SQLite and PostgreSQL.)
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from store_helpers import DIM, MODEL, new_faces, unit_vectors

import visage
from visage.store import open_store

HERE = Path(__file__).parent


def _export(store, faces: int = 40) -> str:
    store.create_collection("src", MODEL, DIM)
    added = store.add_faces("src", new_faces(unit_vectors(faces, seed=3)))
    store.create_user("src", "alice")
    store.associate_faces("src", "alice", [f.face_id for f in added[:3]])
    buf = io.StringIO()
    store.export_collection("src", buf)
    return buf.getvalue()


def test_import_is_invisible_until_it_commits(store) -> None:
    text = _export(store)
    seen: list[list[str]] = []
    real_add = store.add_faces

    def add_and_look(collection_id, faces):
        out = real_add(collection_id, faces)
        # another thread (another connection) looks while the import is still going
        look = threading.Thread(target=lambda: seen.append(store.list_collections()[0]))
        look.start()
        look.join(timeout=30)
        return out

    store.add_faces = add_and_look
    try:
        info = store.import_collection(io.StringIO(text), collection_id="copy")
    finally:
        del store.add_faces
    assert (info.face_count, info.user_count) == (40, 1)
    assert seen == [["src"]], seen  # the half-made "copy" was never visible
    assert store.list_collections()[0] == ["copy", "src"]
    assert store.get_user("copy", "alice").face_ids == store.get_user("src", "alice").face_ids


def test_import_killed_midway_leaves_nothing_and_a_retry_works(store_url, tmp_path) -> None:
    store = open_store(store_url)
    try:
        text = _export(store)
    finally:
        store.close()  # an SQLite file is held by one process at a time
    path = tmp_path / "export.jsonl"
    path.write_text(text, encoding="utf-8")
    env = dict(os.environ)
    src = str(Path(visage.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(HERE / "import_worker.py"), store_url, str(path), "copy"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3 and "faces loaded" in proc.stdout, (proc.returncode, proc.stdout, proc.stderr[-2000:])

    store = open_store(store_url)
    try:
        assert store.list_collections()[0] == ["src"]  # nothing of the dead import
        with open(path, encoding="utf-8") as fp:
            info = store.import_collection(fp, collection_id="copy")
        assert (info.face_count, info.user_count) == (40, 1)
    finally:
        store.close()


def test_postgres_import_stages_one_batch_at_a_time(store, backend) -> None:
    """Inside the import's transaction nothing commits between batches, so the staging table that
    add_faces COPYs into must be emptied per batch (else each batch re-inserts all earlier ones)."""
    if not backend.startswith("postgres"):
        pytest.skip("the staging table is PostgreSQL's")
    text = _export(store, faces=2500)  # three add_faces batches of at most 1,000
    staged: list[int] = []
    real_add = store.add_faces

    def add_and_count(collection_id, faces):
        out = real_add(collection_id, faces)
        conn = store._local.conn
        staged.append(conn.execute("SELECT count(*) FROM pg_temp.visage_staging").fetchone()[0])
        return out

    store.add_faces = add_and_count
    try:
        info = store.import_collection(io.StringIO(text), collection_id="copy")
    finally:
        del store.add_faces
    assert info.face_count == 2500
    assert staged == [1000, 1000, 500], staged
