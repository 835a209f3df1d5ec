"""In-process vector index for one collection: exact numpy search when small, IVF when large.

Keys are the database row ids (``faces.seq``, never reused), so the index can always be checked
against the records. Below ``ann_threshold`` vectors an exact matrix product is both faster to
keep up to date and exact. Above it a faiss IVF-Flat index (inner product on unit vectors ==
cosine) scans the ``nprobe`` inverted lists nearest the probe: full-precision vectors, so the
only error is a true neighbour in an unscanned list.

Why IVF-Flat and not HNSW: measured on this project's 2-core CI machine with 10^6 x 128-d unit
vectors and noisy probes (cosine ~0.91 to an enrolled vector), usearch HNSW (M=16,
ef_construction=64, ef_search=256) built incrementally took 836 s and reached recall@1 0.80;
IVF-Flat (2048 lists) trained and filled in 48 s and reached recall@1 0.996 at nprobe=64 with a
p50 of 0.9 ms (bench/bench_store.py, docs/store.md). IVF also makes adds and deletes cheap.

Thread safety: a readers-writer lock; many searches run at once, a mutation excludes them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

DEFAULT_ANN_THRESHOLD = 20_000
#: Lists scanned per probe: max(MIN_NPROBE, nlist / SCAN_DIVISOR). Measured at 10^6 x 128-d,
#: 2048 lists: 16 probes -> recall@1 0.924, 32 -> 0.974, 64 -> 0.996, 128 -> 1.0; at 10^5 with
#: 282 lists, 16 probes gave only 0.979, so the floor is an absolute 64 (docs/store.md).
SCAN_DIVISOR = 24
MIN_NPROBE = 64
#: Re-cluster when the collection has grown this many times past the size the lists were trained
#: on, which bounds the vectors scanned per probe (64 lists of at most 4x their trained size).
RETRAIN_GROWTH = 4


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


class _IVF:
    """A trained faiss IVF-Flat index plus the bookkeeping to search, dump and retrain it."""

    def __init__(self, index: faiss.IndexIVFFlat, trained_n: int) -> None:
        self.index = index
        self.trained_n = trained_n
        self.nprobe = min(index.nlist, max(MIN_NPROBE, math.ceil(index.nlist / SCAN_DIVISOR)))

    @classmethod
    def train(cls, vectors: np.ndarray, dim: int) -> _IVF:
        n = len(vectors)
        nlist = nlist_for(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()  # the IVF owns and frees its quantizer
        sample = min(n, nlist * 64)
        rows = np.random.default_rng(0).choice(n, sample, replace=False) if sample < n else slice(None)
        index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
        return cls(index, n)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), keys.astype(np.int64))

    def remove(self, keys: np.ndarray) -> int:
        return int(self.index.remove_ids(faiss.IDSelectorBatch(keys.astype(np.int64))))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        params = faiss.SearchParametersIVF(nprobe=self.nprobe)
        scores, keys = self.index.search(query.reshape(1, -1), k, params=params)
        found = keys[0] >= 0
        return keys[0][found].astype(np.int64), scores[0][found].astype(np.float32)

    def dump(self, vectors: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Every (key, vector) held, read straight from the inverted lists (keys only if asked)."""
        lists = self.index.invlists
        dim = self.index.d
        keys, vecs = [], []
        for lst in range(self.index.nlist):
            size = lists.list_size(lst)
            if size:
                keys.append(faiss.rev_swig_ptr(lists.get_ids(lst), size).copy())
                if not vectors:
                    continue
                codes = faiss.rev_swig_ptr(lists.get_codes(lst), size * lists.code_size).copy()
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

    def __init__(self, dim: int, ann_threshold: int = DEFAULT_ANN_THRESHOLD) -> None:
        self.dim = dim
        self.ann_threshold = ann_threshold
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
        ivf = _IVF.train(self._mat[: self._n], self.dim)
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
        with self.lock.read():
            assert self._ivf is not None
            keys, vecs = self._ivf.dump()
        ivf = _IVF.train(vecs, self.dim)
        ivf.add(keys, vecs)
        with self.lock.write():
            self._ivf = ivf

    # ------------------------------------------------------------------ search

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (keys, cosines), best first."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(self.dim)
        with self.lock.read():
            n = len(self)
            k = min(k, n)
            if k <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            if self._ivf is not None:
                return self._ivf.search(query, k)
            return top_k(self._keys[:n], self._mat[:n] @ query, k)

    # ------------------------------------------------------------------ persistence

    def save(self, path: Path) -> None:
        """Write the IVF index (exact mode is rebuilt from the records, never saved)."""
        if self._ivf is None:
            raise ValueError("only an IVF index is persisted")
        with self.lock.read():
            faiss.write_index(self._ivf.index, str(path))

    @classmethod
    def load(cls, path: Path, dim: int, max_key: int, trained_n: int, ann_threshold: int) -> CollectionIndex:
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIVFFlat) or index.d != dim:
            raise ValueError(f"index file is not an IVF-Flat index of dim {dim}")
        idx = cls(dim, ann_threshold)
        idx._ivf = _IVF(index, trained_n)
        idx.max_key = max_key
        return idx

    @property
    def trained_n(self) -> int:
        return self._ivf.trained_n if self._ivf is not None else 0

    @classmethod
    def build(cls, keys: np.ndarray, vectors: np.ndarray, dim: int, ann_threshold: int) -> CollectionIndex:
        """A fresh index over the given records, IVF directly when above the threshold."""
        idx = cls(dim, ann_threshold)
        if len(keys) > ann_threshold:
            idx._ivf = _IVF.train(vectors, dim)
            idx._ivf.add(np.asarray(keys, dtype=np.int64), vectors)
            idx.max_key = int(np.max(keys))
        else:
            idx.add(keys, vectors)
        return idx


def top_k(keys: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (keys, scores) of an exact scoring, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = part[np.argsort(-scores[part], kind="stable")]
    return keys[order].astype(np.int64), scores[order].astype(np.float32)
