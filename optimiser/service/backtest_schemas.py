"""Request body of the job kind "backtest" (optimiser/service/backtest_tasks.py): a plan
request (with multiperiod.start_date) plus the observed series and the forecasts published,
as JSON rows (docs/backtest.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from optimiser.service.schemas import PlanOptions, PlanRequest, engine_checked


class BacktestOptions(PlanOptions):
    """PlanOptions plus the options of `triage backtest`."""

    as_of: engine_checked(  # type: ignore[valid-type]
        {"type": "string", "description": "First planning date, YYYY-MM-DD (default: the "
         "window's first day)."}
    ) = None
    policies: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "items": {"type": "string"},
         "description": "Policies to compare (default: every available one)."}
    ) = None
    commit_days: engine_checked(  # type: ignore[valid-type]
        {"type": "integer", "minimum": 1, "description": "Re-plan every N days (default 7)."}
    ) = None
    buffer: engine_checked(  # type: ignore[valid-type]
        {"type": "number", "description": "The buffer policy's demand margin (default 0.1)."}
    ) = None
    forecast: engine_checked(  # type: ignore[valid-type]
        {"type": "string", "description": "The forecast source planned with (default ihme, "
         "else the first source)."}
    ) = None
    anchor: engine_checked(  # type: ignore[valid-type]
        {"type": "string", "enum": ["none", "level"],  # optimiser.backtest.policies.ANCHORS
         "description": "none (default) or level."}
    ) = None


class BacktestRequest(PlanRequest):
    """A plan request with `observed` (rows of region, date or day, and the demand kind) and
    `releases` (rows of source, release, quantity, interval_level?, note? and `forecast`: rows
    of region, date or day, mean, lower?, upper?)."""

    model_config = ConfigDict(
        json_schema_extra={"additionalProperties": False,
                           "required": ["regions", "supply", "demand", "observed", "releases"]},
    )

    observed: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "items": {"type": "object"},
         "description": "What happened: region, date (or day), and the demand kind."}
    ) = None
    releases: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "items": {"type": "object"},
         "description": "The forecasts published, each with its rows (docs/backtest.md)."}
    ) = None
    options: BacktestOptions | None = None


class BacktestJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["backtest"] = Field(
        description="Plans made week by week with the forecasts of the time, replayed against "
        "what happened (`triage backtest`).")
    request: BacktestRequest
