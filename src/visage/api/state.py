"""Per-app state (engine, worker pool, metrics, keys) and the dependencies routes use."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from starlette.requests import Request

from visage import remote
from visage.api.inference import InferencePool
from visage.api.keys import KeyRing
from visage.api.metrics import Metrics
from visage.collections import CollectionService
from visage.config import Settings
from visage.engine import Engine
from visage.errors import (
    ForbiddenError,
    ModelUnavailableError,
    StoreUnavailableError,
    TimeoutError_,
    UnauthorizedError,
    VisageError,
)
from visage.store import TemplateStore, open_store
from visage.types import ImageAnalysis

T = TypeVar("T")
log = logging.getLogger("visage.api")


def _analysis_in(result: object, depth: int = 2) -> ImageAnalysis | None:
    """The image analysis a worker call returned, alone or inside (nested) result tuples."""
    if isinstance(result, ImageAnalysis):
        return result
    if depth and isinstance(result, tuple):
        return next((a for item in result if (a := _analysis_in(item, depth - 1)) is not None), None)
    return None


@dataclass
class AppState:
    settings: Settings
    pool: InferencePool
    metrics: Metrics
    engine_: Engine | None = None
    #: Image-URL and S3 fetches: admitted and bounded like inference, on threads of their own.
    fetch_pool: InferencePool | None = None
    api_keys: KeyRing = field(default_factory=KeyRing)
    load_error: str | None = None
    #: The URL local clients reach this server at (set by ``visage serve``; None for embedded apps).
    advertise_url: str | None = None
    #: `visage serve` sets it: once ready, the long-lived heap leaves the GC's walks (visage.api.collector).
    freeze_heap_when_ready: bool = False
    store_: TemplateStore | None = None
    _collections: CollectionService | None = None
    _store_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def engine(self) -> Engine:
        if self.engine_ is None:
            raise ModelUnavailableError(self.load_error or "models are still loading; retry shortly")
        return self.engine_

    @property
    def store(self) -> TemplateStore:
        """The template store the settings name, opened on first use (replicas share PostgreSQL).

        A store that cannot be opened (an SQLite file another process holds, a database that is
        down) is retried on the next use, so a server becomes ready once the store frees up.
        """
        with self._store_lock:
            if self.store_ is None:
                try:
                    self.store_ = open_store(self.settings.resolved_store_url())
                except VisageError:
                    raise
                except Exception as exc:  # a driver's text may hold a DSN or a path: logged, not sent
                    log.exception("opening the template store failed")
                    raise StoreUnavailableError("the template store could not be opened; see the server log") from exc
                self._advertise()
            return self.store_

    def _advertise(self) -> None:
        """Tell local CLIs which server holds the SQLite file (``<db>.server``), so they use its API."""
        path = getattr(self.store_, "path", None)
        if self.advertise_url and isinstance(path, Path):
            try:
                remote.advertise(path, self.advertise_url)
            except OSError:
                log.warning("could not write %s; CLIs need --server", remote.server_file(path).name)

    def store_problem(self) -> str | None:
        """Why the store is not usable now (None when a cheap read succeeds): readiness needs it."""
        try:
            self.store.list_collections(1)
        except VisageError as exc:
            return exc.message
        except Exception:
            log.exception("the template store failed a readiness read")
            return "the template store failed a read; see the server log"
        return None

    @property
    def collections(self) -> CollectionService:
        if self._collections is None:
            self._collections = CollectionService(self.engine, self.store)
        return self._collections

    def close(self) -> None:
        if self.fetch_pool is not None:
            self.fetch_pool.shutdown()
        if self.store_ is not None:
            path = getattr(self.store_, "path", None)
            if self.advertise_url and isinstance(path, Path):
                remote.withdraw(path)
            self.store_.close()

    def load_engine(self) -> None:
        start = time.perf_counter()
        try:
            self.engine_ = Engine(self.settings)
        except Exception:
            # Clients see a fixed text (the cause may name paths or packages); the log has the traceback.
            self.load_error = "model loading failed; see the server log (then `visage models pull`)"
            raise
        self.metrics.model_load.set(time.perf_counter() - start)
        self.metrics.ready.set(1)

    async def infer(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the worker pool; record queue depth and per-stage timings."""
        self.metrics.queue_depth.set(self.pool.depth + 1)
        try:
            result = await self.pool.run(fn, *args)
        finally:
            self.metrics.queue_depth.set(self.pool.depth)
        if (analysis := _analysis_in(result)) is not None:
            self.metrics.observe_stages(analysis.timings_ms)
        return result


    async def fetch(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the blocking fetch ``fn`` on the fetch pool (429 when it is full, one deadline for all)."""
        pool = self.fetch_pool
        if pool is None:
            pool = self.fetch_pool = InferencePool(self.settings.url_fetch_workers, self.settings.url_fetch_max_queue,
                                                   self.settings.url_fetch_timeout_s, name="image fetch")
        try:
            return await pool.run(fn, *args)
        except TimeoutError_:
            from visage.api.url_fetch import UrlFetchError

            raise UrlFetchError(f"image fetch took longer than {self.settings.url_fetch_timeout_s:g} s") from None


async def get_state(request: Request) -> AppState:
    """Dependency: the app's state (async: FastAPI would run a plain function on a thread, one hop per request)."""
    return request.app.state.visage


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def require_key(role: str) -> Callable[[Request], Awaitable[None]]:
    """Dependency: when keys are configured, demand one with ``role`` ('read' or 'admin')."""

    async def check(request: Request) -> None:  # async: no thread hop per request (nothing here blocks)
        keys = request.app.state.visage.api_keys
        if not keys.enabled:
            return
        presented = _presented_key(request)
        if presented is None:
            raise UnauthorizedError("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        granted = keys.role_of(presented)
        if granted is None:
            raise UnauthorizedError("unknown API key")
        if role == "admin" and granted != "admin":
            raise ForbiddenError("this operation needs an admin key")

    return check
