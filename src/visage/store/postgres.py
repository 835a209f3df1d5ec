"""Shared backend: PostgreSQL + pgvector, for API replicas behind a load balancer.

URL: any libpq URL (``postgresql://user:pass@host:5432/db``) plus optional query parameters
``pool_size`` (connections per process, default 8), ``index`` (``ivfflat``, the default, or
``hnsw``: the ANN index of collections created from now on), ``ann_min`` (faces below which an
IVF collection is searched exactly, default 10000), ``probes`` (IVF lists scanned per search,
default ``max(32, lists/24)``), ``ef_search`` (HNSW candidate list, default 100) and ``hnsw_m`` /
``hnsw_ef_construction`` (HNSW build parameters, default 16 / 64).

Layout: one ``visage_collections`` row and **one faces table per collection**
(``visage_faces_<cid>``) with a ``vector(dim)`` column and its own ANN index
(``vector_cosine_ops``).

Why IVFFlat by default: pgvector maintains an HNSW graph row by row on insert, which ran at 206
faces/s at 128-d on this project's 2-core machine (10^6 faces: over 80 minutes). An IVFFlat index
takes an insert as a nearest-centroid lookup plus an append, so ``add_faces`` stays a bulk insert
(thousands of faces/s, docs/store.md). Its lists are trained on the rows present when it is
built, so it is built once a collection reaches ``ann_min`` faces and **rebuilt** (``CREATE
INDEX CONCURRENTLY`` under a new name, then the old one dropped: inserts and searches continue)
once the collection has grown ``RETRAIN_GROWTH`` times past the size it was trained on. The build
runs on a background thread of the replica whose insert crossed the line, under an advisory lock
so that one replica builds at a time; the index name records its lists and trained size
(``visage_faces_<cid>_ivf_<lists>_<rows>``), so every replica reads the same state from the
catalog. Collections with an HNSW index (made with ``index=hnsw``, or by an older visage) keep
it and its behaviour.

Why not one shared table with an un-dimensioned ``vector`` column and
per-collection partial indexes on a cast: a partial index is only used when the planner can prove
its predicate, which fails for parameterised (prepared, generic-plan) queries; every insert would
have to test every collection's partial-index predicate; and dropping a collection would be a
large DELETE plus index bloat instead of a ``DROP TABLE``. A table per collection gives each
collection a typed column, its own statistics and an index the planner always uses.

Nothing lives only in process memory: every call reads the collection row, so replicas see each
other's writes at once. Writes commit before returning (durability is the server's:
``synchronous_commit=on``, the default, means an acknowledged write survives a crash).
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import psycopg
from pgvector import Vector
from pgvector.psycopg import register_vector
from psycopg import errors as pgerrors
from psycopg import sql

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
from visage.types import Box, Template

#: pgvector cannot build an HNSW or IVFFlat index on ``vector`` columns above this many dimensions.
HNSW_MAX_DIM = 2000
_SCHEMA_LOCK = 0x76697361  # advisory lock id ("visa") serialising schema setup across replicas
_BUILD_LOCK = 0x76697362  # advisory lock class (with the cid) held while an IVF index is built
#: Rebuild an IVF index once the collection has this many times the rows it was trained on.
RETRAIN_GROWTH = 4
#: Probes per search: max(MIN_PROBES, lists / PROBE_DIVISOR) (the SQLite index's rule, measured
#: for PostgreSQL in docs/store.md).
MIN_PROBES = 32
PROBE_DIVISOR = 24
#: Most memory (maintenance_work_mem) an IVF build may ask the server for (pgvector's k-means).
MAX_BUILD_MEMORY_MB = 4096
#: Comment on a faces table naming its ANN kind; tables without one predate it and use HNSW.
_KIND_COMMENT = "visage:ann={}"

# Ids are compared bytewise (COLLATE "C") so keyset page tokens order exactly like SQLite's.
_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS visage_collections (
    cid bigserial PRIMARY KEY,
    collection_id text COLLATE "C" NOT NULL UNIQUE,
    model text NOT NULL,
    dim integer NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS visage_users (
    cid bigint NOT NULL REFERENCES visage_collections (cid) ON DELETE CASCADE,
    user_id text COLLATE "C" NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (cid, user_id)
);
"""

_FACE_COLS = (
    "seq, face_id, image_id, external_image_id, box_left, box_top, box_width, box_height, "
    "confidence, quality, embedding, user_id, created_at, image_width, image_height"
)
_FACE_COLS_NO_EMB = tuple(col.strip() for col in _FACE_COLS.split(",") if col.strip() != "embedding")
#: What add_faces writes, in the staging table's order, and the binary COPY types of ord + these.
_STAGED_COLS = (
    "face_id, image_id, external_image_id, box_left, box_top, box_width, box_height, confidence, quality, "
    "embedding, dedupe_key, created_at, image_width, image_height"
)
_STAGED_TYPES = [
    "int4", "text", "text", "text", "float4", "float4", "float4", "float4", "float4", "jsonb", "vector", "text",
    "timestamptz", "int4", "int4",
]  # fmt: skip
#: One temporary table per session that add_faces COPYs a batch into, then moves on with one
#: ``INSERT ... SELECT ... ON CONFLICT (dedupe_key) DO NOTHING`` (COPY itself has no ON CONFLICT).
#: Untyped ``vector`` so every collection's dimension fits (the insert checks it); ON COMMIT
#: DELETE ROWS empties it at each commit. Session state like the builder's advisory lock: the
#: store needs session (not transaction-pooled) connections.
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS visage_staging (ord integer, face_id text, image_id text, "
    "external_image_id text, box_left real, box_top real, box_width real, box_height real, confidence real, "
    "quality jsonb, embedding vector, dedupe_key text, created_at timestamptz, image_width integer, "
    "image_height integer) ON COMMIT DELETE ROWS"
)
#: Columns added to the faces tables after the first schema: (name, SQL type). Tables made before
#: them gain them when a store opens (``ADD COLUMN IF NOT EXISTS``: old rows read NULL; adding a
#: nullable column without a default rewrites nothing, so it is instant at any size).
_ADDED_FACE_COLUMNS = (("image_width", "integer"), ("image_height", "integer"))


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def ivf_lists(n: int) -> int:
    """About sqrt(n) lists (pgvector samples 50 rows per list to train them).

    Every inserted row is compared with every list centre, so the lists are the insert's main
    cost: at 10^5 x 192-d add_faces took 7,713 faces per CPU-second with sqrt(n) lists against
    5,219 with 2*sqrt(n) (bench/pg_ivf_lists.py, docs/store.md). Probes scale with the lists
    (:data:`PROBE_DIVISOR`), so above 32 probes a search scans about as many rows either way;
    recall@1 at 10^6 with the default probes was 0.990-0.992 (docs/store.md).
    """
    return max(1, min(int(math.sqrt(n)), n // 50, 32768))


@dataclass(frozen=True, slots=True)
class _Ann:
    """A faces table's ANN state as the catalog tells it (the same for every replica)."""

    kind: str  # "ivfflat" or "hnsw"
    ivf: tuple[tuple[str, int, int], ...]  # valid IVF indexes: (name, lists, trained rows)
    invalid: tuple[str, ...]  # indexes a failed CREATE INDEX CONCURRENTLY left behind

    @property
    def lists(self) -> int:
        return max((lists for _, lists, _ in self.ivf), default=0)

    @property
    def trained(self) -> int:
        return max((rows for _, _, rows in self.ivf), default=0)


@dataclass(frozen=True, slots=True)
class _Coll:
    cid: int
    collection_id: str
    model: str
    dim: int
    created_at: datetime

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(f"visage_faces_{self.cid}")

    def info(self, faces: int = 0, users: int = 0) -> CollectionInfo:
        return CollectionInfo(self.collection_id, self.created_at, self.model, self.dim, faces, users)


class _Pool:
    """A minimal thread-safe connection pool (psycopg_pool is an extra dependency for ~30 lines)."""

    def __init__(self, conninfo: str, size: int) -> None:
        self._conninfo = conninfo
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def _new(self) -> psycopg.Connection:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        register_vector(conn)
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        self._slots.acquire()
        conn: psycopg.Connection | None = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._new()
            if conn.closed:
                conn = self._new()
            yield conn
        finally:
            if conn is not None and not conn.closed and not conn.broken:
                self._idle.put(conn)
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class PostgresStore:
    """:class:`~visage.store.base.TemplateStore` on PostgreSQL + pgvector; see the module docstring."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = 8,
        index: str = "ivfflat",
        ann_min: int = 10_000,
        probes: int = 0,
        ef_search: int = 100,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 64,
    ) -> None:
        if index not in ("ivfflat", "hnsw"):
            raise InvalidParameterError("index must be ivfflat or hnsw", value=index)
        self.index = index
        self.ann_min = max(1, ann_min)
        self.probes = probes
        self._conninfo = conninfo
        self._builds: dict[int, threading.Thread] = {}
        self._builds_lock = threading.Lock()
        self._bulk: set[int] = set()
        self._local = threading.local()  # .conn: the connection of an atomic() block on this thread
        self.ef_search = ef_search
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            self._migrate(conn)
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        major, minor = (int(x) for x in str(version[0] if version else "0.0").split(".")[:2])
        self._iterative_scan = (major, minor) >= (0, 8)
        self._pool = _Pool(conninfo, pool_size)
        self._closed = False

    @staticmethod
    def _migrate(conn: psycopg.Connection) -> None:
        """Add columns that faces tables made by an older visage lack (under the schema lock)."""
        for name, kind in _ADDED_FACE_COLUMNS:
            stale = conn.execute(
                "SELECT c.cid FROM visage_collections c WHERE EXISTS (SELECT 1 FROM pg_class t "
                "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() "
                "AND t.relname = 'visage_faces_' || c.cid AND NOT EXISTS (SELECT 1 FROM pg_attribute a "
                "WHERE a.attrelid = t.oid AND a.attname = %s AND NOT a.attisdropped))",
                (name,),
            ).fetchall()
            for (cid,) in stale:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                        sql.Identifier(f"visage_faces_{cid}"), sql.Identifier(name), sql.SQL(kind)
                    )
                )

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        parts = urlsplit(url)
        ours = {"pool_size", "ann_min", "probes", "ef_search", "hnsw_m", "hnsw_ef_construction"}
        query = parse_qsl(parts.query)
        try:
            opts: dict[str, Any] = {k: int(v) for k, v in query if k in ours}
        except ValueError as exc:
            raise InvalidParameterError(f"bad postgresql URL option: {exc}") from exc
        opts.update({k: v for k, v in query if k == "index"})
        rest = urlencode([(k, v) for k, v in query if k not in ours and k != "index"])
        scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
        return cls(urlunsplit((scheme, parts.netloc, parts.path, rest, parts.fragment)), **opts)

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection]:
        """One transaction; committed (durable) when the block exits. A dropped table = not found.

        Inside :meth:`atomic` on this thread it is part of that block's transaction instead.
        """
        if self._closed:
            raise RuntimeError("store is closed")
        atomic = getattr(self._local, "conn", None)
        try:
            if atomic is not None:
                try:
                    yield atomic
                except BaseException:
                    self._local.failed = True  # the transaction is aborted: atomic() must not commit
                    raise
                return
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except pgerrors.UndefinedTable as exc:
            raise NotFoundError("collection was deleted") from exc

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """This thread's atomic() connection, else one from the pool."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self._pool.connection() as conn:
            yield conn

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction around several store calls on this thread (import): all commit, or none.

        Other connections (threads, replicas) see nothing of it until it commits, and a process
        killed inside leaves nothing behind (the server rolls the transaction back). Row locks
        taken inside are held to the end. The calls inside run in the transaction itself, not in
        savepoints: a call that fails aborts the block (a savepoint per call would also make
        each add_faces batch's TRUNCATE of the staging table keep its old file until the commit).
        """
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        if self._closed:
            raise RuntimeError("store is closed")
        with self._pool.connection() as conn:
            self._local.conn, self._local.failed = conn, False
            try:
                with conn.transaction():
                    yield
                    if self._local.failed:
                        raise RuntimeError("a store call inside atomic() failed: the block was rolled back")
            finally:
                self._local.conn = None

    @staticmethod
    def _coll(conn: psycopg.Connection, collection_id: str, lock: bool = False) -> _Coll:
        query = "SELECT cid, collection_id, model, dim, created_at FROM visage_collections "
        query += "WHERE collection_id = %s"
        row = conn.execute(query + (" FOR UPDATE" if lock else ""), (collection_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"collection {collection_id!r} not found", collection_id=collection_id)
        cid, cname, model, dim, created = row
        return _Coll(cid, cname, model, dim, _utc(created))

    @staticmethod
    def _face(row: tuple, coll: _Coll) -> FaceRecord:
        (_, face_id, image_id, ext, left, top, width, height, conf, quality, emb, user_id, created,
         image_width, image_height) = row  # fmt: skip
        vec = emb.to_numpy().astype(np.float32) if isinstance(emb, Vector) else np.asarray(emb, np.float32)
        return FaceRecord(
            face_id=face_id,
            collection_id=coll.collection_id,
            image_id=image_id,
            external_image_id=ext,
            box=Box(left, top, width, height),
            confidence=conf,
            quality=quality,
            template=Template(coll.model, vec),
            user_id=user_id,
            created_at=_utc(created),
            image_width=image_width,
            image_height=image_height,
        )

    def _select(self, coll: _Coll, where: str) -> sql.Composed:
        return sql.SQL("SELECT " + _FACE_COLS + " FROM {} WHERE " + where).format(coll.table)

    # ------------------------------------------------------------------ collections

    def create_collection(self, collection_id: str, model: str, dim: int) -> CollectionInfo:
        check_id(collection_id, "collection_id")
        check_model(model, dim)
        created = datetime.now(UTC)
        try:
            with self._tx() as c:
                cid = c.execute(
                    "INSERT INTO visage_collections (collection_id, model, dim, created_at) "
                    "VALUES (%s, %s, %s, %s) RETURNING cid",
                    (collection_id, model, dim, created),
                ).fetchone()[0]
                coll = _Coll(cid, collection_id, model, dim, created)
                c.execute(
                    sql.SQL(
                        "CREATE TABLE {} ("
                        " seq bigserial PRIMARY KEY,"
                        " face_id text NOT NULL UNIQUE,"
                        " image_id text NOT NULL,"
                        " external_image_id text,"
                        " box_left real NOT NULL, box_top real NOT NULL,"
                        " box_width real NOT NULL, box_height real NOT NULL,"
                        " confidence real NOT NULL,"
                        " quality jsonb,"
                        " embedding vector({}) NOT NULL,"
                        " user_id text,"
                        " dedupe_key text NOT NULL UNIQUE,"
                        " created_at timestamptz NOT NULL,"
                        " image_width integer, image_height integer)"
                    ).format(coll.table, sql.Literal(dim))
                )
                c.execute(
                    sql.SQL("CREATE INDEX ON {} (user_id) WHERE user_id IS NOT NULL").format(coll.table)
                )
                if dim * 4 + 512 < 8000:
                    # keep the vector in the row (pgvector's default storage moves a 512-d
                    # vector to TOAST: an extra lookup for every row a search returns)
                    c.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN embedding SET STORAGE PLAIN").format(coll.table))
                c.execute(
                    sql.SQL("COMMENT ON TABLE {} IS {}").format(
                        coll.table, sql.Literal(_KIND_COMMENT.format(self.index))
                    )
                )
                if dim <= HNSW_MAX_DIM and self.index == "hnsw":
                    self._create_hnsw(c, coll)
        except pgerrors.UniqueViolation as exc:
            raise AlreadyExistsError(
                f"collection {collection_id!r} already exists", collection_id=collection_id
            ) from exc
        return coll.info()

    def _create_hnsw(self, c: psycopg.Connection, coll: _Coll) -> None:
        c.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = {}, ef_construction = {})"
            ).format(
                sql.Identifier(f"visage_faces_{coll.cid}_hnsw"),
                coll.table,
                sql.Literal(self.hnsw_m),
                sql.Literal(self.hnsw_ef_construction),
            )
        )

    @contextmanager
    def _bulk_load(self, collection_id: str) -> Iterator[None]:
        """Load a *new* collection without its ANN index, then build the index once.

        Measured at 10^5 x 128-d on 2 cores: inserting through an HNSW index ran at 206 faces/s
        (486 s); inserting without it took 5 s and CREATE INDEX 27 s. An IVF collection builds
        its index once at the end instead of at each growth step. Searches during the load stay
        correct (an exact scan), only slower; the index is built even if the load fails, except
        inside :meth:`atomic`, where a failed load is rolled back whole and the index is built in
        the same transaction (no other connection can see the new table to build it).
        """
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            ann = self._ann(c, coll)
            c.execute(
                sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(f"visage_faces_{coll.cid}_hnsw"))
            )
        self._bulk.add(coll.cid)
        atomic = getattr(self._local, "conn", None) is not None
        try:
            yield
        except BaseException:
            if atomic:
                raise
            self._bulk.discard(coll.cid)
            self._index_after_load(coll, ann)
            raise
        self._bulk.discard(coll.cid)
        self._index_after_load(coll, ann)

    def _index_after_load(self, coll: _Coll, ann: _Ann) -> None:
        if coll.dim > HNSW_MAX_DIM:
            return
        if ann.kind == "hnsw":
            with self._tx() as c:
                c.execute("SET LOCAL maintenance_work_mem = '1GB'")
                self._create_hnsw(c, coll)
        elif getattr(self._local, "conn", None) is not None:
            with self._tx() as c:
                rows = c.execute(sql.SQL("SELECT count(*) FROM {}").format(coll.table)).fetchone()[0]
                if rows >= self.ann_min:
                    self._create_ivf(c, coll, rows, concurrently=False)
        else:
            self._build_ivf(coll)

    # ------------------------------------------------------------------ IVF index upkeep

    @staticmethod
    def _ann(c: psycopg.Connection, coll: _Coll) -> _Ann:
        """The table's ANN kind and valid/invalid indexes, from the catalog (one round trip)."""
        row = c.execute(
            "SELECT obj_description(t.oid, 'pg_class'), "
            "array_agg(i.relname::text || ':' || x.indisvalid::text) FILTER (WHERE i.relname IS NOT NULL) "
            "FROM pg_class t LEFT JOIN pg_index x ON x.indrelid = t.oid "
            "LEFT JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE t.oid = to_regclass(%s) GROUP BY t.oid",
            (f"visage_faces_{coll.cid}",),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"collection {coll.collection_id!r} not found", collection_id=coll.collection_id)
        comment, indexes = row
        kind = "ivfflat" if comment == _KIND_COMMENT.format("ivfflat") else "hnsw"
        ivf, invalid = [], []
        pattern = re.compile(rf"^visage_faces_{coll.cid}_ivf_(\d+)_(\d+)$")
        for entry in indexes or ():
            name, valid = entry.rsplit(":", 1)
            if (m := pattern.match(name)) is None:
                continue
            if valid == "true":
                ivf.append((name, int(m.group(1)), int(m.group(2))))
            else:
                invalid.append(name)
        return _Ann(kind, tuple(ivf), tuple(invalid))

    def _needs_ivf(self, ann: _Ann, rows: int) -> bool:
        if ann.kind != "ivfflat":
            return False
        return rows >= self.ann_min if not ann.ivf else rows > RETRAIN_GROWTH * ann.trained

    def _maybe_build_ivf(self, c: psycopg.Connection, coll: _Coll, rows: int) -> None:
        """After an insert: start a background (re)build if the collection crossed a line."""
        if coll.dim > HNSW_MAX_DIM or coll.cid in self._bulk or getattr(self._local, "conn", None) is not None:
            return  # a bulk load builds at its end; an atomic block's rows are invisible to a builder
        with self._builds_lock:
            running = self._builds.get(coll.cid)
            if running is not None and running.is_alive():
                return
        if not self._needs_ivf(self._ann(c, coll), rows):
            return
        with self._builds_lock:
            if self._closed:
                return
            thread = threading.Thread(target=self._build_ivf, args=(coll,), daemon=True)
            self._builds[coll.cid] = thread
            thread.start()

    def _build_ivf(self, coll: _Coll) -> None:
        """Build the IVF index for the collection's rows now (one replica at a time), drop the old.

        ``CREATE INDEX CONCURRENTLY`` lets inserts and searches go on meanwhile (searches use
        the previous index, or scan exactly if there is none). Failures are logged, not raised:
        the next insert that finds the index missing or stale tries again.
        """
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn:
                key = (_BUILD_LOCK, coll.cid)
                if not conn.execute("SELECT pg_try_advisory_lock(%s, %s::int)", key).fetchone()[0]:
                    return  # another replica (or thread) is building it
                try:
                    ann = self._ann(conn, coll)
                    rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(coll.table)).fetchone()[0]
                    for name in ann.invalid:
                        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))
                    if not self._needs_ivf(ann, rows) and (ann.ivf or rows < self.ann_min):
                        return
                    name = self._create_ivf(conn, coll, rows, concurrently=True)
                    for old, _, _ in ann.ivf:
                        if old != name:
                            conn.execute(
                                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(old))
                            )
                finally:
                    if not conn.closed:
                        conn.execute("SELECT pg_advisory_unlock(%s, %s::int)", key)
        except (NotFoundError, pgerrors.UndefinedTable):
            return  # the collection was deleted meanwhile
        except Exception:
            logging.getLogger(__name__).warning(
                "building the IVF index of collection %r failed; the next insert retries",
                coll.collection_id,
                exc_info=True,
            )

    @staticmethod
    def _create_ivf(conn: psycopg.Connection, coll: _Coll, rows: int, *, concurrently: bool) -> str:
        """CREATE INDEX ... USING ivfflat for ``rows`` rows; returns the index name.

        ``concurrently`` on an autocommit connection (inserts and searches go on); otherwise
        inside the caller's transaction (atomic import: the table is not visible to anyone else).
        """
        lists = ivf_lists(rows)
        name = f"visage_faces_{coll.cid}_ivf_{lists}_{rows}"
        create = sql.SQL(
            "CREATE INDEX " + ("CONCURRENTLY " if concurrently else "") + "IF NOT EXISTS {} ON {} "
            "USING ivfflat (embedding vector_cosine_ops) WITH (lists = {})"
        ).format(sql.Identifier(name), coll.table, sql.Literal(lists))
        setting = "SET " if concurrently else "SET LOCAL "
        conn.execute(setting + "maintenance_work_mem = '512MB'")
        try:
            if concurrently:
                conn.execute(create)
            else:
                with conn.transaction():  # a savepoint, so that the retry below can run
                    conn.execute(create)
        except pgerrors.ProgramLimitExceeded as exc:
            # pgvector checks up front how much memory its k-means needs (about
            # 760 MB for 1,720 lists at 512-d): give it that, within a bound
            need = re.search(r"memory required is (\d+) MB", str(exc))
            if need is None or int(need.group(1)) > MAX_BUILD_MEMORY_MB:
                raise
            if concurrently:
                conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(setting + f"maintenance_work_mem = '{int(need.group(1)) + 64}MB'")
            conn.execute(create)
        return name

    def wait_for_index(self, collection_id: str | None = None) -> None:
        """Wait for this process's background index builds (all, or one collection's) to finish."""
        with self._builds_lock:
            threads = list(self._builds.items())
        for cid, thread in threads:
            if collection_id is None or cid in self._cids(collection_id):
                thread.join()

    def _cids(self, collection_id: str) -> set[int]:
        with self._tx() as c:
            return {self._coll(c, collection_id).cid}

    def index_info(self, collection_id: str) -> dict[str, Any]:
        """The collection's ANN state (kind, lists, trained rows, building here?) for ops and tests."""
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            ann = self._ann(c, coll)
        with self._builds_lock:
            thread = self._builds.get(coll.cid)
        return {
            "kind": ann.kind if ann.kind == "hnsw" or ann.ivf else "exact",
            "lists": ann.lists,
            "trained": ann.trained,
            "probes": self._probes(ann.lists),
            "building": bool(thread and thread.is_alive()),
        }

    def _probes(self, lists: int) -> int:
        return min(lists, self.probes or max(MIN_PROBES, math.ceil(lists / PROBE_DIVISOR)))

    def describe_collection(self, collection_id: str) -> CollectionInfo:
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            faces = c.execute(sql.SQL("SELECT count(*) FROM {}").format(coll.table)).fetchone()[0]
            users = c.execute("SELECT count(*) FROM visage_users WHERE cid = %s", (coll.cid,)).fetchone()[0]
        return coll.info(faces, users)

    def list_collections(
        self, max_results: int = 100, next_token: str | None = None
    ) -> tuple[list[str], str | None]:
        check_max_results(max_results)
        after = tokens.decode(next_token, "collections", "", "")
        with self._tx() as c:
            rows = c.execute(
                "SELECT collection_id FROM visage_collections WHERE collection_id > %s "
                "ORDER BY collection_id LIMIT %s",
                (after, max_results + 1),
            ).fetchall()
        ids = [r[0] for r in rows[:max_results]]
        token = tokens.encode("collections", "", ids[-1]) if len(rows) > max_results else None
        return ids, token

    def delete_collection(self, collection_id: str) -> None:
        with self._tx() as c:
            coll = self._coll(c, collection_id, lock=True)
            c.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(coll.table))
            c.execute("DELETE FROM visage_collections WHERE cid = %s", (coll.cid,))  # users cascade

    # ------------------------------------------------------------------ faces

    def add_faces(self, collection_id: str, faces: Sequence[NewFace]) -> list[FaceRecord]:
        """Insert a batch with one binary COPY and one INSERT ... SELECT (see :data:`_STAGING`).

        Measured at 10^5 x 192-d (docs/store.md): a row-by-row ``executemany`` cost the server
        about twice the CPU of the COPY path and the client three times as much. A face whose
        dedupe key is already stored is not inserted again: its stored record is returned.
        """
        faces = list(faces)
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            info = coll.info()
            now = datetime.now(UTC)
            rows = []
            keys = []
            for i, f in enumerate(faces):
                check_template(info, f.template)
                key = dedupe_key(f)
                keys.append(key)
                img_w, img_h = check_image_size(f)
                b = f.box
                created = f.created_at or now
                if created.tzinfo is None:  # as SQLite reads it: a naive time is UTC
                    created = created.replace(tzinfo=UTC)
                rows.append(
                    (
                        i, f.face_id or str(uuid.uuid4()), f.image_id, f.external_image_id,
                        float(b.left), float(b.top), float(b.width), float(b.height), float(f.confidence),
                        f.quality, unit_vector(f.template.vector), key, created, img_w, img_h,
                    )
                )  # fmt: skip
            if not rows:
                return []
            self._stage(c, rows)
            returned = sql.SQL(", ").join(sql.Identifier(col) for col in _FACE_COLS_NO_EMB)
            insert = sql.SQL(
                "INSERT INTO {} (" + _STAGED_COLS + ") SELECT " + _STAGED_COLS + " FROM pg_temp.visage_staging "
                "ORDER BY ord ON CONFLICT (dedupe_key) DO NOTHING RETURNING {}, dedupe_key"
            ).format(coll.table, returned)
            try:
                with c.cursor(binary=True) as cur:
                    inserted = {r[-1]: r[:-1] for r in cur.execute(insert)}
            except pgerrors.UniqueViolation as exc:
                raise AlreadyExistsError(f"a face id already exists in {collection_id!r}") from exc
            vectors: dict[str, np.ndarray] = {}
            for row in rows:  # of several faces with one key the first (lowest ord) was inserted
                vectors.setdefault(row[11], row[10])
            found = {k: (*r[:10], vectors[k], *r[10:]) for k, r in inserted.items()}
            if len(found) < len(set(keys)):  # faces stored before: return what is stored
                with c.cursor(binary=True) as cur:
                    old = [k for k in keys if k not in found]
                    for r in cur.execute(
                        sql.SQL("SELECT " + _FACE_COLS + ", dedupe_key FROM {} WHERE dedupe_key = ANY(%s)").format(
                            coll.table
                        ),
                        (old,),
                    ):
                        found[r[-1]] = r[:-1]
        with self._connection() as c, suppress(NotFoundError):
            # seq only grows, so the largest one is a cheap upper bound of the collection's size
            self._maybe_build_ivf(c, coll, max(r[0] for r in found.values()))
        return [self._face(found[k], coll) for k in keys]

    def _stage(self, c: psycopg.Connection, rows: list[tuple]) -> None:
        """Binary-COPY ``rows`` into this session's staging table (emptied at commit).

        ``IF NOT EXISTS`` each time rather than remembering the session has one: a rolled-back
        first batch takes the table with it. Inside an atomic() block nothing commits between
        batches, so the table is emptied here (in place: same transaction, no savepoint).
        """
        c.execute(_STAGING)
        if c is getattr(self._local, "conn", None):
            c.execute("TRUNCATE pg_temp.visage_staging")
        with c.cursor() as cur, cur.copy(
            "COPY pg_temp.visage_staging (ord, " + _STAGED_COLS + ") FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(_STAGED_TYPES)
            for row in rows:
                copy.write_row(row)

    def get_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[FaceRecord]:
        ids = list(dict.fromkeys(face_ids))
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            with c.cursor(binary=True) as cur:
                rows = cur.execute(self._select(coll, "face_id = ANY(%s)"), (ids,)).fetchall()
        found = {r[1]: self._face(r, coll) for r in rows}
        return [found[f] for f in ids if f in found]

    def list_faces(
        self,
        collection_id: str,
        max_results: int = 100,
        next_token: str | None = None,
        user_id: str | None = None,
    ) -> tuple[list[FaceRecord], str | None]:
        check_max_results(max_results)
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            scope = f"{coll.cid}/{user_id or ''}"
            after = tokens.decode(next_token, "faces", scope, 0)
            with c.cursor(binary=True) as cur:
                if user_id is None:
                    query = self._select(coll, "seq > %s ORDER BY seq LIMIT %s")
                    rows = cur.execute(query, (after, max_results + 1)).fetchall()
                else:
                    self._user_row(c, coll, user_id)
                    query = self._select(coll, "user_id = %s AND seq > %s ORDER BY seq LIMIT %s")
                    rows = cur.execute(query, (user_id, after, max_results + 1)).fetchall()
        page = [self._face(r, coll) for r in rows[:max_results]]
        token = tokens.encode("faces", scope, rows[max_results - 1][0]) if len(rows) > max_results else None
        return page, token

    def delete_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[str]:
        ids = list(dict.fromkeys(face_ids))
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            rows = c.execute(
                sql.SQL("DELETE FROM {} WHERE face_id = ANY(%s) RETURNING face_id").format(coll.table), (ids,)
            ).fetchall()
        deleted = {r[0] for r in rows}
        return [f for f in ids if f in deleted]

    def _knn(
        self, c: psycopg.Connection, coll: _Coll, query: np.ndarray, k: int, where: str, cols: str
    ) -> list[tuple]:
        """k nearest rows by cosine distance through the ANN index (iterative scan when filtered)."""
        ann = self._ann(c, coll)
        if ann.kind == "hnsw":
            ef = min(1000, max(self.ef_search, 2 * k))
            c.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef)))
            if self._iterative_scan:
                c.execute("SET LOCAL hnsw.iterative_scan = strict_order")
        elif ann.ivf:
            c.execute(sql.SQL("SET LOCAL ivfflat.probes = {}").format(sql.Literal(self._probes(ann.lists))))
            if self._iterative_scan:  # keeps scanning lists until k rows pass a filter
                c.execute("SET LOCAL ivfflat.iterative_scan = relaxed_order")
        stmt = sql.SQL(
            "SELECT " + cols + ", 1 - (embedding <=> %b) AS cos FROM {} " + where + " "
            "ORDER BY embedding <=> %b LIMIT %s"
        ).format(coll.table)
        with c.cursor(binary=True) as cur:
            rows = cur.execute(stmt, (query, query, k)).fetchall()
        return sorted(rows, key=lambda r: -r[-1])  # relaxed_order may return near-ties unsorted

    def search(
        self, collection_id: str, template: Template, max_results: int = 10, min_cosine: float = -1.0
    ) -> list[FaceHit]:
        check_max_results(max_results)
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            check_template(coll.info(), template)
            rows = self._knn(c, coll, unit_vector(template.vector), max_results, "", _FACE_COLS)
        return [FaceHit(self._face(r[:-1], coll), float(r[-1])) for r in rows if r[-1] >= min_cosine]

    # ------------------------------------------------------------------ users

    @staticmethod
    def _user_row(
        c: psycopg.Connection, coll: _Coll, user_id: str, lock: bool = False
    ) -> tuple[str, datetime]:
        query = "SELECT status, created_at FROM visage_users WHERE cid = %s AND user_id = %s"
        row = c.execute(query + (" FOR UPDATE" if lock else ""), (coll.cid, user_id)).fetchone()
        if row is None:
            raise NotFoundError(f"user {user_id!r} not found in {coll.collection_id!r}", user_id=user_id)
        return row[0], _utc(row[1])

    def create_user(self, collection_id: str, user_id: str) -> UserRecord:
        check_id(user_id, "user_id")
        created = datetime.now(UTC)
        try:
            with self._tx() as c:
                coll = self._coll(c, collection_id)
                c.execute(
                    "INSERT INTO visage_users (cid, user_id, status, created_at) VALUES (%s, %s, %s, %s)",
                    (coll.cid, user_id, USER_STATUS_ACTIVE, created),
                )
        except pgerrors.UniqueViolation as exc:
            raise AlreadyExistsError(f"user {user_id!r} already exists", user_id=user_id) from exc
        return UserRecord(collection_id, user_id, (), USER_STATUS_ACTIVE, created)

    def delete_user(self, collection_id: str, user_id: str) -> None:
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            self._user_row(c, coll, user_id, lock=True)
            c.execute(
                sql.SQL("UPDATE {} SET user_id = NULL WHERE user_id = %s").format(coll.table), (user_id,)
            )
            c.execute("DELETE FROM visage_users WHERE cid = %s AND user_id = %s", (coll.cid, user_id))

    def get_user(self, collection_id: str, user_id: str) -> UserRecord:
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            status, created = self._user_row(c, coll, user_id)
            faces = c.execute(
                sql.SQL("SELECT face_id FROM {} WHERE user_id = %s ORDER BY seq").format(coll.table),
                (user_id,),
            ).fetchall()
        return UserRecord(collection_id, user_id, tuple(f[0] for f in faces), status, created)

    def list_users(
        self, collection_id: str, max_results: int = 100, next_token: str | None = None
    ) -> tuple[list[UserRecord], str | None]:
        check_max_results(max_results)
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            after = tokens.decode(next_token, "users", str(coll.cid), "")
            rows = c.execute(
                "SELECT user_id, status, created_at FROM visage_users WHERE cid = %s AND user_id > %s "
                "ORDER BY user_id LIMIT %s",
                (coll.cid, after, max_results + 1),
            ).fetchall()
            page = rows[:max_results]
            faces: dict[str, list[str]] = {u[0]: [] for u in page}
            for uid, fid in c.execute(
                sql.SQL("SELECT user_id, face_id FROM {} WHERE user_id = ANY(%s) ORDER BY seq").format(
                    coll.table
                ),
                (list(faces),),
            ):
                faces[uid].append(fid)
        users = [UserRecord(collection_id, u, tuple(faces[u]), s, _utc(t)) for u, s, t in page]
        token = tokens.encode("users", str(coll.cid), page[-1][0]) if len(rows) > max_results else None
        return users, token

    def _owners(self, c: psycopg.Connection, coll: _Coll, ids: list[str]) -> dict[str, str | None]:
        rows = c.execute(
            sql.SQL("SELECT face_id, user_id FROM {} WHERE face_id = ANY(%s) FOR UPDATE").format(coll.table),
            (ids,),
        ).fetchall()
        return dict(rows)

    def associate_faces(self, collection_id: str, user_id: str, face_ids: Sequence[str]) -> AssociationResult:
        """Attach faces to a user; all-or-nothing on the 100-face limit, per-face reasons otherwise.

        The user row is locked (FOR UPDATE) so concurrent calls from several replicas cannot
        push a user past the limit together.
        """
        ids = check_face_ids(face_ids)
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            self._user_row(c, coll, user_id, lock=True)
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
                sql.SQL("SELECT count(*) FROM {} WHERE user_id = %s").format(coll.table), (user_id,)
            ).fetchone()[0]
            if current + len(todo) > MAX_FACES_PER_USER:
                raise LimitExceededError(
                    f"user {user_id!r} would have {current + len(todo)} faces (at most {MAX_FACES_PER_USER})",
                    user_id=user_id,
                )
            c.execute(
                sql.SQL("UPDATE {} SET user_id = %s WHERE face_id = ANY(%s) AND user_id IS NULL").format(
                    coll.table
                ),
                (user_id, todo),
            )
        done = set(ok) | set(todo)
        return AssociationResult(user_id, tuple(f for f in ids if f in done), failed)

    def disassociate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str]
    ) -> AssociationResult:
        ids = check_face_ids(face_ids)
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            self._user_row(c, coll, user_id, lock=True)
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
            c.execute(
                sql.SQL("UPDATE {} SET user_id = NULL WHERE face_id = ANY(%s)").format(coll.table), (ok,)
            )
        return AssociationResult(user_id, tuple(ok), failed)

    def search_users(
        self, collection_id: str, template: Template, max_results: int = 10, min_cosine: float = -1.0
    ) -> list[UserHit]:
        check_max_results(max_results)
        with self._tx() as c:
            coll = self._coll(c, collection_id)
            check_template(coll.info(), template)
            # A user has <= 100 faces, so the best max_results*100 faces name the best max_results users.
            rows = self._knn(
                c,
                coll,
                unit_vector(template.vector),
                max_results * MAX_FACES_PER_USER,
                "WHERE user_id IS NOT NULL",
                "face_id, user_id",
            )
        return best_users(
            range(len(rows)),
            [r[2] for r in rows],
            [r[1] for r in rows],
            [r[0] for r in rows],
            max_results,
            min_cosine,
        )

    # ------------------------------------------------------------------ backup

    def export_collection(self, collection_id: str, fp: IO[str]) -> int:
        return portable.export_collection(self, collection_id, fp)

    def import_collection(self, fp: IO[str], collection_id: str | None = None) -> CollectionInfo:
        return portable.import_collection(self, fp, collection_id, bulk_load=self._bulk_load)

    def close(self) -> None:
        """Wait for background index builds of this process, then close the pool. Idempotent."""
        if not self._closed:
            with self._builds_lock:
                self._closed = True
                threads = list(self._builds.values())
            for thread in threads:
                thread.join()
            self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
