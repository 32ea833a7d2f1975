"""The ASGI application: :func:`create_app` assembles routers, storage and testing hooks."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from . import (
    _auth,
    _catalog,
    _costs,
    _custom_services,
    _customers,
    _deps,
    _openapi,
    _otlp,
    _rollups,
    _spend,
    _testing,
    _track,
    _triggered,
    _usage,
    _usage_limits,
    _webhooks,
    dashboard,
    migrations,
)
from ._body_limit import BodyLimitMiddleware
from ._config import ServerConfig
from ._db import Database, ReadTimeoutError, StorageBusyError
from ._json_guard import json_safe, reject_unsafe_json

__all__ = ("SCHEMA", "create_app")

_log = logging.getLogger("aicostmanager.server")

_FEATURES = (
    _track,
    _spend,
    _costs,
    _usage,
    _catalog,
    _customers,
    _webhooks,
    _custom_services,
    _usage_limits,
    _triggered,
)

SCHEMA = "\n".join([_auth.SCHEMA, dashboard.SCHEMA, *(m.SCHEMA for m in _FEATURES)])
"""The whole database schema (SQLite DDL, ``CREATE ... IF NOT EXISTS``) of revision 0001 of
:mod:`.migrations`, which applies it (translated for PostgreSQL) at start-up."""


def create_app(config: ServerConfig) -> FastAPI:
    """Build the server application for ``config``.

    State on ``app.state``: ``config``, ``db`` (:class:`Database`, open while the app runs),
    ``keys`` (:class:`~._auth.KeyStore`), ``sessions`` and, in testing mode, ``testing``
    (:class:`~._testing.TestingState`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Alembic is synchronous: the schema is created or upgraded in a worker thread.
        await anyio.to_thread.run_sync(migrations.upgrade, config.db)
        db = await Database.open(
            config.db, readers=config.readers, read_time_limit=config.read_time_limit
        )
        keys = _auth.KeyStore(db)
        for key in config.api_keys:
            await keys.add(key)
        app.state.db = db
        app.state.keys = keys
        await _rollups.backfill(db)
        # Load the price data now, then (once per process) move every object alive so far out
        # of the garbage collector's sight: the price tables are large and would otherwise be
        # traversed by each full collection, which ingesting big batches triggers often.
        _catalog.warm_up()
        _freeze_once()
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(db.run_checkpoints)
                try:
                    yield
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            await db.close()

    prefix = config.api_prefix
    app = FastAPI(
        title="AICostManager (local server)",
        version="1",
        lifespan=lifespan,
        openapi_url=f"{prefix}/openapi.json",
        docs_url=f"{prefix}/docs",
        redoc_url=None,
    )
    app.state.config = config
    # /track answers bad values per record itself; every other body is checked as a whole.
    guarded = [Depends(reject_unsafe_json)]
    for module in _FEATURES:
        app.include_router(
            module.router, prefix=prefix, dependencies=None if module is _track else guarded
        )
    app.include_router(_otlp.router, prefix=prefix)  # OTLP/HTTP GenAI spans -> /track's ingest

    dashboard.mount(app, prefix)

    @app.get("/openapi.json", include_in_schema=False)
    async def root_openapi() -> dict[str, Any]:
        return app.openapi()

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.exception_handler(ReadTimeoutError)
    async def read_timeout(request: Request, exc: ReadTimeoutError) -> JSONResponse:
        detail = (
            f"{exc}: narrow it (start_date/end_date, filters) or follow the cursor in"
            " 'next' instead of a large offset"
        )
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(StorageBusyError)
    async def storage_busy(request: Request, exc: StorageBusyError) -> JSONResponse:
        # Nothing of the request was stored: a retry (the SDK's queue retries) is safe.
        _log.warning("storage busy on %s %s: %s", request.method, request.url.path, exc)
        detail = "the database is busy or unreachable; nothing was stored, retry later"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": json_safe(_jsonable(exc.errors()))}, status_code=422)

    # Inside the fault middleware, which needs uvicorn's own ``receive`` to drop connections.
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    if config.testing:
        state = _testing.TestingState()
        app.state.testing = state
        app.include_router(_testing.router)
        app.add_middleware(
            _testing.FaultMiddleware, state=state, api_prefix=prefix, track_path="/track"
        )
    _add_doc_schemas(app)
    return app


_frozen = False


_GC_YOUNG_THRESHOLD = 10_000


def _freeze_once() -> None:
    global _frozen
    if not _frozen:
        gc.freeze()
        # A 1000-record /track allocates tens of thousands of short-lived containers; at the
        # default threshold (700) that is ~15 young collections per batch (~3 ms of ~25 ms).
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], _GC_YOUNG_THRESHOLD), *threshold[1:])
        _frozen = True


def _jsonable(errors: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors)


def _add_doc_schemas(app: FastAPI) -> None:
    """Put the documentation-only /track request model into the OpenAPI components, and the
    error answers the server sends into every operation."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        model_schema = _track.TrackRequestDoc.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, sub in model_schema.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components["TrackRequest"] = model_schema
        _openapi.document_errors(
            schema,
            app,
            authenticated=_auth.authenticated_key,
            reads_db=_deps.get_db,
            result_422=frozenset({f"{app.state.config.api_prefix}/track"}),
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
