"""Request body of the job kind "stochastic_plan" (optimiser/service/stochastic_tasks.py): a
plan request plus the demand scenarios and the two-stage options (docs/stochastic.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from optimiser.service.schemas import PlanOptions, PlanRequest, engine_checked


class StochasticPlanOptions(PlanOptions):
    """PlanOptions plus the commit window and the risk measure."""

    commit_days: engine_checked(  # type: ignore[valid-type]
        {"type": "integer", "minimum": 1, "description": "Days whose movements are decided "
         "now, the same in every scenario (default 7)."}
    ) = None
    risk: engine_checked(  # type: ignore[valid-type]
        {"type": "string", "description": "neutral (default), cvar:alpha=A,lambda=L or "
         "worst:alpha=A."}
    ) = None
    compare: engine_checked(  # type: ignore[valid-type]
        {"type": "boolean", "description": "Also score the plan against the mean, buffer, "
         "worst-case and hindsight plans (`triage plan --compare`): the answer's "
         "`comparison`. Under the time limit the stochastic, mean and hindsight plans first."}
    ) = None
    buffer: engine_checked(  # type: ignore[valid-type]
        {"type": "number", "minimum": 0, "maximum": 10, "description": "With compare: the "
         "buffer plan's demand buffer over the mean (default 0.1)."}
    ) = None
    # the job function read it (commit e7e95b3) but this schema refused it before it got there
    method: engine_checked(  # type: ignore[valid-type]
        {"type": "string", "enum": ["auto", "exact", "rounding"], "description": "auto "
         "(default), exact (HiGHS on the whole extensive form) or rounding (the "
         "decomposition), as `triage plan --scenarios --method`."}
    ) = None


class StochasticPlanRequest(PlanRequest):
    """A plan request with `scenarios`: ScenarioSet.to_dict's JSON (demand_kind, scenarios:
    [{id, probability, demand: {region: [value per day]}}])."""

    model_config = ConfigDict(
        json_schema_extra={"additionalProperties": False,
                           "required": ["regions", "supply", "demand", "scenarios"]},
    )

    scenarios: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "description": "The demand scenarios (docs/stochastic.md)."}
    ) = None
    evaluation: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "description": "With options.compare: the scenarios to score on "
         "(out of sample; same form as scenarios; default the planning scenarios)."}
    ) = None
    options: StochasticPlanOptions | None = None


class StochasticPlanJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["stochastic_plan"] = Field(
        description="A two-stage delivery plan under demand scenarios (`triage plan --scenarios`).")
    request: StochasticPlanRequest
