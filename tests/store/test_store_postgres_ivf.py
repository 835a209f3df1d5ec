"""PostgreSQL's IVFFlat upkeep: built once a collection reaches ``ann_min``, rebuilt on growth,
shared by every store (replica) on the database, and HNSW collections keep their HNSW index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from store_helpers import DIM, MODEL, backend_url, new_faces, template, unit_vectors

from visage.store import open_store


def _search_finds_itself(store, cid: str, vecs: np.ndarray, ids: list[str]) -> float:
    hits = [store.search(cid, template(v), max_results=1)[0].face.face_id == f for v, f in zip(vecs, ids, strict=True)]
    return sum(hits) / len(hits)


def test_ivf_index_is_built_rebuilt_and_shared(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = backend_url("postgres", request, tmp_path, ann_min=200)
    a, b = open_store(url), open_store(url)  # two replicas on one database
    try:
        a.create_collection("c", MODEL, DIM)
        vecs = unit_vectors(1300, seed=5)
        ids = [r.face_id for r in a.add_faces("c", new_faces(vecs[:150]))]
        a.wait_for_index()
        assert b.index_info("c")["kind"] == "exact"  # below ann_min
        ids += [r.face_id for r in a.add_faces("c", new_faces(vecs[150:300], start=150))]
        a.wait_for_index()
        first = b.index_info("c")  # replica b reads the state a built
        assert (first["kind"], first["trained"], first["lists"]) == ("ivfflat", 300, 6)
        assert first["building"] is False
        ids += [r.face_id for r in b.add_faces("c", new_faces(vecs[300:], start=300))]  # 1300 > 4 x 300
        b.wait_for_index()
        second = a.index_info("c")
        assert (second["kind"], second["trained"]) == ("ivfflat", 1300)
        assert second["lists"] == 26 and second["probes"] == 26  # small: every list is scanned
        import psycopg

        with psycopg.connect(url.replace("&ann_min=200", "")) as conn:
            names = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_ivf_%'")]
        assert len(names) == 1  # the old index was dropped
        assert _search_finds_itself(a, "c", vecs[::10], ids[::10]) == 1.0
        # a filtered search (users) through the IVF index still returns its users
        a.create_user("c", "u1")
        a.associate_faces("c", "u1", [ids[7]])
        assert a.search_users("c", template(vecs[7]))[0].user_id == "u1"
    finally:
        a.close()
        b.close()


def test_hnsw_collections_keep_hnsw(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = backend_url("postgres", request, tmp_path, index="hnsw")
    store = open_store(url)
    try:
        store.create_collection("h", MODEL, DIM)
        vecs = unit_vectors(50, seed=2)
        out = store.add_faces("h", new_faces(vecs))
        assert store.index_info("h")["kind"] == "hnsw"
        assert _search_finds_itself(store, "h", vecs, [r.face_id for r in out]) == 1.0
    finally:
        store.close()


def test_bad_index_option_is_rejected(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from visage.errors import InvalidParameterError

    url = backend_url("postgres", request, tmp_path)
    with pytest.raises(InvalidParameterError):
        open_store(url + "&index=annoy")
