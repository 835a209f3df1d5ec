"""PostgreSQL IVF lists: sqrt(n) (the store's rule) vs 2*sqrt(n) (the previous rule), one run.

Two collections of n faces (loaded the import way, index built once), then batches of 1,000
through add_faces alternating between them (same machine load), then 300 noisy probes:
add_faces wall faces/s and faces per CPU-second (client + server), recall@1 against exact
search, search p50/p99.

    PYTHONPATH=src python bench/pg_ivf_lists.py --n 100000 --dim 192
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import visage.store.postgres as pgmod
from bench_store import MODEL, exact_top1, faces, make_vectors, noisy_probes, run_searches
from pg_add_faces import _cpu_s, _Renamed, start_postgres, stop_postgres
from visage.store import open_store

RULES = {
    "2sqrt": lambda k: max(1, min(int(2 * math.sqrt(k)), k // 50, 32768)),
    "sqrt": lambda k: max(1, min(int(math.sqrt(k)), k // 50, 32768)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--workdir", default="/tmp/vpg-lists")
    args = ap.parse_args()

    batch = 1000
    workdir = Path(args.workdir)
    server = start_postgres(workdir)
    pgdata = workdir / "pgdata"
    base = make_vectors(args.n + batch * args.batches, args.dim, 7)
    try:
        store = open_store(server.get_uri())
        for name, rule in RULES.items():
            pgmod.ivf_lists = rule  # the builder reads the module's rule when it builds
            store.create_collection(name, MODEL, args.dim)
            with store._bulk_load(name):
                for s in range(0, args.n, 5000):
                    store.add_faces(name, list(faces(base[s : s + 5000], s)))
        cpu = dict.fromkeys(RULES, 0.0)
        wall = dict.fromkeys(RULES, 0.0)
        for i in range(args.batches):
            s = args.n + i * batch
            for name in RULES:
                chunk = list(faces(base[s : s + batch], s))
                c0, t0 = _cpu_s(pgdata), time.perf_counter()
                store.add_faces(name, chunk)
                wall[name] += time.perf_counter() - t0
                cpu[name] += _cpu_s(pgdata) - c0
        rng = np.random.default_rng(8)
        _, probes = noisy_probes(base, rng, 300, round(0.04 * (128 / args.dim) ** 0.5, 5))
        truth = exact_top1(base, probes)
        ids = np.array([f"img{i}" for i in range(len(base))], dtype=object)
        added = batch * args.batches
        print(f"dim={args.dim} n={args.n}+{added}; 1-min load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
        for name in RULES:
            lat, recall = run_searches(_Renamed(store, name), probes, truth, ids, 10)
            p50, p99 = (np.percentile(lat[:, 0], p) * 1e3 for p in (50, 99))
            print(f"{name:6s} {store.index_info(name)}: add_faces {added / wall[name]:.0f}/s wall, "
                  f"{added / cpu[name]:.0f} per CPU-second; search R@1 {recall:.3f} p50 {p50:.1f} ms "
                  f"p99 {p99:.1f} ms; load {os.getloadavg()[0]:.1f}", flush=True)
        print(f"ratio sqrt/2sqrt per CPU-second: {(cpu['2sqrt'] / cpu['sqrt']):.2f}x")
        store.close()
    finally:
        stop_postgres(server, workdir)


if __name__ == "__main__":
    main()
