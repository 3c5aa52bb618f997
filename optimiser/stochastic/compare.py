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

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from models.fairness import ConstraintSpec
from models.stochastic import Risk
from optimiser.backtest.moves import carried_out
from optimiser.deadline import Deadline
from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import plan_rows
from optimiser.multiperiod.planner import plan
from optimiser.multiperiod.results import PlanResult
from optimiser.multiperiod_args import check_multiperiod
from optimiser.scenarios.evaluate import DEFAULT_ALPHA, evaluate
from optimiser.scenarios.model import ScenarioSet, check_compatible
from optimiser.solver import STOPPED, SolveStatus
from optimiser.stochastic.api import DEFAULT_COMMIT_DAYS, _plan_form, plan_under_uncertainty
from optimiser.stochastic.compare_budget import CompareBudget, OutOfTime
from optimiser.stochastic.comparison import METRICS, TABLE_COLUMNS, Comparison
from optimiser.stochastic.engine import check_commit
from optimiser.stochastic.executable import executable_in_every, in_scenario
from optimiser.stochastic.results import COMMITTED_COLUMNS
from optimiser.stochastic.saa_budget import RecourseBudget

DEFAULT_BUFFER = 0.10


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
    budget: CompareBudget | RecourseBudget | None = None,
    cuts: dict[str, int] | None = None,
) -> tuple[dict[str, PlanResult], int]:
    """Per scenario, the deterministic re-plan from day `end` with `executed` fixed. A
    scenario in which the fairness constraints cannot hold after this commit is re-planned
    without them (counted: the second value). `tick`: called after each scenario.
    `budget`: each re-plan within its share; a scenario whose re-plan could not start or
    found no plan ends the loop (the plans returned are then fewer than the scenarios).

    A commit may order a transfer its donor cannot make in a scenario: the scenario's
    patients on units hold the units the forecast left free. Without `cuts` that is an
    InputError naming the scenario; with `cuts`, such a transfer is cut to what the donor can
    spare there (optimiser.backtest.moves.carried_out: the backtest's rule, a donor knows its
    own census when it dispatches) and `cuts[scenario]` says how many units were cut (0 for
    every scenario where the commit was carried out as made)."""
    plans: dict[str, PlanResult] = {}
    relaxed = 0
    for sid, inst in scenarios.instances(instance):
        one = _Replan(inst, sid, executed, end, constraints, default_constraints, cuts)
        try:
            result = budget.run(1, one.first) if budget is not None else one.first(None)
            if result.status is SolveStatus.INFEASIBLE:
                relaxed += 1
                result = (
                    budget.run(0, one.without_fairness)
                    if budget is not None
                    else one.without_fairness(None)
                )
        except OutOfTime:
            break
        if result.lives_saved is None and budget is not None and budget.limited:
            break  # no plan in its share: the candidate is not scored
        if cuts is not None:
            cuts.setdefault(sid, 0)
        plans[sid] = result
        if tick is not None:
            tick()
    return plans, relaxed


@dataclass
class _Replan:
    """One scenario's re-plan after the commit (recourse)."""

    instance: MultiPeriodInstance
    sid: str
    moves: pd.DataFrame
    end: int
    constraints: Sequence[ConstraintSpec | str | Mapping[str, Any]]
    default_constraints: bool
    cuts: dict[str, int] | None

    def replan(self, limit: float | None, fairness: bool = True) -> PlanResult:
        return plan(
            self.instance,
            self.constraints if fairness else [],
            default_constraints=self.default_constraints and fairness,
            executed=self.moves,
            today=self.end,
            price_of_fairness=False,
            time_limit=limit,
        )

    def without_fairness(self, limit: float | None) -> PlanResult:
        return self.replan(limit, fairness=False)

    def first(self, limit: float | None) -> PlanResult:
        """The re-plan; with `cuts`, after cutting transfers the donors cannot make."""
        try:
            return self.replan(limit)
        except InputError as exc:
            if self.cuts is None:
                raise in_scenario(exc, self.sid) from None
            self.moves, cut = carried_out(self.instance, self.moves)
            if not cut:  # not a transfer its donor could not make: say what it is
                raise in_scenario(exc, self.sid) from None
            self.cuts[self.sid] = cut
        try:
            return self.replan(limit)
        except InputError as again:
            raise in_scenario(again, self.sid) from None


def compare(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    evaluation: ScenarioSet | None = None,
    commit_days: int = DEFAULT_COMMIT_DAYS,
    risk: Risk | str | Mapping[str, Any] | None = None,
    buffer: float = DEFAULT_BUFFER,
    alpha: float | None = None,
    default_constraints: bool = True,
    executed: pd.DataFrame | None = None,
    today: int = 0,
    stochastic: Any = None,
    averse: Any = None,
    progress: bool = False,
    time_limit: float | None = None,
    deadline: Deadline | None = None,
) -> Comparison:
    """Make every candidate's commit on `scenarios`, score each over `evaluation` (default:
    `scenarios`, in sample) by recourse + simulator; VSS and EVPI. `stochastic`: the
    risk-neutral StochasticResult already made for these inputs, `averse` the risk-averse one
    (measure `risk`) if made (neither is made again). `alpha`: the tail of the CVaR figures
    (default: the risk measure's, else 0.1). `progress`: a bar on a terminal over the
    re-plans (one per candidate and evaluation scenario).

    A baseline's commit made on one forecast may order transfers a donor cannot make in some
    planning scenario (its patients hold the units): it is cut to what the donors can send in
    every planning scenario before it is scored (optimiser/stochastic/executable.py; the
    units cut in `info["units_cut_to_plan"]`, the commit scored in `committed`). In an
    evaluation scenario none of the plans saw, a commit the donor cannot make is cut there,
    for every candidate alike (`commit_units_cut`: expected units cut; see `recourse`).

    `time_limit` (or a caller's `deadline`): one budget for the whole comparison. The
    candidates come in priority order (optimiser/stochastic/compare_budget.py): the
    risk-averse plan when it was made already (`averse`: the answer of --risk), the
    stochastic plan, the mean-forecast plan, hindsight, then the risk-averse plan when it is
    still to make, the buffer plan and the worst-case plan; a candidate that does not fit in
    what is left at the pace plans have taken is not started, so the budget goes to those
    before it. When the budget runs out, the candidates not scored on every evaluation
    scenario are left out (`not_scored` says why), VSS and EVPI are given only when both
    their candidates were scored, and the status is time_limit; scored candidates whose
    re-plans were cut short are listed in `cut_short`."""
    from optimiser.engine_protocol import check_time_limit
    from optimiser.stochastic.risk import parse_risk

    t0 = time.perf_counter()
    check_multiperiod(instance, "optimiser.stochastic.compare.compare")
    check_time_limit(time_limit)
    measure = parse_risk(risk) if risk is not None else None
    tail = alpha if alpha is not None else (measure.alpha if measure else DEFAULT_ALPHA)

    if not 0.0 <= buffer <= 10.0:
        raise InputError(
            Problem(f"must be in [0, 10], got {buffer!r}", column="buffer", column_word="option")
        )
    if averse is not None and risk is None:
        raise InputError(Problem("averse= (a risk-averse plan) needs risk= (its measure)"))
    check_compatible(scenarios, instance)
    held_out = evaluation if evaluation is not None else scenarios
    check_compatible(held_out, instance)
    if stochastic is not None:
        start, end, prior = stochastic.today, stochastic.commit_end, stochastic.executed
    else:
        start = int(today or 0)
        end = start + check_commit(commit_days, start, instance.days)
        prior = (
            _plan_form(plan_rows(executed, instance, executed=True, name="executed"))
            if executed is not None
            else pd.DataFrame(columns=COMMITTED_COLUMNS)
        )
    run = _Scoring(
        instance=instance,
        held_out=held_out,
        specs=list(constraints or []),
        default_constraints=default_constraints,
        today=start,
        end=end,
        prior=prior,
        tail=tail,
        budget=CompareBudget(
            deadline if deadline is not None else Deadline(time_limit, start=t0),
            weight=0.0,
            scores=0,
            scenarios=len(held_out),
        ),
    )

    def two_stage(given: Any, chosen: Risk | str | Mapping[str, Any] | None) -> _Maker:
        def make(limit: float | None) -> Any:
            return plan_under_uncertainty(
                instance,
                scenarios,
                run.specs,
                commit_days=commit_days,
                risk=chosen,
                default_constraints=default_constraints,
                executed=executed,
                today=today,
                price_of_fairness=False,
                time_limit=limit,
            )

        def commit() -> pd.DataFrame | str:
            made = given if given is not None else run.budget.run(len(scenarios), make)
            if _unplanned(made.expected_lives, made.status):
                return f"no plan found ({made.status})"
            return made.committed

        return _Maker(0.0 if given is not None else float(len(scenarios)), commit)

    def forecast(name: str, table: pd.DataFrame) -> _Maker:
        def make(limit: float | None) -> PlanResult:
            return plan(
                with_demand(instance, table),
                run.specs,
                default_constraints=default_constraints,
                executed=executed,
                today=today if executed is not None else None,
                price_of_fairness=False,
                time_limit=limit,
            )

        def commit() -> pd.DataFrame | str:
            det = run.budget.run(1, make)
            if _unplanned(det.lives_saved, det.status):
                return f"no plan found ({det.status})"
            made = commit_of(det, start, end)
            fixed = pd.concat([f for f in (prior, made) if len(f)] or [made], ignore_index=True)
            try:
                fixed, cut = executable_in_every(
                    instance, scenarios, fixed, end, f"{name} plan's commit"
                )
            except InputError as exc:
                return "; ".join(p.message for p in exc.problems)
            run.repaired[name] = cut
            return fixed.loc[fixed["day"].astype(int) >= start].reset_index(drop=True)

        return _Maker(1.0, commit)

    forecasts = forecast_tables(scenarios, buffer)
    makers = {"stochastic": two_stage(stochastic, None)}
    if risk is not None:
        makers["risk_averse"] = two_stage(averse, risk)
    makers.update({name: forecast(name, table) for name, table in forecasts.items()})
    makers["hindsight"] = _Maker(0.0, None)
    # the plan asked for first (the risk-averse one when it was made already: --risk's answer)
    first = [*(["risk_averse"] if averse is not None else []), "stochastic", "mean", "hindsight"]
    order = [*first, *[name for name in makers if name not in first]]
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(makers) * len(held_out),
        desc="score the candidates",
        unit="re-plan",
        disable=None if progress else True,  # None: shown on a terminal only
        dynamic_ncols=True,
    )
    try:
        run.candidates({name: makers[name] for name in order}, bar)
    finally:
        bar.close()
    table = pd.DataFrame(
        [run.rows[k] for k in makers if k in run.rows],
        index=pd.Index([k for k in makers if k in run.rows], name="candidate"),
        columns=TABLE_COLUMNS,
    )
    survivors = table["expected_survivors"]

    def difference(a: str, b: str) -> float | None:
        return float(survivors[a] - survivors[b]) if a in run.rows and b in run.rows else None

    not_scored = {k: run.not_scored[k] for k in makers if k in run.not_scored}
    return Comparison(
        table=table,
        vss=difference("stochastic", "mean"),
        evpi=difference("hindsight", "stochastic"),
        in_sample=evaluation is None,
        alpha=tail,
        commit_days=end - start,
        committed={k: run.commits[k] for k in makers if k in run.commits},
        info={
            "planning_scenarios": len(scenarios),
            "evaluation_scenarios": len(held_out),
            "buffer": buffer,
            "risk": None if measure is None else measure.label,
            "worst_case": "upper envelope: each region-day's largest demand over the scenarios",
            "recourse": "deterministic re-plan per scenario with the commit fixed, replayed "
            "as_is through check-plan's simulator",
            "commit_cuts": "a baseline's commit is cut to transfers the donors can make in "
            "every planning scenario (optimiser/stochastic/executable.py); in an evaluation "
            "scenario where a commit still cannot be made, the donor cuts what it cannot send",
            "units_cut_to_plan": {k: v for k, v in run.repaired.items() if v},
            "cut_scenarios": {k: v for k, v in run.cut_scenarios.items() if v},
            "order": order,
            "time_limit": run.budget.deadline.limit,
        },
        status="time_limit"
        if not_scored or run.timed_out
        else ("iteration_limit" if run.cut_short else "complete"),
        not_scored=not_scored,
        cut_short=dict(run.cut_short),
    )


@dataclass(frozen=True)
class _Maker:
    """How a candidate's commit is made: the weight of its plan (0: made already, or no
    commit: hindsight) and `make()`, the commit or why there is none (OutOfTime: not
    started)."""

    weight: float
    make: Callable[[], pd.DataFrame | str] | None


@dataclass
class _Scoring:
    """The candidates' figures, made one candidate after the other within one budget."""

    instance: MultiPeriodInstance
    held_out: ScenarioSet
    specs: list[Any]
    default_constraints: bool
    today: int
    end: int
    prior: pd.DataFrame
    tail: float
    budget: CompareBudget
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    commits: dict[str, pd.DataFrame] = field(default_factory=dict)
    not_scored: dict[str, str] = field(default_factory=dict)
    cut_short: dict[str, list[str]] = field(default_factory=dict)
    timed_out: set[str] = field(default_factory=set)  # cut_short by the time limit
    cut_scenarios: dict[str, list[str]] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)

    def candidates(self, makers: Mapping[str, _Maker], bar: Any) -> None:
        """Each candidate in this order (priority), while the budget holds it."""
        n, budget = len(self.held_out), self.budget
        names = list(makers)
        for i, name in enumerate(names):
            maker = makers[name]
            need = maker.weight + n
            if not budget.fits(need):
                left = budget.deadline.left() or 0.0
                self.not_scored[name] = (
                    f"not started: its {counted(need, 'plan')} would take about "
                    f"{need * budget.plan_seconds:.1f} s at the pace of the plans so far "
                    f"({budget.plan_seconds:.2f} s); {max(0.0, left):.1f} s were left"
                )
                continue
            budget.start(need, [makers[m].weight + n for m in names[i + 1 :]])
            bar.set_postfix_str(name)
            if maker.make is None:
                self.score(name, *self.hindsight(bar.update))
                continue
            try:
                commit = maker.make()
            except OutOfTime:
                self.not_scored[name] = "its plan was not started: the time limit was reached"
                continue
            if isinstance(commit, str):
                self.not_scored[name] = commit
                continue
            self.commits[name] = commit
            fixed = pd.concat(
                [f for f in (self.prior, commit) if len(f)] or [commit], ignore_index=True
            )
            cuts: dict[str, int] = {}
            try:
                plans, relaxed = recourse(
                    self.instance,
                    fixed,
                    self.end,
                    self.held_out,
                    self.specs,
                    self.default_constraints,
                    tick=bar.update,
                    budget=self.budget,
                    cuts=cuts,
                )
            except InputError as exc:  # what cutting transfers cannot mend
                lines = str(exc).splitlines()
                self.not_scored[name] = (
                    f"its commit cannot be executed: {lines[0] if lines else 'invalid'}"
                )
                continue
            self.score(name, plans, relaxed, cuts)

    def hindsight(self, tick: Callable[[], object]) -> tuple[dict[str, PlanResult], int]:
        """Each evaluation scenario planned knowing its demand (after the moves executed
        before today, as every candidate)."""
        plans: dict[str, PlanResult] = {}
        relaxed = 0
        for sid, inst in self.held_out.instances(self.instance):

            def foresight(limit: float | None, inst: MultiPeriodInstance = inst) -> PlanResult:
                return plan(
                    inst,
                    self.specs,
                    default_constraints=self.default_constraints,
                    executed=self.prior if len(self.prior) else None,
                    today=self.today if len(self.prior) else None,
                    price_of_fairness=False,
                    time_limit=limit,
                )

            def unconstrained(limit: float | None, inst: MultiPeriodInstance = inst) -> PlanResult:
                return plan(
                    inst, [], default_constraints=False, price_of_fairness=False, time_limit=limit
                )

            try:
                result = self.budget.run(1, foresight)
                if result.status is SolveStatus.INFEASIBLE:
                    relaxed += 1
                    result = self.budget.run(0, unconstrained)
            except OutOfTime:
                break
            if result.lives_saved is None and self.budget.limited:
                break
            plans[sid] = result
            tick()
        return plans, relaxed

    def score(
        self,
        name: str,
        plans: dict[str, PlanResult],
        relaxed: int,
        cuts: Mapping[str, int] | None = None,
    ) -> None:
        """The candidate's row, only when every evaluation scenario has its plan."""
        n, budget = len(self.held_out), self.budget
        if len(plans) < n:
            self.not_scored[name] = (
                f"re-planned {len(plans)} of {counted(n, 'evaluation scenario')} before the time "
                "limit"
            )
            budget.skip(n - len(plans))
            return
        if not budget.can_score(n):
            self.not_scored[name] = "not replayed: the time limit was reached"
            budget.skip(0)
            return
        scoring = budget.clock()
        evaluation = evaluate(self.instance, plans, self.held_out, alpha=self.tail, workers=1)
        row = {k: float(evaluation.metrics[k].value) for k in METRICS}
        row["recourse_without_fairness"] = float(relaxed)
        p = self.held_out.probability
        row["commit_units_cut"] = float(
            sum(float(p[sid]) * units for sid, units in (cuts or {}).items())
        )
        self.rows[name] = row
        self.cut_scenarios[name] = [sid for sid, units in (cuts or {}).items() if units]
        budget.scored(budget.clock() - scoring, n)
        short = [sid for sid, p_ in plans.items() if p_.status in STOPPED]
        if short:
            self.cut_short[name] = short
        if any(p_.status is SolveStatus.TIME_LIMIT for p_ in plans.values()):
            self.timed_out.add(name)


def _unplanned(lives: float | None, status: Any) -> bool:
    """No plan, and not because the constraints cannot hold (an infeasible commit plan is
    scored as the commit of nothing, as it always was)."""
    return lives is None and status is not SolveStatus.INFEASIBLE


__all__ = [
    "DEFAULT_BUFFER",
    "METRICS",
    "TABLE_COLUMNS",
    "Comparison",
    "commit_of",
    "compare",
    "forecast_tables",
    "recourse",
    "with_demand",
]
