"""Restart, index persistence and repair, kill -9 durability, concurrency, backup/migration."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from store_helpers import DIM, MODEL, backend_url, new_faces, template, unit_vectors

import visage
from visage.errors import AlreadyExistsError
from visage.store import TemplateStore, open_store
from visage.store.base import StoreLockedError
from visage.store.sqlite import SQLiteStore

HERE = Path(__file__).parent


def _all_faces(store: TemplateStore, cid: str) -> dict[str, np.ndarray]:
    out, token = {}, None
    while True:
        page, token = store.list_faces(cid, max_results=500, next_token=token)
        out.update({f.face_id: f.template.vector for f in page})
        if token is None:
            return out


def _assert_all_searchable(store: TemplateStore, cid: str, faces: dict[str, np.ndarray]) -> None:
    for face_id, vec in faces.items():
        hit = store.search(cid, template(vec), max_results=1)[0]
        assert hit.face.face_id == face_id
        assert hit.cosine == pytest.approx(1.0, abs=1e-4)


# ---------------------------------------------------------------------------- restart


def test_restart_keeps_everything(store_url: str) -> None:
    store = open_store(store_url)
    store.create_collection("c", MODEL, DIM)
    added = store.add_faces("c", new_faces(unit_vectors(60)))
    store.create_user("c", "u")
    store.associate_faces("c", "u", [added[0].face_id, added[1].face_id])
    store.search("c", added[5].template)
    store.close()
    store.close()  # idempotent

    store = open_store(store_url)
    try:
        info = store.describe_collection("c")
        assert (info.face_count, info.user_count) == (60, 1)
        assert store.get_user("c", "u").face_ids == (added[0].face_id, added[1].face_id)
        _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in added})
        assert store.search_users("c", added[1].template)[0].user_id == "u"
    finally:
        store.close()


def test_sqlite_index_is_persisted_and_stale_index_repaired(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/v.db?ann_threshold=50"
    store = open_store(url)
    store.create_collection("c", MODEL, DIM)
    added = store.add_faces("c", new_faces(unit_vectors(200)))
    assert store.warm("c")["source"] == "records"  # first load builds and saves
    store.close()
    assert len(list((tmp_path / "v.db.index").glob("*.faiss"))) == 1

    store = open_store(url)
    info = store.warm("c")
    assert (info["source"], info["repair_added"], info["repair_removed"], info["mode"]) == (
        "file",
        0,
        0,
        "ivf",
    )
    store.close()

    # Writes while the index is not loaded leave the saved file stale.
    store = open_store(url)
    more = store.add_faces("c", new_faces(unit_vectors(30, seed=1), prefix="more"))
    gone = [f.face_id for f in added[:20]]
    store.delete_faces("c", gone)
    store.close()

    store = open_store(url)
    info = store.warm("c")
    assert (info["source"], info["repair_added"], info["repair_removed"]) == ("file", 30, 20)
    assert info["size"] == 210 and store.index_consistent("c")
    live = {f.face_id: f.template.vector for f in added[20:] + more}
    _assert_all_searchable(store, "c", live)
    for face in added[:20]:
        assert store.search("c", face.template, max_results=1)[0].face.face_id not in gone
    store.close()

    # The repaired index was saved: the next open needs no repair.
    store = open_store(url)
    assert store.warm("c")["repair_added"] == 0
    store.close()


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_sqlite_damaged_index_is_rebuilt(tmp_path: Path, damage: str) -> None:
    url = f"sqlite:///{tmp_path}/v.db?ann_threshold=50"
    store = open_store(url)
    store.create_collection("c", MODEL, DIM)
    added = store.add_faces("c", new_faces(unit_vectors(120)))
    store.warm("c")
    store.close()
    (index_file,) = (tmp_path / "v.db.index").glob("*.faiss")
    if damage == "corrupt":
        index_file.write_bytes(b"\x00garbage" * 100)
    else:
        index_file.unlink()
    store = open_store(url)
    info = store.warm("c")
    assert info["source"] == "records" and "reason" in info
    assert store.index_consistent("c")
    _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in added})
    store.close()


def test_sqlite_file_has_one_owner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/v.db"
    store = open_store(url)
    with pytest.raises(StoreLockedError):
        open_store(url)
    store.close()
    open_store(url).close()


def test_sqlite_exact_to_ivf_promotion_while_running(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "v.db", ann_threshold=100)
    store.create_collection("c", MODEL, DIM)
    first = store.add_faces("c", new_faces(unit_vectors(80)))
    assert store.warm("c")["mode"] == "exact"
    second = store.add_faces("c", new_faces(unit_vectors(80, seed=3), prefix="p"))
    assert store.index_info("c")["mode"] == "ivf" and store.index_consistent("c")
    _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in first + second})
    store.close()


# ---------------------------------------------------------------------------- durability


def test_kill_9_loses_no_acknowledged_write(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # small thresholds: the worker promotes to IVF and checkpoints mid-run, so the kill lands
    # with a saved-but-stale index on disk
    url = backend_url(backend, request, tmp_path, ann_threshold=60, checkpoint_every=100)
    store = open_store(url)
    store.create_collection("c", MODEL, DIM)
    store.close()

    env = dict(os.environ)
    src = str(Path(visage.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "durability_worker.py"), url, "c"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    acked: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) >= 350:
            break
    os.kill(proc.pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=30)
    acked += [x for x in rest.split("\n") if x.strip()]  # printed before the kill: acknowledged too
    assert proc.returncode == -signal.SIGKILL, err
    assert len(acked) >= 350

    store = open_store(url)
    try:
        got = store.get_faces("c", acked)
        assert {f.face_id for f in got} == set(acked)
        count = store.describe_collection("c").face_count
        assert len(acked) <= count <= len(acked) + 10  # at most one committed, unprinted batch
        _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in got})
        if isinstance(store, SQLiteStore):
            info = store.index_info("c")
            assert (info["mode"], info["source"]) == ("ivf", "file")  # the saved index was reused
            assert store.index_consistent("c")
    finally:
        store.close()


# ---------------------------------------------------------------------------- concurrency


def test_concurrent_adds_and_searches(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    seed_vecs = unit_vectors(40)
    seeded = store.add_faces("c", new_faces(seed_vecs))
    errors: list[BaseException] = []
    added: list[list] = [[] for _ in range(3)]
    done = threading.Event()

    def writer(w: int) -> None:
        try:
            for b in range(8):
                vecs = unit_vectors(10, seed=100 * (w + 1) + b)
                added[w] += store.add_faces("c", new_faces(vecs, prefix=f"w{w}b{b}"))
        except BaseException as exc:
            errors.append(exc)

    def reader(r: int) -> None:
        try:
            i = r
            while not done.is_set():
                hit = store.search("c", template(seed_vecs[i % 40]), max_results=3)[0]
                assert hit.face.face_id == seeded[i % 40].face_id
                i += 1
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()
    assert not errors, errors[0]
    assert store.describe_collection("c").face_count == 40 + 240
    everything = [f for batch in added for f in batch] + seeded
    _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in everything})


# ---------------------------------------------------------------------------- backup / migration


def _populate(store: TemplateStore, cid: str) -> None:
    store.create_collection(cid, MODEL, DIM)
    added = store.add_faces(cid, new_faces(unit_vectors(150, seed=5)))
    for u in range(3):
        store.create_user(cid, f"user{u}")
        store.associate_faces(cid, f"user{u}", [f.face_id for f in added[u * 10 : u * 10 + 10]])


def _same_collection(a: TemplateStore, ca: str, b: TemplateStore, cb: str) -> None:
    ia, ib = a.describe_collection(ca), b.describe_collection(cb)
    assert (ia.model, ia.dim, ia.face_count, ia.user_count) == (
        ib.model,
        ib.dim,
        ib.face_count,
        ib.user_count,
    )
    fa, fb = a.list_faces(ca, max_results=1000)[0], b.list_faces(cb, max_results=1000)[0]
    assert [f.face_id for f in fa] == [f.face_id for f in fb]
    for x, y in zip(fa, fb, strict=True):
        assert (x.image_id, x.external_image_id, x.box, x.user_id, x.quality) == (
            y.image_id,
            y.external_image_id,
            y.box,
            y.user_id,
            y.quality,
        )
        assert x.created_at == y.created_at
        np.testing.assert_array_equal(x.template.vector, y.template.vector)
    users_a = [(u.user_id, u.face_ids, u.status) for u in a.list_users(ca)[0]]
    assert users_a == [(u.user_id, u.face_ids, u.status) for u in b.list_users(cb)[0]]
    for q in unit_vectors(8, seed=77):
        ha, hb = a.search(ca, template(q), max_results=10), b.search(cb, template(q), max_results=10)
        assert [h.face.face_id for h in ha] == [h.face.face_id for h in hb]
        np.testing.assert_allclose([h.cosine for h in ha], [h.cosine for h in hb], atol=1e-5)
        ua, ub = a.search_users(ca, template(q)), b.search_users(cb, template(q))
        assert [(h.user_id, h.best_face_id) for h in ua] == [(h.user_id, h.best_face_id) for h in ub]


def test_export_sqlite_import_postgres_and_back(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    lite = open_store(backend_url("sqlite", request, tmp_path))
    pg_url = backend_url("postgres", request, tmp_path)
    pg = open_store(pg_url)
    try:
        _populate(lite, "c")
        buf = io.StringIO()
        assert lite.export_collection("c", buf) == 150
        buf.seek(0)
        info = pg.import_collection(buf)
        assert (info.collection_id, info.face_count, info.user_count) == ("c", 150, 3)
        assert pg.index_info("c")["kind"] == "exact"  # 150 faces: below ann_min, no IVF index yet
        _same_collection(lite, "c", pg, "c")

        back = io.StringIO()
        pg.export_collection("c", back)
        back.seek(0)
        lite.import_collection(back, collection_id="c2")
        _same_collection(pg, "c", lite, "c2")
        back.seek(0)
        with pytest.raises(AlreadyExistsError):
            lite.import_collection(back)
    finally:
        lite.close()
        pg.close()


def test_sqlite_ivf_probes_a_fraction_of_lists_and_keeps_recall(tmp_path: Path) -> None:
    """Above the threshold search is approximate: enrolled faces are still found, and noisy probes
    agree with exact search (the IVF scans 64 of 102 lists here)."""
    store = SQLiteStore(tmp_path / "v.db", ann_threshold=1000)
    store.create_collection("c", MODEL, DIM)
    vecs = unit_vectors(4000, seed=11)
    added = store.add_faces("c", new_faces(vecs))
    info = store.warm("c")
    assert info["mode"] == "ivf"
    idx = store._indexes[next(iter(store._indexes))]
    assert idx._ivf is not None and idx._ivf.nprobe < idx._ivf.index.nlist
    _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in added})
    rng = np.random.default_rng(3)
    src = rng.integers(0, 4000, 200)
    probes = vecs[src] + rng.standard_normal((200, DIM)).astype(np.float32) * 0.05
    exact = np.argmax(probes @ vecs.T, axis=1)
    hits = [store.search("c", template(p), max_results=1)[0].face.face_id for p in probes]
    recall = np.mean([h == added[e].face_id for h, e in zip(hits, exact, strict=True)])
    assert recall >= 0.95
    store.close()


@pytest.mark.parametrize("dim", [192, 256])
def test_sqlite_pq_index_reranks_exactly_persists_and_retrains(tmp_path: Path, dim: int) -> None:
    """At 192-d (the default embedder's) and above the IVF lists hold PQ codes: results still carry
    exact cosines, enrolled faces find themselves, the index reloads from its file, and a retrain
    reads the records."""
    store = SQLiteStore(tmp_path / "v.db", ann_threshold=1000)
    try:
        store.create_collection("c", MODEL, dim)
        vecs = unit_vectors(6000, dim=dim, seed=12)
        store.warm("c")  # loaded while empty: promoted to IVF by the add that crosses 1000
        added = store.add_faces("c", new_faces(vecs[:1200], model=MODEL))
        info = store.index_info("c")
        assert (info["mode"], info["kind"]) == ("ivf", "ivf-pq")
        trained = store._indexes[next(iter(store._indexes))].trained_n
        added += store.add_faces("c", new_faces(vecs[1200:], model=MODEL, start=1200))  # > 4x: retrain
        idx = store._indexes[next(iter(store._indexes))]
        assert idx.kind == "ivf-pq" and idx.trained_n > 4 * trained
        assert store.index_consistent("c")
        rng = np.random.default_rng(4)
        src = rng.integers(0, 6000, 100)
        probes = vecs[src] + rng.standard_normal((100, dim)).astype(np.float32) * 0.02
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
        for p, s in zip(probes, src, strict=True):
            hits = store.search("c", template(p), max_results=5)
            assert hits[0].face.face_id == added[s].face_id
            exact = [float(np.dot(vecs[int(h.face.image_id.split("-")[1])], p)) for h in hits]
            np.testing.assert_allclose([h.cosine for h in hits], exact, atol=1e-5)  # exact, not PQ scores
        _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in added[::15]})
    finally:
        store.close()
    store = SQLiteStore(tmp_path / "v.db", ann_threshold=1000)
    try:
        info = store.warm("c")
        assert (info["kind"], info["source"]) == ("ivf-pq", "file")
        _assert_all_searchable(store, "c", {f.face_id: f.template.vector for f in added[::45]})
    finally:
        store.close()
