"""Request body of the job kind "saa" (optimiser/service/saa_tasks.py): a plan request plus the
distribution (a scenario set resampled, or the log-normal generator), the executed moves and
the options of `triage scenarios saa` (docs/stochastic.md, "Sample-average approximation")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from optimiser.service.schemas import PlanOptions, PlanRequest, engine_checked


def _whole(minimum: int, description: str) -> object:
    return engine_checked({"type": "integer", "minimum": minimum, "description": description})


class SaaOptions(PlanOptions):
    """PlanOptions plus the SAA options (the CLI's, underscores for dashes)."""

    replications: _whole(2, "Independent SAA problems M (default 10).") = None  # type: ignore[valid-type]
    sample: _whole(1, "Scenarios N in each SAA problem (default 10).") = None  # type: ignore[valid-type]
    evaluate_on: _whole(  # type: ignore[valid-type]
        2, "Fresh scenarios N' scoring the candidate (default 200)."
    ) = None
    select_on: _whole(  # type: ignore[valid-type]
        1, "Scenarios choosing the candidate (default N)."
    ) = None
    seed: _whole(0, "Master seed: same seed, same answer (default 0).") = None  # type: ignore[valid-type]
    confidence: engine_checked(  # type: ignore[valid-type]
        {"type": "number", "minimum": 0.5, "exclusiveMaximum": 1,
         "description": "Level of the one-sided bounds (default 0.95)."}
    ) = None
    commit_days: _whole(  # type: ignore[valid-type]
        1, "Days whose movements are decided now, the same in every scenario (default 7)."
    ) = None
    risk: engine_checked(  # type: ignore[valid-type]
        {"type": "string", "description": "neutral (default), cvar:alpha=A,lambda=L or "
         "worst:alpha=A: what the bounds bound (the result's `objective`)."}
    ) = None
    today: _whole(  # type: ignore[valid-type]
        0, "Re-plan from this day (default: the day after the last executed dispatch)."
    ) = None


class SaaRequest(PlanRequest):
    """A plan request with the distribution: `scenarios` (ScenarioSet.to_dict's JSON, taken as
    the true distribution and resampled) or `generator` ({"method": "lognormal", ...its
    parameters}); `executed`: moves already made (rows of kind?, day, from, to, units,
    arrives?)."""

    model_config = ConfigDict(
        json_schema_extra={"additionalProperties": False,
                           "required": ["regions", "supply", "demand"]},
    )

    scenarios: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "description": "The distribution to resample (docs/stochastic.md)."}
    ) = None
    generator: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "description": "{\"method\": \"lognormal\", ...parameters}: run "
         "with fresh seeds (docs/scenarios.md)."}
    ) = None
    executed: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "items": {"type": "object"},
         "description": "Moves already made: kind?, day, from, to, units, arrives?"}
    ) = None
    options: SaaOptions | None = None


class SaaJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["saa"] = Field(
        description="Sample-average approximation with bounds on the optimality gap "
        "(`triage scenarios saa`).")
    request: SaaRequest
