"""In-process vector index for one collection: exact numpy search when small, IVF when large.

Keys are the database row ids (``faces.seq``, never reused), so the index can always be checked
against the records. Below ``ann_threshold`` vectors an exact matrix product is both faster to
keep up to date and exact. Above it a faiss IVF index (inner product on unit vectors == cosine)
scans the ``nprobe`` inverted lists nearest the probe.

The IVF lists hold **4-bit product-quantised codes** (faiss ``IndexIVFPQFastScan``, one 4-bit
code per 8 dimensions: 32 bytes per 512-d face instead of 2048), and the best
``max(RERANK_MIN, RERANK_FACTOR * k)`` candidates are **re-ranked exactly** on their stored
float32 templates, which the store reads back from its records (``VectorSource``). So the
cosines returned are exact, the index is 1/64 of the vectors' size (it loads in tens of ms at
10^6 faces, which is what keeps restart under a second), and a scan of a few percent of the
collection takes about a millisecond. The only error left is the IVF one: a true neighbour in
an unscanned list, or (rarely) pushed out of the candidates by quantisation error.
Below 192 dimensions (dlib's 128-d) and for collections too small to train the codebooks, the
lists keep full vectors (IVF-Flat, exact scores, no re-rank), as they did before. 192-d (the default
MobileFaceNet embedder) uses PQ: at 10^6 faces IVF-Flat measured a search CPU p99 of 8.9 ms and a
2.7 s restart (a 777 MB index file) against issue 11's 5 ms and 1 s (docs/store.md).

Why IVF-Flat and not HNSW: measured on this project's 2-core CI machine with 10^6 x 128-d unit
vectors and noisy probes (cosine ~0.91 to an enrolled vector), usearch HNSW (M=16,
ef_construction=64, ef_search=256) built incrementally took 836 s and reached recall@1 0.80;
IVF-Flat (2048 lists) trained and filled in 48 s and reached recall@1 0.996 at nprobe=64 with a
p50 of 0.9 ms (bench/bench_store.py, docs/store.md). IVF also makes adds and deletes cheap.

512-d, 10^6 faces (bench/bench_store.py --dim 512): IVF-Flat would hold 2 GB, take seconds
to load and about 4x the 128-d scan time; PQ fast-scan + exact re-ranking is measured in
docs/store.md.

Thread safety: a readers-writer lock; many searches run at once, a mutation excludes them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import faiss


def _faiss():
    """faiss, imported on first ANN use: most collections stay exact, and serving starts 60 ms sooner."""
    import faiss

    return faiss

DEFAULT_ANN_THRESHOLD = 20_000
#: Lists scanned per probe: max(MIN_NPROBE, nlist / SCAN_DIVISOR). Measured at 10^6 x 128-d,
#: 2048 lists: 16 probes -> recall@1 0.924, 32 -> 0.974, 64 -> 0.996, 128 -> 1.0; at 10^5 with
#: 282 lists, 16 probes gave only 0.979, so the floor is an absolute 64 (docs/store.md).
SCAN_DIVISOR = 24
MIN_NPROBE = 64
#: Re-cluster when the collection has grown this many times past the size the lists were trained
#: on, which bounds the vectors scanned per probe (64 lists of at most 4x their trained size).
RETRAIN_GROWTH = 4
#: Candidates re-ranked exactly per search: max(RERANK_MIN, RERANK_FACTOR * k).
RERANK_MIN = 32
RERANK_FACTOR = 3
#: PQ needs enough training vectors for its 16 centroids per sub-space (faiss asks for 39 each).
PQ_MIN_TRAIN = 1000
#: Below this dimension the lists keep full vectors (IVF-Flat): the index is small anyway (128-d:
#: 512 MB at 10^6, measured in docs/store.md), and with few sub-spaces the 4-bit codes are too
#: coarse for a short re-rank list (at 16-d a face was not always among its own 32 candidates).
#: 192-d (24 sub-spaces of 8 dimensions, as at 512-d) is PQ: IVF-Flat there missed the 10^6-face
#: search and restart targets (docs/store.md, 192-d).
PQ_MIN_DIM = 192
#: k-means iterations for PQ indexes (coarse lists and codebooks): 2.5x cheaper than faiss's
#: default 25, which matters for a retrain at 10^6 x 512 on 2 cores (recall measured with it).
KMEANS_ITERATIONS = 10


class VectorSource(Protocol):
    """Where the exact vectors live (the store's records): for re-ranking and for retraining."""

    def vectors(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keys found, their float32 vectors); keys deleted meanwhile are simply absent."""
        ...

    def stream(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (keys, vectors) of the collection, in chunks."""
        ...


def pq_subspaces(dim: int) -> int | None:
    """PQ sub-spaces: about 8 dimensions each, an even count dividing ``dim`` (fast-scan's rule)."""
    for m in range(dim // 8, 1, -1):
        if dim % m == 0 and m % 2 == 0:
            return m
    return None


class RWLock:
    """Writer-preferring readers-writer lock (the stdlib has none)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def nlist_for(n: int) -> int:
    """About 2*sqrt(n) lists, with >= 39 training points per list (faiss's k-means floor)."""
    return max(1, min(int(2 * math.sqrt(n)), n // 39))


def uses_pq(dim: int, n: int) -> bool:
    """PQ codes from 192-d (PQ_MIN_DIM) up, once there are enough vectors to train the codebooks."""
    return pq_subspaces(dim) is not None and dim >= PQ_MIN_DIM and min(n, nlist_for(n) * 48) >= PQ_MIN_TRAIN


def train_sample_size(n: int, dim: int) -> int:
    """Training vectors for an IVF over ``n``: 48 per list for PQ (a retrain at 10^6 x 512 stays
    affordable), 64 per list for IVF-Flat (as measured at 128-d before PQ existed)."""
    return min(n, nlist_for(n) * (48 if uses_pq(dim, n) else 64))


class _IVF:
    """A trained faiss IVF index (PQ fast-scan, or IVF-Flat) plus what it needs to search it."""

    def __init__(self, index: faiss.IndexIVF, trained_n: int) -> None:
        self.index = index
        self.trained_n = trained_n
        self.nprobe = min(index.nlist, max(MIN_NPROBE, math.ceil(index.nlist / SCAN_DIVISOR)))
        self.exact = isinstance(index, _faiss().IndexIVFFlat)  # lists hold full vectors: no re-rank

    @classmethod
    def train(cls, sample: np.ndarray, dim: int, n: int) -> _IVF:
        """Lists (and PQ codebooks) trained on ``sample``, sized for a collection of ``n``."""
        nlist = nlist_for(n)
        quantizer = _faiss().IndexFlatIP(dim)
        m = pq_subspaces(dim)
        if m is not None and uses_pq(dim, n) and len(sample) >= PQ_MIN_TRAIN:
            index = _faiss().IndexIVFPQFastScan(quantizer, dim, nlist, m, 4, _faiss().METRIC_INNER_PRODUCT)
            index.pq.cp.niter = KMEANS_ITERATIONS
            index.cp.niter = KMEANS_ITERATIONS
        else:
            index = _faiss().IndexIVFFlat(quantizer, dim, nlist, _faiss().METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()  # the IVF owns and frees its quantizer
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return cls(index, n)

    @classmethod
    def train_on(cls, vectors: np.ndarray, dim: int) -> _IVF:
        n = len(vectors)
        size = train_sample_size(n, dim)
        rows = np.random.default_rng(0).choice(n, size, replace=False) if size < n else slice(None)
        return cls.train(vectors[rows], dim, n)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), keys.astype(np.int64))

    def remove(self, keys: np.ndarray) -> int:
        return int(self.index.remove_ids(_faiss().IDSelectorBatch(keys.astype(np.int64))))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        params = _faiss().SearchParametersIVF(nprobe=self.nprobe)
        scores, keys = self.index.search(query.reshape(1, -1), k, params=params)
        found = keys[0] >= 0
        return keys[0][found].astype(np.int64), scores[0][found].astype(np.float32)

    def dump(self, vectors: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Every (key, vector) held, read straight from the inverted lists (keys only if asked;
        vectors only from IVF-Flat lists, PQ codes cannot give them back)."""
        if vectors and not self.exact:
            raise ValueError("a PQ index holds codes, not vectors")
        lists = self.index.invlists
        dim = self.index.d
        keys, vecs = [], []
        for lst in range(self.index.nlist):
            size = lists.list_size(lst)
            if size:
                keys.append(_faiss().rev_swig_ptr(lists.get_ids(lst), size).copy())
                if not vectors:
                    continue
                codes = _faiss().rev_swig_ptr(lists.get_codes(lst), size * lists.code_size).copy()
                vecs.append(codes.view(np.float32).reshape(size, dim))
        if not keys:
            return np.empty(0, np.int64), np.empty((0, dim), np.float32)
        all_vecs = np.concatenate(vecs) if vectors else np.empty((0, dim), np.float32)
        return np.concatenate(keys).astype(np.int64), all_vecs


class CollectionIndex:
    """All vectors of one collection, searchable by cosine; see the module docstring.

    Searches may run from any number of threads; mutations (add, remove) must be serialised by
    the caller (SQLiteStore holds its writer lock), which lets a retrain run without blocking them.
    """

    def __init__(
        self, dim: int, ann_threshold: int = DEFAULT_ANN_THRESHOLD, source: VectorSource | None = None
    ) -> None:
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.source = source
        self.lock = RWLock()
        self.max_key = 0
        self._ivf: _IVF | None = None
        # exact mode: rows [0, n) of a growable matrix, key <-> row maps
        self._mat = np.empty((0, dim), dtype=np.float32)
        self._keys = np.empty(0, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._n = 0

    # ------------------------------------------------------------------ state

    @property
    def mode(self) -> str:
        return "ivf" if self._ivf is not None else "exact"

    @property
    def kind(self) -> str:
        """``exact``, ``ivf-pq`` (codes + exact re-rank) or ``ivf-flat`` (full vectors in the lists)."""
        if self._ivf is None:
            return "exact"
        return "ivf-flat" if self._ivf.exact else "ivf-pq"

    def __len__(self) -> int:
        return len(self._ivf) if self._ivf is not None else self._n

    def keys(self) -> np.ndarray:
        """Every key held (int64), in no particular order."""
        with self.lock.read():
            if self._ivf is not None:
                return self._ivf.dump(vectors=False)[0]
            return self._keys[: self._n].copy()

    # ------------------------------------------------------------------ mutation

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors under new keys (callers never re-add a live key)."""
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        with self.lock.write():
            if self._ivf is not None:
                self._ivf.add(keys, vectors)
            else:
                self._exact_add(keys, vectors)
                if self._n > self.ann_threshold:
                    self._promote()
            self.max_key = max(self.max_key, int(keys.max()))
            retrain = self._ivf is not None and len(self._ivf) > RETRAIN_GROWTH * self._ivf.trained_n
        if retrain:
            self._retrain()

    def remove(self, keys: np.ndarray) -> int:
        """Drop keys that are present; returns how many were removed."""
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size == 0:
            return 0
        removed = 0
        with self.lock.write():
            if self._ivf is not None:
                return self._ivf.remove(keys)
            for k in keys.tolist():
                row = self._row.pop(int(k), None)
                if row is None:
                    continue
                last = self._n - 1
                if row != last:  # swap the last row into the hole
                    moved = int(self._keys[last])
                    self._mat[row] = self._mat[last]
                    self._keys[row] = moved
                    self._row[moved] = row
                self._n -= 1
                removed += 1
        return removed

    def _exact_add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        need = self._n + len(keys)
        if need > self._mat.shape[0]:
            cap = max(need, 2 * self._mat.shape[0], 1024)
            mat = np.empty((cap, self.dim), dtype=np.float32)
            mat[: self._n] = self._mat[: self._n]
            ks = np.empty(cap, dtype=np.int64)
            ks[: self._n] = self._keys[: self._n]
            self._mat, self._keys = mat, ks
        self._mat[self._n : need] = vectors
        self._keys[self._n : need] = keys
        for i, k in enumerate(keys.tolist()):
            self._row[k] = self._n + i
        self._n = need

    def _promote(self) -> None:
        """Exact -> IVF once the collection outgrows brute force (caller holds the write lock)."""
        ivf = _IVF.train_on(self._mat[: self._n], self.dim)
        ivf.add(self._keys[: self._n], self._mat[: self._n])
        self._ivf = ivf
        self._mat = np.empty((0, self.dim), dtype=np.float32)
        self._keys = np.empty(0, dtype=np.int64)
        self._row = {}
        self._n = 0

    def _retrain(self) -> None:
        """The lists were trained on a much smaller collection: re-cluster on today's vectors.

        Searches keep using the old index while the new one is built (a minute at 10^6); only
        the swap takes the write lock. Callers serialise mutations (the store's writer lock), so
        nothing changes the old index in between.
        """
        assert self._ivf is not None
        if self._ivf.exact or self.source is None:
            with self.lock.read():
                keys, vecs = self._ivf.dump()
            ivf = _IVF.train_on(vecs, self.dim)
            ivf.add(keys, vecs)
        else:
            ivf, _ = self._train_from_source(len(self))
        with self.lock.write():
            self._ivf = ivf

    def _train_from_source(self, n: int) -> tuple[_IVF, int]:
        """Train on a sample of the source's vectors, then fill: two passes, one chunk in memory.

        Returns the index and the largest key added."""
        assert self.source is not None
        fraction = train_sample_size(n, self.dim) / max(n, 1)
        rng = np.random.default_rng(0)
        sample = [vecs[rng.random(len(vecs)) < fraction] for _, vecs in self.source.stream()]
        ivf = _IVF.train(np.concatenate(sample) if sample else np.empty((0, self.dim), np.float32), self.dim, n)
        max_key = 0
        for keys, vecs in self.source.stream():
            ivf.add(keys, vecs)
            max_key = max(max_key, int(keys.max()))
        return ivf, max_key

    # ------------------------------------------------------------------ search

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (keys, cosines), best first; cosines are exact in every mode."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(self.dim)
        with self.lock.read():
            n = len(self)
            k = min(k, n)
            if k <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            if self._ivf is None:
                return top_k(self._keys[:n], self._mat[:n] @ query, k)
            if self._ivf.exact or self.source is None:
                return self._ivf.search(query, k)
            candidates, _ = self._ivf.search(query, min(n, max(RERANK_MIN, RERANK_FACTOR * k)))
        keys, vecs = self.source.vectors(candidates)
        return top_k(keys, vecs @ query, k)

    def candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """(keys, scores, final): the top-``k`` with exact cosines when ``final``, else the
        ``max(RERANK_MIN, RERANK_FACTOR * k)`` PQ candidates (approximate scores) for the caller
        to re-rank on the stored vectors it reads anyway (the store fetches their rows once)."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(self.dim)
        with self.lock.read():  # not re-entrant (a waiting writer blocks new readers): no nesting
            n = len(self)
            k = min(k, n)
            if k <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32), True
            if self._ivf is None:
                keys, scores = top_k(self._keys[:n], self._mat[:n] @ query, k)
                return keys, scores, True
            if self._ivf.exact:
                keys, scores = self._ivf.search(query, k)
                return keys, scores, True
            keys, scores = self._ivf.search(query, min(n, max(RERANK_MIN, RERANK_FACTOR * k)))
            return keys, scores, False

    # ------------------------------------------------------------------ persistence

    def save(self, path: Path) -> None:
        """Write the IVF index (exact mode is rebuilt from the records, never saved)."""
        if self._ivf is None:
            raise ValueError("only an IVF index is persisted")
        with self.lock.read():
            _faiss().write_index(self._ivf.index, str(path))

    @classmethod
    def load(
        cls,
        path: Path,
        dim: int,
        max_key: int,
        trained_n: int,
        ann_threshold: int,
        source: VectorSource | None = None,
    ) -> CollectionIndex:
        index = _faiss().read_index(str(path))
        if not isinstance(index, (_faiss().IndexIVFFlat, _faiss().IndexIVFPQFastScan)) or index.d != dim:
            raise ValueError(f"index file is not an IVF index of dim {dim}")
        idx = cls(dim, ann_threshold, source)
        idx._ivf = _IVF(index, trained_n)
        idx.max_key = max_key
        return idx

    @property
    def trained_n(self) -> int:
        return self._ivf.trained_n if self._ivf is not None else 0

    @classmethod
    def build(
        cls,
        keys: np.ndarray,
        vectors: np.ndarray,
        dim: int,
        ann_threshold: int,
        source: VectorSource | None = None,
    ) -> CollectionIndex:
        """A fresh index over the given records, IVF directly when above the threshold."""
        idx = cls(dim, ann_threshold, source)
        if len(keys) > ann_threshold:
            idx._ivf = _IVF.train_on(vectors, dim)
            idx._ivf.add(np.asarray(keys, dtype=np.int64), vectors)
            idx.max_key = int(np.max(keys))
        else:
            idx.add(keys, vectors)
        return idx

    @classmethod
    def build_from(cls, source: VectorSource, count: int, dim: int, ann_threshold: int) -> CollectionIndex:
        """A fresh index over the source's ``count`` records without holding them all in memory."""
        if count <= ann_threshold:
            parts = list(source.stream())
            keys = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.int64)
            vecs = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, dim), np.float32)
            return cls.build(keys, vecs, dim, ann_threshold, source)
        idx = cls(dim, ann_threshold, source)
        idx._ivf, idx.max_key = idx._train_from_source(count)
        return idx


def top_k(keys: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (keys, scores) of an exact scoring, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = part[np.argsort(-scores[part], kind="stable")]
    return keys[order].astype(np.int64), scores[order].astype(np.float32)
