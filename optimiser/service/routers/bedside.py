"""POST /v1/bedside: one bedside allocation, synchronously (the JSON of `triage bedside
allocate --json` plus its decision log). Longer work (compare) is a job."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from optimiser.service.bedside_schemas import BedsideRequest
from optimiser.service.deps import service_of
from optimiser.service.schemas import AUTHED, error_responses

router = APIRouter(tags=["bedside"])


@router.post(
    "/v1/bedside",
    responses={200: {"description": "The allocation: patients (decision, reason, score, "
                     "rank, lottery draw), sites, protocols, price of fairness, "
                     "certificates, horizon and the decision log."},
               **error_responses(*AUTHED, 415, 500, 503, 504)},
    summary="Bedside triage now: who receives the units, under the committee's policy.",
    description="Advisory: a recommendation for the triage officer. A policy the guardrails "
    "refuse (categorical exclusion by age or disability, social worth, bedside cost per QALY, "
    "a cut-off on a protected attribute) is a 422 naming the rule and the principle.",
)
async def bedside(body: BedsideRequest, request: Request) -> Response:
    limit = body.options.time_limit if body.options is not None else None
    outcome, served = await service_of(request).solve(await request.body(), limit,
                                                      kind="bedside")
    headers = {"X-Time-Limit": f"{outcome.time_limit:g}", "X-Triage-Cache": served}
    return Response(outcome.body, media_type="application/json", headers=headers)
