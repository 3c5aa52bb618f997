"""POST/GET /v1/jobs, GET/DELETE /v1/jobs/{id}: asynchronous jobs, each visible to its owner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from optimiser.service.deps import caller, service_of
from optimiser.service.errors import no_job
from optimiser.service.schemas import (
    AUTHED,
    JobList,
    JobRequest,
    JobStatus,
    JobView,
    error_responses,
)
from optimiser.service.store import Job

router = APIRouter(tags=["jobs"])
CURSOR_PATTERN = "^[0-9]{1,18}$"  # a next_cursor: a job's sequence number (fits in int64)


def _time(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


def job_view(job: Job, with_result: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "attempts": job.attempts,
        "time_limit": job.time_limit,
        "idempotency_key": job.idempotency_key,
        "note": job.note,
        "error": None if job.error is None else json.loads(job.error),
    }
    if with_result:
        view["result"] = None if job.result is None else json.loads(job.result)
    return view


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobView,
    responses={
        200: {"model": JobView, "description": "Idempotent replay: the job of this key."},
        **error_responses(*AUTHED, 409, 415),
    },
    summary="Submit a job; returns its id at once (202).",
)
async def submit_job(
    body: JobRequest,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", pattern="^[ -~]{1,200}$",
               description="Retry safely: same key (per token), same job (1-200 printable "
               "ASCII characters)."),
    ] = None,
) -> JSONResponse:
    job, created = await service_of(request).submit(
        caller(request).name, body.kind, body.request.to_engine(), idempotency_key
    )
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(job_view(job, with_result=False), status_code=202 if created else 200,
                        headers=headers)


@router.get("/v1/jobs", response_model=JobList, responses=error_responses(*AUTHED),
            summary="The caller's jobs, newest first (results omitted).")
async def list_jobs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page.")] = 20,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="next_cursor of the previous page.")
    ] = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
) -> JSONResponse:
    before = None if cursor is None else int(cursor)
    service = service_of(request)
    jobs = await service.db(service.store.list, caller(request).name, limit + 1, before, status)
    more = len(jobs) > limit
    jobs = jobs[:limit]
    return JSONResponse({
        "jobs": [job_view(j, with_result=False) for j in jobs],
        "next_cursor": str(jobs[-1].seq) if more and jobs else None,
    })


@router.get("/v1/jobs/{job_id}", response_model=JobView,
            responses=error_responses(*AUTHED, 404),
            summary="A job's status, and its result when done.")
async def get_job(job_id: str, request: Request) -> JSONResponse:
    service = service_of(request)
    job = await service.db(service.store.get, job_id, caller(request).name)
    if job is None:
        raise no_job(job_id)
    return JSONResponse(job_view(job))


@router.delete(
    "/v1/jobs/{job_id}",
    response_model=JobView,
    responses=error_responses(*AUTHED, 404, 409),
    summary="Cancel a queued or running job.",
)
async def cancel_job(job_id: str, request: Request) -> JSONResponse:
    job = await service_of(request).cancel(caller(request).name, job_id)
    return JSONResponse(job_view(job, with_result=False))
