"""The FastAPI application: routers, error handlers, middleware, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from optimiser import __version__
from optimiser.service.core import Service
from optimiser.service.errors import install_handlers
from optimiser.service.middleware import PUBLIC_PATHS, ServiceMiddleware
from optimiser.service.routers import bedside, jobs, solve, system
from optimiser.service.settings import Settings
from optimiser.service.workers import Runner

DESCRIPTION = """\
The regional triage engine over HTTP: the same functions as the `triage` CLI and the Python API.

* `POST /v1/solve` solves now, within a bounded time; `POST /v1/jobs` queues a job and returns
  its id at once.
* Every endpoint except `/v1/health` and `/v1/ready` needs a token:
  `Authorization: Bearer <token>` (or `X-API-Key: <token>`). A token sees only its own jobs.
* Errors are JSON: `{"error": {"status", "code", "message", "problems": [{"field", "message"}]}}`.
"""


def create_app(settings: Settings | None = None, *, runner: Runner | None = None) -> FastAPI:
    """Build the app. Opens the job store and recovers interrupted jobs at once (so a bad
    setting fails here, with a clear message); solvers start with the server."""
    settings = settings or Settings.from_env()
    service = Service(settings, runner)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="Regional triage solver service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    install_handlers(app)
    app.add_middleware(ServiceMiddleware, service=service)
    app.include_router(system.router)
    app.include_router(solve.router)
    app.include_router(jobs.router)
    app.include_router(bedside.router)
    _document_security(app)
    return app


def _document_security(app: FastAPI) -> None:
    """Declare the token schemes in the OpenAPI spec (ServiceMiddleware enforces them)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        spec.setdefault("components", {})["securitySchemes"] = {
            "HTTPBearer": {"type": "http", "scheme": "bearer",
                           "description": "Authorization: Bearer <token>"},
            "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                             "description": "Or X-API-Key: <token>"},
        }
        for path, operations in spec.get("paths", {}).items():
            if path in PUBLIC_PATHS:
                continue
            for operation in operations.values():
                operation["security"] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
