"""Where PostgreSQL's add_faces time goes: ways to insert batches into an n-face faces table.

A collection of ``--n`` faces is loaded through the store (index built once, as an import does),
then batches of 1,000 rows go in by each way below on one connection, with the IVF index live
and then without it, and with ``synchronous_commit = off``:

* ``executemany``: row-by-row INSERT ... ON CONFLICT DO NOTHING (psycopg pipelines them): the
  previous add_faces;
* ``copy binary``: one binary COPY straight into the table (no ON CONFLICT: the floor);
* ``copy text``: the same with pgvector's text form ``[x,y,...]`` (float formatting/parsing);
* ``copy staged``: binary COPY into a temporary table, then INSERT ... SELECT ... ON CONFLICT
  DO NOTHING RETURNING: what add_faces does now.

Prints microseconds of server CPU (every PostgreSQL process, as pg_add_faces.py counts it)
and client CPU per row, and faces per CPU-second (client + server).

    PYTHONPATH=src python bench/pg_insert_paths.py --n 100000 --dim 192
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from pgvector.psycopg import register_vector

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import MODEL, faces, make_vectors
from pg_add_faces import _server_cpu_s, start_postgres, stop_postgres
from visage.store import open_store

COLS = (
    "face_id, image_id, external_image_id, box_left, box_top, box_width, box_height, confidence, quality, "
    "embedding, dedupe_key, created_at, image_width, image_height"
)
TYPES = ["text", "text", "text", "real", "real", "real", "real", "real", "jsonb", "vector", "text", "timestamptz",
         "integer", "integer"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--batches", type=int, default=5, help="batches of 1,000 per way")
    ap.add_argument("--workdir", default="/tmp/vpg-paths")
    args = ap.parse_args()

    batch = 1000
    workdir = Path(args.workdir)
    server = start_postgres(workdir)
    pgdata = workdir / "pgdata"
    uri = server.get_uri()
    base = make_vectors(args.n + batch * args.batches * 12, args.dim, 7)
    offset = [args.n]
    try:
        store = open_store(uri)
        store.create_collection("bench", MODEL, args.dim)
        with store._bulk_load("bench"):
            for s in range(0, args.n, 5000):
                store.add_faces("bench", list(faces(base[s : min(s + 5000, args.n)], s)))
        info = store.index_info("bench")
        store.close()
        conn = psycopg.connect(uri, autocommit=True)
        register_vector(conn)
        table = "visage_faces_1"

        def rows() -> list[tuple]:
            s = offset[0]
            offset[0] += batch
            now = datetime.now(UTC)
            return [(str(uuid.uuid4()), f"img{s + i}", None, 10.0, 20.0, 100.0, 120.0, 0.99, None, base[s + i],
                     f"img{s + i}\x1f\x1f10,20,100,120", now, None, None) for i in range(batch)]  # fmt: skip

        def executemany(c: psycopg.Connection) -> None:
            q = (f"INSERT INTO {table} ({COLS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%b,%s,%s,%s,%s) "
                 "ON CONFLICT (dedupe_key) DO NOTHING")  # fmt: skip
            r = rows()
            with c.transaction(), c.cursor() as cur:
                cur.executemany(q, r)

        def copy_binary(c: psycopg.Connection) -> None:
            r = rows()
            copy = f"COPY {table} ({COLS}) FROM STDIN (FORMAT BINARY)"
            with c.transaction(), c.cursor() as cur, cur.copy(copy) as cp:
                cp.set_types(TYPES)
                for row in r:
                    cp.write_row(row)

        def copy_text(c: psycopg.Connection) -> None:
            r = rows()
            with c.transaction(), c.cursor() as cur, cur.copy(f"COPY {table} ({COLS}) FROM STDIN") as cp:
                for row in r:
                    cp.write_row((*row[:9], "[" + ",".join(map(str, row[9].tolist())) + "]", *row[10:]))

        def copy_staged(c: psycopg.Connection) -> None:
            r = rows()
            with c.transaction(), c.cursor() as cur:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS staged ON COMMIT DELETE ROWS AS "
                            f"SELECT {COLS} FROM {table} WITH NO DATA")  # fmt: skip
                with cur.copy(f"COPY staged ({COLS}) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(TYPES)
                    for row in r:
                        cp.write_row(row)
                cur.execute(f"INSERT INTO {table} ({COLS}) SELECT {COLS} FROM staged "
                            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq").fetchall()  # fmt: skip

        def unnest(c: psycopg.Connection) -> None:
            r = rows()
            cols = list(zip(*r, strict=True))
            params = [list(col) for col in cols]
            casts = ["text[]", "text[]", "text[]", "real[]", "real[]", "real[]", "real[]", "real[]", "jsonb[]",
                     "vector[]", "text[]", "timestamptz[]", "integer[]", "integer[]"]  # fmt: skip
            args_sql = ", ".join(f"%s::{t}" for t in casts)
            with c.transaction(), c.cursor(binary=True) as cur:
                cur.execute(f"INSERT INTO {table} ({COLS}) SELECT * FROM unnest({args_sql}) "
                            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq", params).fetchall()  # fmt: skip

        def measure(label: str, way: Callable[[psycopg.Connection], None]) -> None:
            s0, c0, t0 = _server_cpu_s(pgdata), time.process_time(), time.perf_counter()
            for _ in range(args.batches):
                way(conn)
            server_s, client_s = _server_cpu_s(pgdata) - s0, time.process_time() - c0
            k = args.batches * batch
            print(f"{label:40s} wall {k / (time.perf_counter() - t0):6.0f}/s  server {1e6 * server_s / k:5.0f} us/row  "
                  f"client {1e6 * client_s / k:5.0f} us/row  {k / (server_s + client_s):6.0f} faces/CPU-s  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)

        print(f"dim={args.dim} n={args.n} {info}; batches of {batch}; {os.cpu_count()} cpus")
        ways = {"executemany": executemany, "copy binary": copy_binary, "copy text": copy_text,
                "copy staged (add_faces)": copy_staged, "unnest arrays": unnest}  # fmt: skip
        ivf = conn.execute(
            f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND indexname LIKE '%\\_ivf\\_%'"
        ).fetchone()
        for name, way in ways.items():  # a small --n stays on exact search: there is no IVF index to keep up
            measure(f"{name}, {'IVF index' if ivf else 'no IVF index (exact search)'}", way)
        if ivf:
            conn.execute(f"DROP INDEX {ivf[0]}")
            for name in ("executemany", "copy binary", "copy staged (add_faces)", "unnest arrays"):
                measure(f"{name}, no IVF index", ways[name])
        conn.execute("SET synchronous_commit = off")
        measure("copy staged, no IVF, synchronous_commit off", copy_staged)
        conn.close()
    finally:
        stop_postgres(server, workdir)


if __name__ == "__main__":
    main()
