"""GET /v1/health, GET /v1/ready (no token) and GET /metrics (token)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from optimiser import __version__
from optimiser.service.deps import service_of
from optimiser.service.metrics import CONTENT_TYPE
from optimiser.service.schemas import AUTHED, Health, Ready, error_responses

router = APIRouter(tags=["system"])


@router.get("/v1/health", response_model=Health, summary="Liveness: the process answers.")
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


@router.get(
    "/v1/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Not ready (store or solvers)."}},
    summary="Readiness: the job store answers and the solvers are warm.",
)
async def ready(request: Request) -> JSONResponse:
    checks = await service_of(request).readiness()
    is_ready = all(v.startswith("ok") for v in checks.values())
    return JSONResponse({"ready": is_ready, "checks": checks}, status_code=200 if is_ready else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **error_responses(*AUTHED)},
    summary="Prometheus metrics (text format).",
)
async def metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        await service_of(request).render_metrics(),
        media_type=CONTENT_TYPE,
    )
