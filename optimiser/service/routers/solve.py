"""POST /v1/solve: one allocation, synchronously, within a bounded time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from optimiser.service.deps import service_of
from optimiser.service.schemas import AUTHED, SolveRequest, SolveResult, error_responses

router = APIRouter(tags=["solve"])

@router.post(
    "/v1/solve",
    response_model=SolveResult,
    responses=error_responses(*AUTHED, 415, 500, 503, 504),
    summary="Solve an instance now (the JSON of `triage solve --json`).",
    description="An infeasible constraint set is an answer, not an error: 200 with status "
    '"infeasible" and an explanation naming the constraints and numbers that conflict. A '
    'solve stopped by its time limit is 200 with status "time_limit" and the gap in solver.gap; '
    'one stopped at the solver\'s own iteration or node limits, "iteration_limit", with the '
    "limit named in explanation.",
)
async def solve(body: SolveRequest, request: Request) -> Response:
    # The body passed FastAPI's checks; the solver process parses the same bytes again (cheaper
    # than sending Python objects over the pipe) and recognises repeated requests by hash.
    requested_limit = body.options.time_limit if body.options is not None else None
    regions = len(body.regions) if isinstance(body.regions, list) else 0  # else: the engine says
    outcome, served = await service_of(request).solve(
        await request.body(), requested_limit, regions,
        received=getattr(request.state, "received", None),
    )
    headers = {
        "X-Time-Limit": f"{outcome.time_limit:g}",
        "X-Triage-Cache": served,
        "Server-Timing": f"solver;dur={outcome.solver_seconds * 1000:.2f}",
    }
    return Response(outcome.body, media_type="application/json", headers=headers)
