"""Baselines and the value of planning under uncertainty, scored by check-plan's simulator.

Every candidate is a first-stage plan: the movements of the commit window, made before the
demand is known. How it does in a scenario (docs/stochastic.md, "Scoring a plan"):

1. recourse: the deterministic planner (`optimiser.multiperiod.planner.plan`) re-plans the
   rest of the horizon for that scenario's demand with the candidate's commit fixed as
   executed moves (`executed=`, `today` = the end of the window): what a team would do once
   it sees the demand, the same rule for every candidate;
2. the recourse plan is replayed `as_is` through the independent simulator
   (optimiser.scenarios.evaluate, which calls check-plan's `simulate`): survivors, deaths,
   shortfall in resource-days, rules broken.

Candidates: the stochastic plan (risk neutral) and, when asked, a risk-averse one; the plan
made on the mean forecast (the probability-weighted mean demand); the mean plus a demand
buffer (COVIDAnalytics' rule, 10% by default); the worst-case plan (made on the upper
envelope: each region-day's largest demand over the scenarios); perfect hindsight (each
scenario planned knowing its demand: the bound, no common commit).

VSS = E[survivors | stochastic] - E[survivors | mean plan]; EVPI = E[survivors | hindsight]
- E[survivors | stochastic]; both from the simulator's survivors over the evaluation
scenarios. Out of sample when `evaluation` is a set not used to make the plans (default:
the planning set itself, flagged in sample).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from models.fairness import ConstraintSpec
from optimiser.deadline import Deadline
from optimiser.json_values import json_number, json_ready
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.planner import plan
from optimiser.multiperiod.results import PlanResult
from optimiser.scenarios.evaluate import DEFAULT_ALPHA, Evaluation, evaluate
from optimiser.scenarios.model import ScenarioSet, check_compatible
from optimiser.solver import SolveStatus
from optimiser.stochastic.api import DEFAULT_COMMIT_DAYS, plan_under_uncertainty
from optimiser.stochastic.compare_budget import CompareBudget, OutOfTime
from optimiser.stochastic.results import COMMITTED_COLUMNS

DEFAULT_BUFFER = 0.10
METRICS = (
    "expected_survivors",
    "expected_deaths",
    "probability_of_shortfall",
    "expected_shortfall",
    "cvar_shortfall",
    "cvar_deaths",
)
TABLE_COLUMNS = [*METRICS, "recourse_without_fairness"]


@dataclass(frozen=True)
class Comparison:
    """Each candidate's figures over the evaluation scenarios (table: index candidate,
    TABLE_COLUMNS), VSS and EVPI (survivors), and how they were obtained."""

    table: pd.DataFrame
    vss: float | None
    evpi: float | None
    in_sample: bool
    alpha: float
    commit_days: int
    committed: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # "complete", or "time_limit": the budget ran out; `not_scored` says which candidates
    # were left out and why (a candidate is scored on every evaluation scenario or not at
    # all), `cut_short` which scored ones had re-plans not proved optimal (scenario ids)
    status: str = "complete"
    not_scored: dict[str, str] = field(default_factory=dict)
    cut_short: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "not_scored": dict(self.not_scored),
            "cut_short": {k: list(v) for k, v in self.cut_short.items()},
            "candidates": [
                {"candidate": str(c), **{k: json_number(v) for k, v in row.items()}}
                for c, row in self.table.iterrows()
            ],
            "vss": json_number(self.vss),
            "evpi": json_number(self.evpi),
            "in_sample": self.in_sample,
            "alpha": self.alpha,
            "commit_days": self.commit_days,
            "committed": {
                k: [{c: json_number(v) for c, v in r.items()} for r in f.to_dict("records")]
                for k, f in self.committed.items()
            },
            "info": json_ready(self.info),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        table = pd.DataFrame(
            list(data["candidates"]), columns=["candidate", *TABLE_COLUMNS]
        ).set_index("candidate")[TABLE_COLUMNS]
        return cls(
            table=table,
            vss=data.get("vss"),
            evpi=data.get("evpi"),
            in_sample=bool(data["in_sample"]),
            alpha=float(data["alpha"]),
            commit_days=int(data["commit_days"]),
            committed={
                k: pd.DataFrame(list(v), columns=COMMITTED_COLUMNS)
                for k, v in (data.get("committed") or {}).items()
            },
            info=dict(data.get("info") or {}),
            status=str(data.get("status", "complete")),
            not_scored={str(k): str(v) for k, v in (data.get("not_scored") or {}).items()},
            cut_short={str(k): list(v) for k, v in (data.get("cut_short") or {}).items()},
        )


def with_demand(instance: MultiPeriodInstance, table: pd.DataFrame) -> MultiPeriodInstance:
    """The instance with a demand table (regions x days) in place of its own."""
    table = table.reindex(index=instance.regions).astype(float)
    table.columns = instance.demand.columns
    return replace(instance, demand=table)


def forecast_tables(scenarios: ScenarioSet, buffer: float) -> dict[str, pd.DataFrame]:
    """The single forecasts the deterministic baselines plan on."""
    mean = scenarios.expected_demand()
    envelope = scenarios.demand.groupby(level="region", sort=False).max().reindex(mean.index)
    return {"mean": mean, "buffer": mean * (1.0 + buffer), "worst_case": envelope}


def commit_of(result: PlanResult, start: int, end: int) -> pd.DataFrame:
    """A deterministic plan's movements dispatched in [start, end) (its first stage)."""
    frame = result.plan
    if not len(frame):
        return pd.DataFrame(columns=COMMITTED_COLUMNS)
    day = frame["day"].astype(int)
    keep = frame["kind"].isin(("ship", "transfer")) & (day >= start) & (day < end)
    out = frame.loc[keep, COMMITTED_COLUMNS].copy()
    out["units"] = out["units"].astype(float)
    out["day"] = out["day"].astype("int64")
    out["arrives"] = out["arrives"].astype("int64")
    return out.reset_index(drop=True)


def recourse(
    instance: MultiPeriodInstance,
    executed: pd.DataFrame,
    end: int,
    scenarios: ScenarioSet,
    constraints: Sequence[ConstraintSpec | str | Mapping[str, Any]],
    default_constraints: bool,
    tick: Callable[[], object] | None = None,
    budget: CompareBudget | None = None,
) -> tuple[dict[str, PlanResult], int]:
    """Per scenario, the deterministic re-plan from day `end` with `executed` fixed. A
    scenario in which the fairness constraints cannot hold after this commit is re-planned
    without them (counted: the second value). `tick`: called after each scenario.
    `budget`: each re-plan within its share; a scenario whose re-plan could not start or
    found no plan ends the loop (the plans returned are then fewer than the scenarios)."""
    plans: dict[str, PlanResult] = {}
    relaxed = 0
    for sid, inst in scenarios.instances(instance):

        def replan(limit: float | None, specs: Any = constraints, own: bool = default_constraints,
                   inst: MultiPeriodInstance = inst) -> PlanResult:
            return plan(
                inst,
                specs,
                default_constraints=own,
                executed=executed,
                today=end,
                price_of_fairness=False,
                time_limit=limit,
            )

        try:
            result = budget.run(1, replan) if budget is not None else replan(None)
            if result.status is SolveStatus.INFEASIBLE:
                relaxed += 1
                result = (
                    budget.run(0, lambda t: replan(t, [], False))
                    if budget is not None
                    else replan(None, [], False)
                )
        except OutOfTime:
            break
        if result.lives_saved is None and budget is not None and budget.limited:
            break  # no plan in its share: the candidate is not scored
        plans[sid] = result
        if tick is not None:
            tick()
    return plans, relaxed


def compare(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    evaluation: ScenarioSet | None = None,
    commit_days: int = DEFAULT_COMMIT_DAYS,
    risk: str | None = None,
    buffer: float = DEFAULT_BUFFER,
    alpha: float | None = None,
    default_constraints: bool = True,
    executed: pd.DataFrame | None = None,
    today: int = 0,
    stochastic: Any = None,
    progress: bool = False,
    time_limit: float | None = None,
    deadline: Deadline | None = None,
) -> Comparison:
    """Make every candidate's commit on `scenarios`, score each over `evaluation` (default:
    `scenarios`, in sample) by recourse + simulator; VSS and EVPI. `stochastic`: a
    StochasticResult already made for these inputs (not made again). `alpha`: the tail of
    the CVaR figures (default: the risk measure's, else 0.1). `progress`: a bar on a
    terminal over the re-plans (one per candidate and evaluation scenario).

    `time_limit` (or a caller's `deadline`): one budget for the whole comparison, shared
    among its plans (optimiser/stochastic/compare_budget.py). When it runs out, the
    candidates not scored on every evaluation scenario are left out (`not_scored` says why),
    VSS and EVPI are given only when both their candidates were scored, and the status is
    time_limit; scored candidates whose re-plans were cut short are listed in `cut_short`."""
    from optimiser.engine_protocol import check_time_limit
    from optimiser.errors import InputError, Problem
    from optimiser.stochastic.risk import parse_risk

    t0 = time.perf_counter()
    check_time_limit(time_limit)
    measure = parse_risk(risk) if risk is not None else None
    tail = alpha if alpha is not None else (measure.alpha if measure else DEFAULT_ALPHA)

    if not 0.0 <= buffer <= 10.0:
        raise InputError(
            Problem(f"must be in [0, 10], got {buffer!r}", column="buffer", column_word="option")
        )
    check_compatible(scenarios, instance)
    held_out = evaluation if evaluation is not None else scenarios
    check_compatible(held_out, instance)
    specs = list(constraints or [])
    n, forecasts = len(held_out), forecast_tables(scenarios, buffer)
    stochastic_weight = float(len(scenarios))
    candidates = 1 + (risk is not None) + len(forecasts)
    budget = CompareBudget(
        deadline if deadline is not None else Deadline(time_limit, start=t0),
        weight=(stochastic_weight if stochastic is None else 0.0)
        + (stochastic_weight if risk is not None else 0.0)
        + len(forecasts)
        + (candidates + 1) * n,
        scores=candidates + 1,
        scenarios=n,
    )
    not_scored: dict[str, str] = {}
    late = "its plan was not started: the time limit was reached"

    def two_stage(chosen: str | None) -> Callable[[float | None], Any]:
        def make(limit: float | None) -> Any:
            return plan_under_uncertainty(
                instance,
                scenarios,
                specs,
                commit_days=commit_days,
                risk=chosen,
                default_constraints=default_constraints,
                executed=executed,
                today=today,
                price_of_fairness=False,
                time_limit=limit,
            )

        return make

    if stochastic is None:
        stochastic = budget.run(stochastic_weight, two_stage(None))  # the window's days
    start, end = stochastic.today, stochastic.commit_end
    prior = stochastic.executed
    commits: dict[str, pd.DataFrame] = {}
    if not _unplanned(stochastic.expected_lives, stochastic.status):
        commits["stochastic"] = stochastic.committed
    else:
        not_scored["stochastic"] = f"no plan found ({stochastic.status})"
        budget.skip(n)
    if risk is not None:
        try:
            averse = budget.run(stochastic_weight, two_stage(risk))
        except OutOfTime:
            averse = None
            not_scored["risk_averse"] = late
            budget.skip(n)
        if averse is not None and _unplanned(averse.expected_lives, averse.status):
            not_scored["risk_averse"] = f"no plan found ({averse.status})"
            budget.skip(n)
        elif averse is not None:
            commits["risk_averse"] = averse.committed
    for name, table in forecasts.items():

        def deterministic(limit: float | None, table: pd.DataFrame = table) -> PlanResult:
            return plan(
                with_demand(instance, table),
                specs,
                default_constraints=default_constraints,
                executed=executed,
                today=today if executed is not None else None,
                price_of_fairness=False,
                time_limit=limit,
            )

        try:
            det = budget.run(1, deterministic)
        except OutOfTime:
            not_scored[name] = late
            budget.skip(n)
            continue
        if _unplanned(det.lives_saved, det.status):
            not_scored[name] = f"no plan found ({det.status})"
            budget.skip(n)
            continue
        commits[name] = commit_of(det, start, end)
    from tqdm.auto import tqdm

    rows: dict[str, dict[str, float]] = {}
    cut_short: dict[str, list[str]] = {}
    bar = tqdm(
        total=(len(commits) + 1) * n,
        desc="score the candidates",
        unit="re-plan",
        disable=None if progress else True,  # None: shown on a terminal only
        dynamic_ncols=True,
    )

    def score(name: str, plans: dict[str, PlanResult], relaxed: int) -> None:
        """The candidate's row, only when every evaluation scenario has its plan."""
        if len(plans) < n:
            not_scored[name] = (
                f"re-planned {len(plans)} of {n} evaluation scenario(s) before the time limit"
            )
            budget.skip(n - len(plans))
            return
        if not budget.can_score(n):
            not_scored[name] = "not replayed: the time limit was reached"
            budget.skip(0)
            return
        scoring = time.perf_counter()
        rows[name] = _row(evaluate(instance, plans, held_out, alpha=tail, workers=1), relaxed)
        budget.scored(time.perf_counter() - scoring, n)
        short = [sid for sid, p in plans.items() if p.status is SolveStatus.TIME_LIMIT]
        if short:
            cut_short[name] = short

    for name, commit in commits.items():
        bar.set_postfix_str(name)
        fixed = pd.concat([f for f in (prior, commit) if len(f)] or [commit], ignore_index=True)
        try:
            plans, relaxed = recourse(
                instance, fixed, end, held_out, specs, default_constraints, tick=bar.update,
                budget=budget,
            )
        except InputError as exc:  # e.g. a commit cut short that moves units it has not
            first = str(exc).splitlines()[0] if str(exc) else "invalid"
            not_scored[name] = f"its commit cannot be executed in a scenario: {first}"
            budget.skip(n)
            continue
        score(name, plans, relaxed)
    bar.set_postfix_str("hindsight")
    hindsight: dict[str, PlanResult] = {}
    relaxed = 0
    for sid, inst in held_out.instances(instance):

        def foresight(limit: float | None, inst: MultiPeriodInstance = inst) -> PlanResult:
            return plan(
                inst,
                specs,
                default_constraints=default_constraints,
                executed=executed,
                today=today if executed is not None else None,
                price_of_fairness=False,
                time_limit=limit,
            )

        def unconstrained(limit: float | None, inst: MultiPeriodInstance = inst) -> PlanResult:
            return plan(inst, [], default_constraints=False, price_of_fairness=False,
                        time_limit=limit)

        try:
            result = budget.run(1, foresight)
            if result.status is SolveStatus.INFEASIBLE:
                relaxed += 1
                result = budget.run(0, unconstrained)
        except OutOfTime:
            break
        if result.lives_saved is None and budget.limited:
            break
        hindsight[sid] = result
        bar.update()
    bar.close()
    score("hindsight", hindsight, relaxed)
    table = pd.DataFrame(
        [rows[k] for k in rows], index=pd.Index(list(rows), name="candidate"),
        columns=TABLE_COLUMNS,
    )
    survivors = table["expected_survivors"]

    def difference(a: str, b: str) -> float | None:
        return float(survivors[a] - survivors[b]) if a in rows and b in rows else None

    return Comparison(
        table=table,
        vss=difference("stochastic", "mean"),
        evpi=difference("hindsight", "stochastic"),
        in_sample=evaluation is None,
        alpha=tail,
        commit_days=stochastic.commit_days,
        committed=commits,
        info={
            "planning_scenarios": len(scenarios),
            "evaluation_scenarios": len(held_out),
            "buffer": buffer,
            "risk": None if measure is None else measure.label,
            "worst_case": "upper envelope: each region-day's largest demand over the scenarios",
            "recourse": "deterministic re-plan per scenario with the commit fixed, replayed "
            "as_is through check-plan's simulator",
            "time_limit": budget.deadline.limit,
        },
        status="time_limit" if not_scored or cut_short else "complete",
        not_scored=not_scored,
        cut_short=cut_short,
    )


def _unplanned(lives: float | None, status: Any) -> bool:
    """No plan, and not because the constraints cannot hold (an infeasible commit plan is
    scored as the commit of nothing, as it always was)."""
    return lives is None and status is not SolveStatus.INFEASIBLE


def _row(evaluation: Evaluation, relaxed: int) -> dict[str, float]:
    out = {k: float(evaluation.metrics[k].value) for k in METRICS}
    out["recourse_without_fairness"] = float(relaxed)
    return out
