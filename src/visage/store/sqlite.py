"""Embedded backend: SQLite (WAL) for records + an in-process vector index per collection.

URL: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's convention),
with optional query parameters ``synchronous`` (``full``, the default, or ``normal``),
``ann_threshold`` (faces above which a collection is searched through an IVF index instead of
exactly, default 20000) and ``checkpoint_every`` (unsaved index changes that trigger an index save,
default 50000).

Durability: the database is the only source of truth. Every write is one transaction committed
before the call returns; with ``synchronous=FULL`` SQLite fsyncs the WAL on each commit, so an
acknowledged write survives ``kill -9`` *and* an OS crash or power cut. (``synchronous=NORMAL`` in
WAL mode also survives ``kill -9`` but may lose the last commits on power loss; it saves an fsync
per call, which matters only for single-face writes.)

The vector index is a cache of the records. IVF indexes are saved to ``<db>.index/`` and a row
of ``index_state`` records which file holds which state (``max_seq``, ``count``). Face row ids
(``seq``) are AUTOINCREMENT and never reused, so on load: faces with ``seq > max_seq`` were added
after the save and are inserted; if fewer faces with ``seq <= max_seq`` remain than the file holds,
the difference was deleted and is removed. A missing, unreadable or inconsistent file is rebuilt
from the records. One process owns a database file at a time (an advisory lock enforces it),
because the in-memory index must see every write.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from visage.errors import AlreadyExistsError, InvalidParameterError, LimitExceededError, NotFoundError
from visage.store import portable, tokens
from visage.store.base import (
    MAX_FACES_PER_USER,
    USER_STATUS_ACTIVE,
    AssociationResult,
    CollectionInfo,
    FaceHit,
    FaceRecord,
    NewFace,
    StoreLockedError,
    UserHit,
    UserRecord,
    best_users,
    check_face_ids,
    check_id,
    check_image_size,
    check_max_results,
    check_model,
    check_template,
    dedupe_key,
    unit_vector,
)
from visage.store.vector_index import DEFAULT_ANN_THRESHOLD, CollectionIndex, top_k
from visage.types import Box, Template

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    cid INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    cid INTEGER NOT NULL REFERENCES collections(cid),
    face_id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    box_left REAL NOT NULL, box_top REAL NOT NULL, box_width REAL NOT NULL, box_height REAL NOT NULL,
    confidence REAL NOT NULL,
    quality TEXT,
    template BLOB NOT NULL,
    user_id TEXT,
    dedupe_key TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    image_width INTEGER,
    image_height INTEGER,
    UNIQUE (cid, face_id),
    UNIQUE (cid, dedupe_key)
);
CREATE INDEX IF NOT EXISTS faces_cid_seq ON faces (cid, seq);
CREATE INDEX IF NOT EXISTS faces_user ON faces (cid, user_id) WHERE user_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS users (
    cid INTEGER NOT NULL REFERENCES collections(cid),
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (cid, user_id)
);
CREATE TABLE IF NOT EXISTS index_state (
    cid INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    max_seq INTEGER NOT NULL,
    count INTEGER NOT NULL,
    trained_n INTEGER NOT NULL,
    saved_us INTEGER NOT NULL
);
"""

_FACE_COLS = (
    "seq, face_id, image_id, external_image_id, box_left, box_top, box_width, box_height, "
    "confidence, quality, template, user_id, created_us, image_width, image_height"
)
#: Columns added to ``faces`` after the first schema: (name, SQL type). Stores made before them
#: gain them on open (``ALTER TABLE ... ADD COLUMN``: old rows read NULL, nothing is rewritten).
_ADDED_FACE_COLUMNS = (("image_width", "INTEGER"), ("image_height", "INTEGER"))
_CHUNK = 900  # stay under SQLite's bound-parameter limit


def _now_us() -> int:
    return time.time_ns() // 1000


def _to_dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, tz=UTC)


def _to_us(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1e6)


@dataclass(frozen=True, slots=True)
class _Coll:
    cid: int
    collection_id: str
    model: str
    dim: int
    created_us: int


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _RecordVectors:
    """One collection's stored templates as a ``VectorSource``: what an IVF-PQ index re-ranks
    on (exact cosines from the records) and retrains from (its lists hold only codes)."""

    def __init__(self, store: SQLiteStore, cid: int, dim: int) -> None:
        self._store, self._cid, self._dim = store, cid, dim

    def vectors(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._store._vectors_by_seq(self._cid, self._dim, keys)

    def stream(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self._store._stream(self._cid, self._dim, 0)


class SQLiteStore:
    """:class:`~visage.store.base.TemplateStore` on one SQLite file; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "full",
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        checkpoint_every: int = 50_000,
    ) -> None:
        if synchronous.lower() not in ("full", "normal", "extra"):
            raise InvalidParameterError("synchronous must be full, normal or extra")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.index_dir = self.path.with_name(self.path.name + ".index")
        self.synchronous = synchronous.upper()
        self.ann_threshold = ann_threshold
        self.checkpoint_every = checkpoint_every
        self._lock_fp = open(self.path.with_name(self.path.name + ".lock"), "a+")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_fp, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_fp.close()
            raise StoreLockedError(
                "the SQLite store is open in another process (one process owns it: stop that one, or use"
                " PostgreSQL to share a store)", path=str(self.path)) from exc
        self._wlock = threading.RLock()
        self._atomic = False
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._wconn = self._connect()
        self._wconn.executescript(_SCHEMA)
        self._migrate()
        self._indexes: dict[int, CollectionIndex] = {}
        self._unsaved: dict[int, int] = {}
        self._index_info: dict[int, dict[str, Any]] = {}
        self._user_gen: dict[int, int] = {}
        self._user_cache: dict[int, tuple[int, np.ndarray, np.ndarray, list[str], list[str]]] = {}
        self._remove_orphan_index_files()

    def _migrate(self) -> None:
        """Bring a store made by an older visage up to this schema, in one transaction."""
        have = {row[1] for row in self._wconn.execute("PRAGMA table_info(faces)")}
        missing = [(name, kind) for name, kind in _ADDED_FACE_COLUMNS if name not in have]
        if missing:
            with self._tx() as c:
                for name, kind in missing:
                    c.execute(f"ALTER TABLE faces ADD COLUMN {name} {kind}")

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or not url.startswith("sqlite:///"):
            raise InvalidParameterError("sqlite URL must look like sqlite:///path/to/visage.db")
        path = url[len("sqlite:///") :].split("?", 1)[0]
        if not path:
            raise InvalidParameterError("sqlite URL has no path")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            return cls(
                path,
                synchronous=q.get("synchronous", "full"),
                ann_threshold=int(q.get("ann_threshold", DEFAULT_ANN_THRESHOLD)),
                checkpoint_every=int(q.get("checkpoint_every", 50_000)),
            )
        except ValueError as exc:
            raise InvalidParameterError(f"bad sqlite URL option: {exc}") from exc

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        """One connection per thread: WAL readers never block the writer or each other."""
        if self._closed:
            raise RuntimeError("store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction around several store calls (import): all of them commit, or none.

        Holds the writer lock throughout, so other writers wait; each call inside runs in a
        savepoint of this transaction. Caches of collections touched inside are dropped on rollback.
        """
        with self._wlock:
            if self._atomic:
                yield
                return
            conn = self._wconn
            conn.execute("BEGIN IMMEDIATE")
            self._atomic = True
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                self._atomic = False
                live = {r[0] for r in conn.execute("SELECT cid FROM collections")}
                for cid in {*self._indexes, *self._user_cache, *self._user_gen} - live:
                    self._forget(cid)
                raise
            self._atomic = False
            conn.execute("COMMIT")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the writer connection; committed (durable) when the block exits."""
        if self._closed:
            raise RuntimeError("store is closed")
        conn = self._wconn
        if self._atomic and self._wlock._is_owned():  # type: ignore[attr-defined]  # inside atomic()
            conn.execute("SAVEPOINT step")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK TO step")
                conn.execute("RELEASE step")
                raise
            conn.execute("RELEASE step")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several SELECTs see one consistent state."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # ------------------------------------------------------------------ rows

    @staticmethod
    def _coll(conn: sqlite3.Connection, collection_id: str) -> _Coll:
        row = conn.execute(
            "SELECT cid, collection_id, model, dim, created_us FROM collections WHERE collection_id = ?",
            (collection_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"collection {collection_id!r} not found", collection_id=collection_id)
        return _Coll(*row)

    @staticmethod
    def _face(row: tuple, coll: _Coll) -> FaceRecord:
        (_, face_id, image_id, ext, left, top, width, height, conf, quality, blob, user_id, created,
         image_width, image_height) = row  # fmt: skip
        return FaceRecord(
            face_id=face_id,
            collection_id=coll.collection_id,
            image_id=image_id,
            external_image_id=ext,
            box=Box(left, top, width, height),
            confidence=conf,
            quality=json.loads(quality) if quality is not None else None,
            template=Template(coll.model, np.frombuffer(blob, dtype="<f4").astype(np.float32)),
            user_id=user_id,
            created_at=_to_dt(created),
            image_width=image_width,
            image_height=image_height,
        )

    # ------------------------------------------------------------------ collections

    def create_collection(self, collection_id: str, model: str, dim: int) -> CollectionInfo:
        check_id(collection_id, "collection_id")
        check_model(model, dim)
        created = _now_us()
        with self._wlock:
            try:
                with self._tx() as c:
                    c.execute(
                        "INSERT INTO collections (collection_id, model, dim, created_us) VALUES (?,?,?,?)",
                        (collection_id, model, dim, created),
                    )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExistsError(
                    f"collection {collection_id!r} already exists", collection_id=collection_id
                ) from exc
        return CollectionInfo(collection_id, _to_dt(created), model, dim, 0, 0)

    def describe_collection(self, collection_id: str) -> CollectionInfo:
        with self._snapshot() as c:
            coll = self._coll(c, collection_id)
            faces = c.execute("SELECT COUNT(*) FROM faces WHERE cid = ?", (coll.cid,)).fetchone()[0]
            users = c.execute("SELECT COUNT(*) FROM users WHERE cid = ?", (coll.cid,)).fetchone()[0]
        return CollectionInfo(coll.collection_id, _to_dt(coll.created_us), coll.model, coll.dim, faces, users)

    def list_collections(
        self, max_results: int = 100, next_token: str | None = None
    ) -> tuple[list[str], str | None]:
        check_max_results(max_results)
        after = tokens.decode(next_token, "collections", "", "")
        rows = (
            self._reader()
            .execute(
                "SELECT collection_id FROM collections WHERE collection_id > ? "
                "ORDER BY collection_id LIMIT ?",
                (after, max_results + 1),
            )
            .fetchall()
        )
        ids = [r[0] for r in rows[:max_results]]
        token = tokens.encode("collections", "", ids[-1]) if len(rows) > max_results else None
        return ids, token

    def delete_collection(self, collection_id: str) -> None:
        with self._wlock:
            with self._tx() as c:
                coll = self._coll(c, collection_id)
                state = c.execute("SELECT file FROM index_state WHERE cid = ?", (coll.cid,)).fetchone()
                for table in ("faces", "users", "index_state", "collections"):
                    c.execute(f"DELETE FROM {table} WHERE cid = ?", (coll.cid,))
            self._forget(coll.cid)
            if state:
                (self.index_dir / state[0]).unlink(missing_ok=True)

    def _forget(self, cid: int) -> None:
        for d in (self._indexes, self._unsaved, self._index_info, self._user_gen, self._user_cache):
            d.pop(cid, None)

    # ------------------------------------------------------------------ faces

    def add_faces(self, collection_id: str, faces: Sequence[NewFace]) -> list[FaceRecord]:
        faces = list(faces)
        out: list[FaceRecord] = []
        new_keys: list[int] = []
        new_vecs: list[np.ndarray] = []
        with self._wlock:
            coll = self._coll(self._wconn, collection_id)
            info = CollectionInfo(coll.collection_id, _to_dt(0), coll.model, coll.dim, 0, 0)
            prepared = []
            for f in faces:
                check_template(info, f.template)
                prepared.append((f, unit_vector(f.template.vector), dedupe_key(f), check_image_size(f)))
            now = _now_us()
            try:
                with self._tx() as c:
                    for f, vec, key, (img_w, img_h) in prepared:
                        row = c.execute(
                            f"SELECT {_FACE_COLS} FROM faces WHERE cid = ? AND dedupe_key = ?",
                            (coll.cid, key),
                        ).fetchone()
                        if row is not None:
                            out.append(self._face(row, coll))
                            continue
                        face_id = f.face_id or str(uuid.uuid4())
                        created = _to_us(f.created_at) if f.created_at else now
                        quality = json.dumps(f.quality) if f.quality is not None else None
                        blob = vec.astype("<f4").tobytes()
                        b = f.box
                        cur = c.execute(
                            "INSERT INTO faces (cid, face_id, image_id, external_image_id, box_left, "
                            "box_top, box_width, box_height, confidence, quality, template, user_id, "
                            "dedupe_key, created_us, image_width, image_height) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,?,?,?,?)",
                            (
                                coll.cid, face_id, f.image_id, f.external_image_id,
                                float(b.left), float(b.top), float(b.width), float(b.height),
                                float(f.confidence), quality, blob, key, created, img_w, img_h,
                            ),
                        )  # fmt: skip
                        seq = int(cur.lastrowid or 0)
                        new_keys.append(seq)
                        new_vecs.append(vec)
                        row = (seq, face_id, f.image_id, f.external_image_id, b.left, b.top, b.width,
                               b.height, f.confidence, quality, blob, None, created, img_w, img_h)  # fmt: skip
                        out.append(self._face(row, coll))
            except sqlite3.IntegrityError as exc:
                raise AlreadyExistsError(f"a face id already exists in {collection_id!r}") from exc
            if new_keys:
                self._after_add(coll, np.asarray(new_keys, dtype=np.int64), np.stack(new_vecs))
        return out

    def _after_add(self, coll: _Coll, keys: np.ndarray, vecs: np.ndarray) -> None:
        """Mirror committed rows into a loaded index (unloaded ones catch up when loaded)."""
        idx = self._indexes.get(coll.cid)
        if idx is None:
            return
        try:
            idx.add(keys, vecs)
        except Exception:
            # The rows are committed; drop the cache so the next use reloads and repairs it.
            self._indexes.pop(coll.cid, None)
            raise
        self._unsaved[coll.cid] = self._unsaved.get(coll.cid, 0) + len(keys)
        self._maybe_checkpoint(coll, idx)

    def get_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[FaceRecord]:
        """The faces that exist, in the order asked; unknown ids are skipped."""
        with self._snapshot() as c:
            coll = self._coll(c, collection_id)
            found: dict[str, FaceRecord] = {}
            for chunk in _chunks(list(dict.fromkeys(face_ids))):
                marks = ",".join("?" * len(chunk))
                for row in c.execute(
                    f"SELECT {_FACE_COLS} FROM faces WHERE cid = ? AND face_id IN ({marks})",
                    (coll.cid, *chunk),
                ):
                    found[row[1]] = self._face(row, coll)
        return [found[f] for f in dict.fromkeys(face_ids) if f in found]

    def list_faces(
        self,
        collection_id: str,
        max_results: int = 100,
        next_token: str | None = None,
        user_id: str | None = None,
    ) -> tuple[list[FaceRecord], str | None]:
        check_max_results(max_results)
        with self._snapshot() as c:
            coll = self._coll(c, collection_id)
            scope = f"{coll.cid}/{user_id or ''}"
            after = tokens.decode(next_token, "faces", scope, 0)
            if user_id is None:
                rows = c.execute(
                    f"SELECT {_FACE_COLS} FROM faces WHERE cid = ? AND seq > ? ORDER BY seq LIMIT ?",
                    (coll.cid, after, max_results + 1),
                ).fetchall()
            else:
                self._user_row(c, coll, user_id)
                rows = c.execute(
                    f"SELECT {_FACE_COLS} FROM faces WHERE cid = ? AND user_id = ? AND seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (coll.cid, user_id, after, max_results + 1),
                ).fetchall()
        page = [self._face(r, coll) for r in rows[:max_results]]
        token = tokens.encode("faces", scope, rows[max_results - 1][0]) if len(rows) > max_results else None
        return page, token

    def delete_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[str]:
        """Delete faces (and their user associations); returns the ids that existed."""
        ids = list(dict.fromkeys(face_ids))
        with self._wlock:
            deleted: list[tuple[int, str]] = []
            with self._tx() as c:
                coll = self._coll(c, collection_id)
                for chunk in _chunks(ids):
                    marks = ",".join("?" * len(chunk))
                    rows = c.execute(
                        f"SELECT seq, face_id FROM faces WHERE cid = ? AND face_id IN ({marks})",
                        (coll.cid, *chunk),
                    ).fetchall()
                    c.executemany("DELETE FROM faces WHERE seq = ?", [(r[0],) for r in rows])
                    deleted.extend(rows)
            if deleted:
                self._bump_users(coll.cid)
                idx = self._indexes.get(coll.cid)
                if idx is not None:
                    idx.remove(np.asarray([s for s, _ in deleted], dtype=np.int64))
                    self._unsaved[coll.cid] = self._unsaved.get(coll.cid, 0) + len(deleted)
                    self._maybe_checkpoint(coll, idx)
        gone = {f for _, f in deleted}
        return [f for f in ids if f in gone]

    def search(
        self, collection_id: str, template: Template, max_results: int = 10, min_cosine: float = -1.0
    ) -> list[FaceHit]:
        """Faces most similar to ``template``, best first (IVF above the threshold: approximate)."""
        check_max_results(max_results)
        conn = self._reader()
        coll = self._coll(conn, collection_id)
        query = self._query(coll, template)
        keys, cos, final = self._index(coll).candidates(query, max_results)
        raw = self._raw_rows_by_seq(conn, coll, keys.tolist())
        if not final:  # PQ candidates: exact cosines from the templates of the rows just read
            seqs = np.fromiter(raw, dtype=np.int64, count=len(raw))
            vecs = np.frombuffer(b"".join(raw[k][10] for k in seqs.tolist()), dtype="<f4")
            keys, cos = top_k(seqs, vecs.reshape(len(seqs), coll.dim) @ query, max_results)
        keep = cos >= min_cosine
        pairs = zip(keys[keep].tolist(), cos[keep].tolist(), strict=True)
        return [FaceHit(self._face(raw[k], coll), float(s)) for k, s in pairs if k in raw]

    def _raw_rows_by_seq(self, conn: sqlite3.Connection, coll: _Coll, seqs: list[int]) -> dict[int, tuple]:
        out: dict[int, tuple] = {}
        for chunk in _chunks(seqs):
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT {_FACE_COLS} FROM faces WHERE cid = ? AND seq IN ({marks})", (coll.cid, *chunk)
            ):
                out[row[0]] = row
        return out

    @staticmethod
    def _query(coll: _Coll, template: Template) -> np.ndarray:
        check_template(CollectionInfo(coll.collection_id, _to_dt(0), coll.model, coll.dim, 0, 0), template)
        return unit_vector(template.vector)

    # ------------------------------------------------------------------ users

    @staticmethod
    def _user_row(c: sqlite3.Connection, coll: _Coll, user_id: str) -> tuple[str, int]:
        row = c.execute(
            "SELECT status, created_us FROM users WHERE cid = ? AND user_id = ?", (coll.cid, user_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"user {user_id!r} not found in {coll.collection_id!r}", user_id=user_id)
        return row

    def _bump_users(self, cid: int) -> None:
        self._user_gen[cid] = self._user_gen.get(cid, 0) + 1

    def create_user(self, collection_id: str, user_id: str) -> UserRecord:
        check_id(user_id, "user_id")
        created = _now_us()
        with self._wlock:
            try:
                with self._tx() as c:
                    coll = self._coll(c, collection_id)
                    c.execute(
                        "INSERT INTO users (cid, user_id, status, created_us) VALUES (?,?,?,?)",
                        (coll.cid, user_id, USER_STATUS_ACTIVE, created),
                    )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExistsError(f"user {user_id!r} already exists", user_id=user_id) from exc
        return UserRecord(collection_id, user_id, (), USER_STATUS_ACTIVE, _to_dt(created))

    def delete_user(self, collection_id: str, user_id: str) -> None:
        with self._wlock:
            with self._tx() as c:
                coll = self._coll(c, collection_id)
                self._user_row(c, coll, user_id)
                c.execute(
                    "UPDATE faces SET user_id = NULL WHERE cid = ? AND user_id = ?", (coll.cid, user_id)
                )
                c.execute("DELETE FROM users WHERE cid = ? AND user_id = ?", (coll.cid, user_id))
            self._bump_users(coll.cid)

    def get_user(self, collection_id: str, user_id: str) -> UserRecord:
        with self._snapshot() as c:
            coll = self._coll(c, collection_id)
            status, created = self._user_row(c, coll, user_id)
            faces = c.execute(
                "SELECT face_id FROM faces WHERE cid = ? AND user_id = ? ORDER BY seq", (coll.cid, user_id)
            ).fetchall()
        return UserRecord(collection_id, user_id, tuple(f[0] for f in faces), status, _to_dt(created))

    def list_users(
        self, collection_id: str, max_results: int = 100, next_token: str | None = None
    ) -> tuple[list[UserRecord], str | None]:
        check_max_results(max_results)
        with self._snapshot() as c:
            coll = self._coll(c, collection_id)
            after = tokens.decode(next_token, "users", str(coll.cid), "")
            rows = c.execute(
                "SELECT user_id, status, created_us FROM users WHERE cid = ? AND user_id > ? "
                "ORDER BY user_id LIMIT ?",
                (coll.cid, after, max_results + 1),
            ).fetchall()
            page = rows[:max_results]
            faces: dict[str, list[str]] = {u[0]: [] for u in page}
            for chunk in _chunks(list(faces)):
                marks = ",".join("?" * len(chunk))
                for uid, fid in c.execute(
                    f"SELECT user_id, face_id FROM faces WHERE cid = ? AND user_id IN ({marks}) ORDER BY seq",
                    (coll.cid, *chunk),
                ):
                    faces[uid].append(fid)
        users = [UserRecord(collection_id, u, tuple(faces[u]), s, _to_dt(t)) for u, s, t in page]
        token = tokens.encode("users", str(coll.cid), page[-1][0]) if len(rows) > max_results else None
        return users, token

    def associate_faces(self, collection_id: str, user_id: str, face_ids: Sequence[str]) -> AssociationResult:
        """Attach faces to a user; all-or-nothing on the 100-face limit, per-face reasons otherwise."""
        ids = check_face_ids(face_ids)
        with self._wlock:
            with self._tx() as c:
                coll = self._coll(c, collection_id)
                self._user_row(c, coll, user_id)
                owners = self._owners(c, coll, ids)
                ok, failed, todo = [], {}, []
                for fid in ids:
                    if fid not in owners:
                        failed[fid] = "face_not_found"
                    elif owners[fid] is None:
                        todo.append(fid)
                    elif owners[fid] == user_id:
                        ok.append(fid)
                    else:
                        failed[fid] = "associated_to_a_different_user"
                current = c.execute(
                    "SELECT COUNT(*) FROM faces WHERE cid = ? AND user_id = ?", (coll.cid, user_id)
                ).fetchone()[0]
                if current + len(todo) > MAX_FACES_PER_USER:
                    raise LimitExceededError(
                        f"user {user_id!r} would have {current + len(todo)} faces "
                        f"(at most {MAX_FACES_PER_USER})",
                        user_id=user_id,
                    )
                c.executemany(
                    "UPDATE faces SET user_id = ? WHERE cid = ? AND face_id = ?",
                    [(user_id, coll.cid, f) for f in todo],
                )
            self._bump_users(coll.cid)
        succeeded = [f for f in ids if f in set(ok) | set(todo)]
        return AssociationResult(user_id, tuple(succeeded), failed)

    def disassociate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str]
    ) -> AssociationResult:
        ids = check_face_ids(face_ids)
        with self._wlock:
            with self._tx() as c:
                coll = self._coll(c, collection_id)
                self._user_row(c, coll, user_id)
                owners = self._owners(c, coll, ids)
                ok, failed = [], {}
                for fid in ids:
                    if fid not in owners:
                        failed[fid] = "face_not_found"
                    elif owners[fid] == user_id:
                        ok.append(fid)
                    elif owners[fid] is None:
                        failed[fid] = "not_associated"
                    else:
                        failed[fid] = "associated_to_a_different_user"
                c.executemany(
                    "UPDATE faces SET user_id = NULL WHERE cid = ? AND face_id = ?",
                    [(coll.cid, f) for f in ok],
                )
            self._bump_users(coll.cid)
        return AssociationResult(user_id, tuple(ok), failed)

    @staticmethod
    def _owners(c: sqlite3.Connection, coll: _Coll, ids: list[str]) -> dict[str, str | None]:
        marks = ",".join("?" * len(ids))
        rows = c.execute(
            f"SELECT face_id, user_id FROM faces WHERE cid = ? AND face_id IN ({marks})", (coll.cid, *ids)
        ).fetchall()
        return dict(rows)

    def search_users(
        self, collection_id: str, template: Template, max_results: int = 10, min_cosine: float = -1.0
    ) -> list[UserHit]:
        """Users ranked by their best face; exact over the faces that belong to users."""
        check_max_results(max_results)
        conn = self._reader()
        coll = self._coll(conn, collection_id)
        query = self._query(coll, template)
        _, seqs, mat, users, face_ids = self._user_faces(conn, coll)
        # A user has <= 100 faces, so the best max_results*100 faces name the best max_results users.
        scores = mat @ query if len(seqs) else np.empty(0, dtype=np.float32)
        order, best = top_k(np.arange(len(seqs)), scores, max_results * MAX_FACES_PER_USER)
        return best_users(order.tolist(), best.tolist(), users, face_ids, max_results, min_cosine)

    def _user_faces(
        self, conn: sqlite3.Connection, coll: _Coll
    ) -> tuple[int, np.ndarray, np.ndarray, list[str], list[str]]:
        """Cached (generation, seqs, vectors, user ids, face ids) of the faces that have a user."""
        gen = self._user_gen.get(coll.cid, 0)
        cached = self._user_cache.get(coll.cid)
        if cached is not None and cached[0] == gen:
            return cached
        rows = conn.execute(
            "SELECT seq, user_id, face_id, template FROM faces WHERE cid = ? AND user_id IS NOT NULL "
            "ORDER BY seq",
            (coll.cid,),
        ).fetchall()
        seqs = np.asarray([r[0] for r in rows], dtype=np.int64)
        mat = (
            np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").astype(np.float32).reshape(-1, coll.dim)
        )
        entry = (gen, seqs, mat, [r[1] for r in rows], [r[2] for r in rows])
        self._user_cache[coll.cid] = entry
        return entry

    # ------------------------------------------------------------------ backup

    def export_collection(self, collection_id: str, fp: IO[str]) -> int:
        return portable.export_collection(self, collection_id, fp)

    def import_collection(self, fp: IO[str], collection_id: str | None = None) -> CollectionInfo:
        return portable.import_collection(self, fp, collection_id)

    # ------------------------------------------------------------------ vector index

    def _index(self, coll: _Coll) -> CollectionIndex:
        idx = self._indexes.get(coll.cid)
        if idx is not None:
            return idx
        with self._wlock:
            idx = self._indexes.get(coll.cid)
            if idx is None:
                idx = self._load_index(coll)
                self._indexes[coll.cid] = idx
        return idx

    def warm(self, collection_id: str) -> dict[str, Any]:
        """Load (and repair) a collection's index now rather than on its first search."""
        coll = self._coll(self._reader(), collection_id)
        self._index(coll)
        return self.index_info(collection_id)

    def index_info(self, collection_id: str) -> dict[str, Any]:
        """How the collection's index was last loaded: mode, size, source, repairs (for ops and tests)."""
        coll = self._coll(self._reader(), collection_id)
        info = dict(self._index_info.get(coll.cid, {}))
        idx = self._indexes.get(coll.cid)
        info.update(
            loaded=idx is not None,
            mode=idx.mode if idx else None,
            kind=idx.kind if idx else None,
            size=len(idx) if idx else 0,
        )
        return info

    def index_consistent(self, collection_id: str) -> bool:
        """True when the loaded index holds exactly the collection's face rows (a health check)."""
        with self._wlock:
            coll = self._coll(self._wconn, collection_id)
            idx = self._index(coll)
            rows = self._wconn.execute("SELECT seq FROM faces WHERE cid = ?", (coll.cid,)).fetchall()
            live = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            return len(idx) == len(live) and np.array_equal(np.sort(idx.keys()), np.sort(live))

    def _source(self, coll: _Coll) -> _RecordVectors:
        return _RecordVectors(self, coll.cid, coll.dim)

    def _vectors_by_seq(self, cid: int, dim: int, seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored templates of these rows (the calling thread's reader: WAL, never blocked)."""
        conn = self._reader()
        rows: list[tuple[int, bytes]] = []
        for chunk in _chunks(seqs.tolist()):
            marks = ",".join("?" * len(chunk))
            rows += conn.execute(
                f"SELECT seq, template FROM faces WHERE cid = ? AND seq IN ({marks})", (cid, *chunk)
            ).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
        return keys, vecs

    def _stream(self, cid: int, dim: int, after: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        cur = self._wconn.execute(
            "SELECT seq, template FROM faces WHERE cid = ? AND seq > ? ORDER BY seq", (cid, after)
        )
        while rows := cur.fetchmany(50_000):
            keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
            yield keys, vecs

    def _load_index(self, coll: _Coll) -> CollectionIndex:
        """Load the saved index and bring it up to date with the records, or build it (holds wlock)."""
        t0 = time.perf_counter()
        c = self._wconn
        c.execute("BEGIN")
        try:
            self._coll(c, coll.collection_id)  # still there?
            count = c.execute("SELECT COUNT(*) FROM faces WHERE cid = ?", (coll.cid,)).fetchone()[0]
            state = c.execute(
                "SELECT file, max_seq, count, trained_n FROM index_state WHERE cid = ?", (coll.cid,)
            ).fetchone()
            info: dict[str, Any] = {"source": "records", "repair_added": 0, "repair_removed": 0}
            idx: CollectionIndex | None = None
            if count > self.ann_threshold and state is not None:
                idx = self._try_load(coll, state, info)
                if idx is not None:
                    for keys, vecs in self._stream(coll.cid, coll.dim, state[1]):
                        idx.add(keys, vecs)
                        info["repair_added"] += len(keys)
            if idx is None:
                idx = CollectionIndex.build_from(self._source(coll), count, coll.dim, self.ann_threshold)
        finally:
            c.execute("COMMIT")
        info["load_seconds"] = round(time.perf_counter() - t0, 3)
        self._index_info[coll.cid] = info
        self._unsaved[coll.cid] = 0
        changed = info["source"] == "records" or info["repair_added"] or info["repair_removed"]
        if idx.mode == "ivf" and changed:
            self._save_index(coll, idx)
        elif idx.mode == "exact" and state is not None:
            self._drop_state(coll.cid, state[0])
        return idx

    def _try_load(
        self, coll: _Coll, state: tuple[str, int, int, int], info: dict[str, Any]
    ) -> CollectionIndex | None:
        file, max_seq, saved_count, trained_n = state
        path = self.index_dir / file
        if not path.exists():
            info["reason"] = "index file missing"
            return None
        try:
            idx = CollectionIndex.load(path, coll.dim, max_seq, trained_n, self.ann_threshold, self._source(coll))
        except Exception as exc:  # corrupt or truncated file: rebuild from the records
            info["reason"] = f"index file unreadable: {exc}"
            return None
        if len(idx) != saved_count:
            info["reason"] = "index file does not match its state row"
            return None
        c = self._wconn
        kept = c.execute(
            "SELECT COUNT(*) FROM faces WHERE cid = ? AND seq <= ?", (coll.cid, max_seq)
        ).fetchone()[0]
        if kept > len(idx):
            info["reason"] = "records the index never saw"
            return None
        if kept < len(idx):  # some indexed faces were deleted after the save
            live = np.fromiter(
                (
                    r[0]
                    for r in c.execute(
                        "SELECT seq FROM faces WHERE cid = ? AND seq <= ?", (coll.cid, max_seq)
                    )
                ),
                dtype=np.int64,
            )
            stale = np.setdiff1d(idx.keys(), live, assume_unique=True)
            info["repair_removed"] = idx.remove(stale)
        info["source"] = "file"
        info["saved"] = True
        return idx

    def _maybe_checkpoint(self, coll: _Coll, idx: CollectionIndex) -> None:
        """Save an IVF index once enough changed that replaying them on restart would be slow."""
        if idx.mode != "ivf":
            return
        saved = coll.cid in self._index_info and self._index_info[coll.cid].get("saved")
        limit = max(self.checkpoint_every, len(idx) // 4)
        if not saved or self._unsaved.get(coll.cid, 0) >= limit:
            self._save_index(coll, idx)

    def _save_index(self, coll: _Coll, idx: CollectionIndex) -> None:
        """Write the index under a fresh name, then point ``index_state`` at it (atomic switch)."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        name = f"c{coll.cid}-{uuid.uuid4().hex[:12]}.faiss"
        tmp = self.index_dir / (name + ".tmp")
        idx.save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.index_dir / name)
        with self._tx() as c:
            old = c.execute("SELECT file FROM index_state WHERE cid = ?", (coll.cid,)).fetchone()
            c.execute(
                "INSERT OR REPLACE INTO index_state (cid, file, max_seq, count, trained_n, saved_us) "
                "VALUES (?,?,?,?,?,?)",
                (coll.cid, name, idx.max_key, len(idx), idx.trained_n, _now_us()),
            )
        if old and old[0] != name:
            (self.index_dir / old[0]).unlink(missing_ok=True)
        self._unsaved[coll.cid] = 0
        self._index_info.setdefault(coll.cid, {})["saved"] = True

    def _drop_state(self, cid: int, file: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM index_state WHERE cid = ?", (cid,))
        (self.index_dir / file).unlink(missing_ok=True)

    def _remove_orphan_index_files(self) -> None:
        """Files a crash left behind (a save that never reached ``index_state``)."""
        if not self.index_dir.is_dir():
            return
        live = {r[0] for r in self._wconn.execute("SELECT file FROM index_state")}
        for path in self.index_dir.iterdir():
            if path.name not in live:
                path.unlink(missing_ok=True)

    def checkpoint(self) -> None:
        """Save every loaded IVF index with unsaved changes (close() does this too)."""
        with self._wlock:
            rows = self._wconn.execute(
                "SELECT cid, collection_id, model, dim, created_us FROM collections"
            ).fetchall()
            for row in rows:
                coll = _Coll(*row)
                idx = self._indexes.get(coll.cid)
                if idx is not None and idx.mode == "ivf" and self._unsaved.get(coll.cid, 0):
                    self._save_index(coll, idx)

    def close(self) -> None:
        """Save indexes, close connections and release the file lock. Idempotent."""
        with self._wlock:
            if self._closed:
                return
            try:
                self.checkpoint()
            finally:
                self._closed = True
                with self._conns_lock:
                    for conn in self._conns:
                        with suppress(sqlite3.Error):
                            conn.close()
                    self._conns.clear()
                self._indexes.clear()
                fcntl.flock(self._lock_fp, fcntl.LOCK_UN)
                self._lock_fp.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
