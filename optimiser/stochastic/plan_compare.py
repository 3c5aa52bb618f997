"""The two-stage plan and its comparison within one budget: what `triage plan --scenarios
--compare`, the service's `stochastic_plan` job (`options.compare`) and Python callers share,
so the three split a time limit and pick the candidates to score the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from models.fairness import ConstraintSpec
from optimiser.deadline import Deadline
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic.api import DEFAULT_COMMIT_DAYS, plan_under_uncertainty
from optimiser.stochastic.compare import DEFAULT_BUFFER, Comparison, compare
from optimiser.stochastic.results import StochasticResult
from optimiser.stochastic.risk import parse_risk


def plan_and_compare(
    instance: Any,
    scenarios: ScenarioSet,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    compare_plans: bool = True,
    evaluation: ScenarioSet | None = None,
    buffer: float = DEFAULT_BUFFER,
    commit_days: int = DEFAULT_COMMIT_DAYS,
    risk: Any = None,
    default_constraints: bool = True,
    executed: pd.DataFrame | Any = None,
    today: int | None = None,
    time_limit: float | None = None,
    deadline: Deadline | None = None,
    mip_gap: float | None = None,
    tie_break: bool = True,
    price_of_fairness: bool = True,
    relax_recourse: bool = False,
    progress: bool = False,
    parts_after: int = 0,
    method: str = "auto",
) -> tuple[StochasticResult, Comparison | None]:
    """The two-stage plan (plan_under_uncertainty) and, with `compare_plans`, its comparison
    (compare), within one budget: `deadline` (started by the caller before loading) or
    `time_limit` seconds from now. The plan is the answer: with the comparison it takes half
    of what is left, a third with one more part to follow (`parts_after`: the CLI's
    --report fan charts), and the comparison what the plan leaves. The plan made is scored
    as it is (the risk-averse plan with `risk`, else the stochastic one), not made again.
    No comparison when the plan is infeasible or none was found. `method`: the plan's
    (plan_under_uncertainty)."""
    budget = deadline if deadline is not None else (
        None if time_limit is None else Deadline(time_limit)
    )
    parts = 1 + int(compare_plans) + parts_after
    solving = budget
    left = None if budget is None else budget.left()
    if budget is not None and left is not None and parts > 1:
        solving = budget.reserved(max(0.0, left) * (parts - 1) / parts)
    result = plan_under_uncertainty(
        instance,
        scenarios,
        constraints=constraints,
        commit_days=commit_days,
        risk=risk,
        default_constraints=default_constraints,
        executed=executed,
        today=today,
        time_limit=time_limit,
        mip_gap=mip_gap,
        tie_break=tie_break,
        price_of_fairness=price_of_fairness,
        relax_recourse=relax_recourse,
        deadline=solving,
        method=method,
    )
    if not compare_plans or result.status == "infeasible" or not len(result.per_scenario):
        return result, None
    neutral = parse_risk(risk).kind == "neutral"
    comparison = compare(
        instance,
        scenarios,
        constraints,
        evaluation=evaluation,
        commit_days=commit_days,
        risk=None if neutral else risk,
        buffer=buffer,
        default_constraints=default_constraints,
        executed=result.executed if len(result.executed) else None,
        today=result.today,
        stochastic=result if neutral else None,
        averse=None if neutral else result,
        progress=progress,
        deadline=budget,
    )
    return result, comparison


__all__ = ["plan_and_compare"]
