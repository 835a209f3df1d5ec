"""``create_app(settings)``: the ASGI app with the native API (dialects mount beside it).

Errors: every :class:`VisageError` becomes the envelope of the dialect that served the route
(``request.state.dialect``; native by default). Anything unexpected is logged with its
traceback and answered with a generic 500: no traceback ever reaches a client.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from visage import __version__
from visage.api import console
from visage.api.admission import BodyBudgetMiddleware
from visage.api.body import BodyLimitMiddleware
from visage.api.collector import freeze_long_lived
from visage.api.dialects import qiniu, quality_stateless, rekognition, threedivi
from visage.api.errors import status_for
from visage.api.inference import InferencePool
from visage.api.keys import KeyRing
from visage.api.memory import tune_allocator
from visage.api.metrics import Metrics
from visage.api.native.collections import router as collections_router
from visage.api.native.info import router as info_router
from visage.api.native.routes import router as native_router
from visage.api.observe import ObserveMiddleware
from visage.api.state import AppState, require_key
from visage.api.timeouts import BodyTimeoutMiddleware
from visage.config import Settings, get_settings
from visage.engine import Engine
from visage.errors import InvalidParameterError, NotFoundError, VisageError

log = logging.getLogger("visage.api")

# (request, error, status, request_id) -> Response, per dialect name.
ErrorRenderer = Callable[[Request, VisageError, int, str], Response]


def render_native_error(request: Request, error: VisageError, status: int, request_id: str) -> Response:
    body = {"error": {"code": error.code, "message": error.message, "request_id": request_id}}
    headers = {"Retry-After": "1"} if status == 429 else None
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app. Models load in the background at startup unless ``engine`` is given."""
    settings = settings or get_settings()
    state = AppState(
        settings=settings,
        pool=InferencePool(settings.inference_workers, settings.max_queue, settings.request_timeout_s),
        metrics=Metrics(),
        engine_=engine,
        api_keys=KeyRing(settings.api_keys, settings.api_keys_file),
    )
    if engine is not None:
        state.metrics.ready.set(1)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_allocator()  # large bodies and images go back to the OS when freed (visage.api.memory)
        task = None
        if state.engine_ is None:
            task = asyncio.get_running_loop().run_in_executor(None, _load_quietly, state)
        yield
        if task is not None:
            await asyncio.wait([task], timeout=0)
        state.pool.shutdown()
        state.close()

    app = FastAPI(title="visage", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Self-hosted face analysis. Native API; vendor dialects are mounted beside it.")
    app.state.visage = state
    app.state.error_renderers = {"native": render_native_error}
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.body_timeout_s)
    app.add_middleware(BodyBudgetMiddleware, budget_bytes=settings.max_body_bytes_in_flight,
                       max_request_bytes=settings.max_request_bytes)

    app.add_middleware(ObserveMiddleware, metrics=state.metrics)

    def render(request: Request, error: VisageError) -> Response:
        dialect = getattr(request.state, "dialect", "native")
        renderer = app.state.error_renderers.get(dialect, render_native_error)
        request_id = getattr(request.state, "request_id", uuid.uuid4().hex)
        return renderer(request, error, status_for(error), request_id)

    @app.exception_handler(VisageError)
    async def on_visage_error(request: Request, exc: VisageError) -> Response:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        return render(request, InvalidParameterError(f"{where}: {first.get('msg', 'invalid')}"))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return render(request, NotFoundError(f"no route {request.method} {request.url.path}"))
        if exc.status_code == 405:
            err = InvalidParameterError(f"method {request.method} not allowed on {request.url.path}")
            return JSONResponse({"error": {"code": "method_not_allowed", "message": err.message}}, status_code=405)
        return render(request, InvalidParameterError(str(exc.detail)))

    @app.exception_handler(ClientDisconnect)
    async def on_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        # The client went away mid-upload: nothing to answer and nothing broken; not an ERROR.
        log.info("client disconnected before the request body was read",
                 extra={"request_id": getattr(request.state, "request_id", None)})
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path,
                      extra={"request_id": getattr(request.state, "request_id", None)})
        error = VisageError("internal error; see the server log")
        return render(request, error)

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process serves HTTP")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}  # no version: an open probe should not tell what to attack

    @app.get("/readyz", tags=["ops"], summary="Readiness: models are loaded and the store answers a read")
    async def readyz() -> Response:
        if state.engine_ is None or state.load_error is not None:
            return JSONResponse({"status": "loading" if state.load_error is None else "failed",
                                 "error": state.load_error}, status_code=503)
        problem = await asyncio.to_thread(state.store_problem)
        if problem is not None:
            state.metrics.ready.set(0)
            return JSONResponse({"status": "store_unavailable", "error": problem}, status_code=503)
        state.metrics.ready.set(1)
        return JSONResponse({"status": "ready", "pipeline": state.engine_.pipeline.name,
                             "models": state.engine_.pipeline.models()})

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        state.metrics.queue_depth.set(state.pool.depth)
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    _mount_docs(app, settings)
    app.include_router(native_router)
    app.include_router(collections_router)
    app.include_router(info_router)
    threedivi.mount(app, settings)
    quality_stateless.mount(app)
    qiniu.mount(app)
    rekognition.mount(app, settings)
    console.mount(app)
    if state.api_keys.enabled and not app.state.qiniu.keys.required:
        log.warning("VISAGE_API_KEYS protects the native, 3DiVi and SenseID routes, but Qiniu's /v2/facedetect"
                    " has its own keys and is OPEN: set VISAGE_QINIU_KEYS (or VISAGE_QINIU_KEYS_FILE) to close it")
    return app




def _mount_docs(app: FastAPI, settings: Settings) -> None:
    """/openapi.json and /docs: behind the native keys when keys are set ('auto'), or open, or absent."""
    if settings.docs == "off":
        return
    deps = [Depends(require_key("read"))] if settings.docs == "auto" else []

    @app.get("/openapi.json", include_in_schema=False, dependencies=deps)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=deps)
    async def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="visage API")


def _load_quietly(state: AppState) -> None:
    try:
        state.load_engine()
    except Exception:
        log.exception("model loading failed")
        return
    try:
        state.store  # noqa: B018 - open (and check) the store before declaring ready
    except VisageError as exc:  # e.g. store_locked: another process holds the SQLite file; /readyz says so
        state.metrics.ready.set(0)
        where = f" [{exc.details['path']}]" if exc.details.get("path") else ""  # the log may name the file
        log.error("the template store is not usable: %s%s (/readyz answers 503 until it is)", exc.message, where)
    if state.freeze_heap_when_ready:
        state.metrics.gc_frozen.set(freeze_long_lived())
