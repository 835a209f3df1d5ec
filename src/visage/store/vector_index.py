"""In-process vector index for one collection: exact numpy search when small, HNSW when large.

Keys are the database row ids (``faces.seq``, never reused), so the index can always be checked
against the records. Below ``hnsw_threshold`` vectors an exact matrix product is both faster to
keep up to date and exact; above it a usearch HNSW graph keeps search sub-millisecond on a
million faces. Vectors are unit length, so inner product == cosine.

Thread safety: a readers-writer lock; many searches run at once, a mutation excludes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from usearch.index import Index

DEFAULT_HNSW_THRESHOLD = 20_000
#: HNSW parameters, chosen with bench/bench_store.py: at 10^5 x 128-d noisy probes, ef_search 96
#: gave recall@1 0.978, 200 gave 0.999; 256 leaves margin for 10^6 (see docs/store.md).
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 256
#: Batches at least this large are inserted with ``threads`` (bulk builds, repairs).
BULK = 10_000


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


def _new_hnsw(dim: int) -> Index:
    return Index(
        ndim=dim,
        metric="ip",
        dtype="f32",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


class CollectionIndex:
    """All vectors of one collection, searchable by cosine; see the module docstring."""

    def __init__(self, dim: int, hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD, threads: int = 0) -> None:
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.threads = threads
        self.lock = RWLock()
        self.max_key = 0
        self._hnsw: Index | None = None
        # exact mode: rows [0, n) of a growable matrix, key <-> row maps
        self._mat = np.empty((0, dim), dtype=np.float32)
        self._keys = np.empty(0, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._n = 0

    # ------------------------------------------------------------------ state

    @property
    def mode(self) -> str:
        return "hnsw" if self._hnsw is not None else "exact"

    def __len__(self) -> int:
        return len(self._hnsw) if self._hnsw is not None else self._n

    def keys(self) -> np.ndarray:
        """Every key held (int64), in no particular order."""
        with self.lock.read():
            if self._hnsw is not None:
                return np.asarray(self._hnsw.keys, dtype=np.uint64).astype(np.int64)
            return self._keys[: self._n].copy()

    # ------------------------------------------------------------------ mutation

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors under new keys (callers never re-add a live key)."""
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        with self.lock.write():
            if self._hnsw is not None:
                # Small batches go in single-threaded: on 2 cores it is as fast, and concurrent
                # insertion into a small graph leaves a few nodes hard to reach (measured).
                threads = self.threads if len(keys) >= BULK else 1
                self._hnsw.add(keys.astype(np.uint64), vectors, threads=threads)
            else:
                self._exact_add(keys, vectors)
                if self._n > self.hnsw_threshold:
                    self._promote()
            self.max_key = max(self.max_key, int(keys.max()))

    def remove(self, keys: np.ndarray) -> int:
        """Drop keys that are present; returns how many were removed."""
        keys = np.asarray(keys, dtype=np.int64)
        removed = 0
        with self.lock.write():
            if self._hnsw is not None:
                present = [k for k in keys.tolist() if self._hnsw.contains(k)]
                if present:
                    self._hnsw.remove(np.asarray(present, dtype=np.uint64))
                return len(present)
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
        """Exact -> HNSW once the collection outgrows brute force (caller holds the write lock)."""
        hnsw = _new_hnsw(self.dim)
        hnsw.add(self._keys[: self._n].astype(np.uint64), self._mat[: self._n], threads=1)
        self._hnsw = hnsw
        self._mat = np.empty((0, self.dim), dtype=np.float32)
        self._keys = np.empty(0, dtype=np.int64)
        self._row = {}
        self._n = 0

    # ------------------------------------------------------------------ search

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (keys, cosines), best first."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(self.dim)
        with self.lock.read():
            n = len(self)
            k = min(k, n)
            if k <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            if self._hnsw is not None:
                m = self._hnsw.search(query, k, threads=1)
                return m.keys.astype(np.int64), (1.0 - m.distances).astype(np.float32)
            return top_k(self._keys[:n], self._mat[:n] @ query, k)

    # ------------------------------------------------------------------ persistence

    def save(self, path: Path) -> None:
        """Write the HNSW graph (exact mode is rebuilt from the records, never saved)."""
        if self._hnsw is None:
            raise ValueError("only an HNSW index is persisted")
        with self.lock.read():
            self._hnsw.save(str(path))

    @classmethod
    def load(
        cls, path: Path, dim: int, max_key: int, hnsw_threshold: int, threads: int = 0
    ) -> CollectionIndex:
        idx = cls(dim, hnsw_threshold, threads)
        hnsw = _new_hnsw(dim)
        hnsw.load(str(path))
        if hnsw.ndim != dim:
            raise ValueError(f"index file has dim {hnsw.ndim}, collection has {dim}")
        hnsw.expansion_search = EXPANSION_SEARCH
        idx._hnsw = hnsw
        idx.max_key = max_key
        return idx

    @classmethod
    def build(
        cls, keys: np.ndarray, vectors: np.ndarray, dim: int, hnsw_threshold: int, threads: int = 0
    ) -> CollectionIndex:
        """A fresh index over the given records, HNSW directly when above the threshold."""
        idx = cls(dim, hnsw_threshold, threads)
        if len(keys) > hnsw_threshold:
            idx._hnsw = _new_hnsw(dim)
            idx._hnsw.add(np.asarray(keys, dtype=np.uint64), vectors, threads=threads)
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
