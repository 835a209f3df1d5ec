"""PostgreSQL + pgvector IVFFlat at 10^6 faces: load, index build, search recall/latency, restart,
database size, and add_faces with the 10^6-face index live against the previous add_faces.

The collection is loaded the way ``import_collection`` loads one (rows first, the IVF index
built once at the end by the store's own builder), so the index is trained on the whole
collection; ``bench_store.py --backends postgres`` measures the other way in, ``add_faces``
with the index live. Then noisy probes (cosine ~0.91 to an enrolled face) are searched at the
default probes and at others (recall@1 against exact search over the same vectors), a fresh
process opens the store and answers its first search (a replica's restart), and last
``--add-batches`` batches of 1,000 new faces go through ``add_faces`` with the 10^6-face index
live (wall faces/s and faces per CPU-second of client + server, as in pg_add_faces.py),
alternating with batches through the peer: the previous ``add_faces`` (row-by-row
``executemany`` then a read-back of the rows, kept here as :func:`_rowwise_add_faces`), into
the same collection (new faces each), so both see the same index and machine load.

    PYTHONPATH=src python bench/pg_million.py --workdir /work/tmp-store/pg-million          # 192-d
    PYTHONPATH=src python bench/pg_million.py --dim 512 --workdir /work/tmp-store/pg-million
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from psycopg import sql

from bench_store import MODEL, exact_top1, faces, make_vectors, noisy_probes, run_searches
from pg_add_faces import _cpu_s, start_postgres, stop_postgres
from visage.store import open_store
from visage.store import postgres as pgmod
from visage.store.base import check_image_size, check_template, dedupe_key, unit_vector


def _rowwise_add_faces(store, collection_id: str, faces: list) -> list:
    """The peer: PostgresStore.add_faces as it was before the COPY path (main at 04c64c0)."""
    with store._tx() as c:
        coll = store._coll(c, collection_id)
        info = coll.info()
        now = datetime.now(UTC)
        rows, keys = [], []
        for f in faces:
            check_template(info, f.template)
            key = dedupe_key(f)
            keys.append(key)
            img_w, img_h = check_image_size(f)
            b = f.box
            rows.append((f.face_id or str(uuid.uuid4()), f.image_id, f.external_image_id, float(b.left),
                         float(b.top), float(b.width), float(b.height), float(f.confidence),
                         json.dumps(f.quality) if f.quality is not None else None,
                         unit_vector(f.template.vector), key, f.created_at or now, img_w, img_h))
        insert = sql.SQL(
            "INSERT INTO {} (face_id, image_id, external_image_id, box_left, box_top, box_width, "
            "box_height, confidence, quality, embedding, dedupe_key, created_at, image_width, "
            "image_height) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %b, %s, %s, %s, %s) "
            "ON CONFLICT (dedupe_key) DO NOTHING"
        ).format(coll.table)
        with c.cursor() as cur:
            cur.executemany(insert, rows)
        with c.cursor(binary=True) as cur:
            found = {r[-1]: r[:-1] for r in cur.execute(
                sql.SQL("SELECT " + pgmod._FACE_COLS + ", dedupe_key FROM {} WHERE dedupe_key = ANY(%s)").format(
                    coll.table), (keys,))}
    return [store._face(found[k], coll) for k in keys]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--probes", default="0,16,64", help="0 = the store's default")
    ap.add_argument("--workdir", default="/tmp/vpg-million")
    ap.add_argument("--add-batches", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()


    workdir = Path(args.workdir)
    server = start_postgres(workdir)
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
        with psycopg.connect(uri) as conn:
            db, table, index = conn.execute(
                "SELECT pg_database_size(current_database()), pg_total_relation_size('visage_faces_1'), "
                "(SELECT sum(pg_relation_size(indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE indrelid = 'visage_faces_1'::regclass AND c.relname LIKE '%_ivf_%')"
            ).fetchone()
        print(f"database size {db / 2**20:.0f} MiB (faces table with its indexes {table / 2**20:.0f} MiB, "
              f"of which the IVF index {index / 2**20:.0f} MiB)", flush=True)
        store = open_store(uri)
        extra = make_vectors(2 * args.add_batches * args.batch, args.dim, 99)
        ways = {"copy": store.add_faces, "rowwise": lambda cid, b: _rowwise_add_faces(store, cid, b)}
        wall = dict.fromkeys(ways, 0.0)
        cpu = dict.fromkeys(ways, 0.0)
        pgdata = workdir / "pgdata"
        for i in range(args.add_batches):
            for j, (name, add) in enumerate(ways.items()):
                s = (2 * i + j) * args.batch
                batch = list(faces(extra[s : s + args.batch], args.n + s))
                c, t = _cpu_s(pgdata), time.perf_counter()
                out = add("bench", batch)
                wall[name] += time.perf_counter() - t
                cpu[name] += _cpu_s(pgdata) - c
                assert len(out) == len(batch)
        added = args.add_batches * args.batch
        print(f"add_faces in batches of {args.batch} into the {args.n}-face collection, IVF index live "
              f"({store.index_info('bench')}), {added} faces each way, alternating batches; "
              f"load {os.getloadavg()[0]:.1f}")
        for name in ways:
            print(f"  {name:8s} {added / wall[name]:6.0f} faces/s wall, {added / cpu[name]:6.0f} faces per CPU-second "
                  f"(client + server)")
        print(f"  ratio copy/rowwise: {wall['rowwise'] / wall['copy']:.2f}x wall, {cpu['rowwise'] / cpu['copy']:.2f}x "
              "per CPU-second", flush=True)
        store.close()
    finally:
        stop_postgres(server, workdir)


if __name__ == "__main__":
    main()
