"""`backtest`: plan as a team could have, week by week, and replay what was executed against
what happened (docs/backtest.md).

Stages, each callable alone: load_backtest (load + validate) -> check_request (options) ->
rolling (one policy's plans, re-planned every commit window, the dispatched moves fixed
through the planner's executed moves) -> score (the executed moves replayed against the
observed census by check-plan's simulator, through optimiser.scenarios.evaluate) ->
BacktestResult.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimiser.backtest.budget import BacktestBudget
from optimiser.backtest.moves import carried_out
from optimiser.backtest.policies import (
    MANIFEST_COLUMNS,
    POLICIES,
    TWO_STAGE,
    BacktestOptions,
    NoPlanInTime,
    WeekContext,
    check_anchor,
    check_buffer,
    check_policies,
    check_two_stage,
    empty_manifest,
)
from optimiser.backtest.results import (
    TABLE_COLUMNS,
    WEEK_COLUMNS,
    BacktestResult,
    manifest_frame,
    typed_table,
    typed_weeks,
)
from optimiser.deadline import Deadline
from optimiser.engine_protocol import check_time_limit, request_deadline
from optimiser.errors import InputError, Problem, counted, listed
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios.backtest import Backtest, load_backtest
from optimiser.scenarios.forecasts import Forecast, Release

if TYPE_CHECKING:
    from optimiser.stochastic.fan import FanData

DEFAULT_COMMIT_DAYS = 7
DEFAULT_BUFFER = 0.1


@dataclass(frozen=True)
class Request:
    """A checked backtest request: the first planning day and the forecast source."""

    as_of: dt.date
    first_day: int
    commit_days: int
    source: str
    policies: list[str]
    unavailable: dict[str, str]


def _option(message: str, option: str) -> Problem:
    return Problem(message, column=option, column_word="option")


def check_request(
    backtest: Backtest,
    as_of: dt.date | None,
    commit_days: int,
    source: str | None,
    policies: Sequence[str] | None,
    buffer: float,
) -> Request:
    """Every option checked against the instance (InputError listing every problem): the date
    on or after the first release of the chosen source and not after the window; a commit
    window of whole days inside the planning window; a known source; known, available
    policies."""
    first, last = backtest.window
    date = as_of or first
    problems: list[Problem] = []
    try:
        backtest.check_date(date)
    except InputError as exc:
        problems.extend(exc.problems)
    sources = sorted({r.source for r in backtest.releases})
    chosen = source or ("ihme" if "ihme" in sources else sources[0])
    if chosen not in sources:
        problems.append(
            _option(
                f"no forecast source {chosen!r} in forecasts/releases.csv (sources: "
                f"{', '.join(sources)})",
                "forecast",
            )
        )
    else:
        mine = [r for r in backtest.releases if r.source == chosen]
        if date < mine[0].release and not problems:
            problems.append(
                _option(
                    f"the backtest date {date} is before the first release of {chosen} "
                    f"({mine[0].name}): no {chosen} forecast was published by then",
                    "as-of",
                )
            )
    first_day = max(0, (date - first).days)
    left = backtest.instance.days - first_day
    if isinstance(commit_days, bool) or not isinstance(commit_days, int) or commit_days < 1:
        problems.append(
            _option(f"must be a whole number of days >= 1, got {commit_days!r}", "commit-days")
        )
    elif left > 0 and commit_days > left:
        problems.append(
            _option(
                f"the commit window of {commit_days} days is longer than the {left} days left "
                f"from {date} to the end of the window {last}",
                "commit-days",
            )
        )
    try:
        check_buffer(buffer)
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        names, unavailable = check_policies(list(policies) if policies else None)
    except InputError as exc:
        problems.extend(exc.problems)
        names, unavailable = [], {}
    if problems:
        raise InputError(problems)
    return Request(date, first_day, commit_days, chosen, names, unavailable)


class _Forecasts:
    """The latest release of one source by a date, each file read once."""

    def __init__(self, backtest: Backtest, source: str) -> None:
        self.backtest = backtest
        self.releases = [r for r in backtest.releases if r.source == source]
        self.read: dict[str, Forecast] = {}

    def as_of(self, date: dt.date) -> Forecast:
        known: list[Release] = [r for r in self.releases if r.release <= date]
        release = known[-1]  # check_request made sure there is one by the first date
        if release.name not in self.read:
            self.read[release.name] = self.backtest.forecast(release)
        return self.read[release.name]


@dataclass
class Rolled:
    """One policy over the window: its executed moves (manifest form), the full plan of a
    policy replayed as it is (else None), one record per re-planning date planned, the units
    of committed transfers cut because the donor's patients held them (moves.carried_out),
    and why it stopped before the end of the window (None: it completed)."""

    moves: pd.DataFrame
    full_plan: pd.DataFrame | None
    weeks: list[dict[str, Any]]
    cut: int
    stopped: str | None = None
    scenarios: Any = None  # the first plan's scenario set (two-stage policies), for the fan


def rolling(
    backtest: Backtest,
    policy: str,
    request: Request,
    options: BacktestOptions,
    forecasts: _Forecasts,
    on_week: Any = None,
    budget: BacktestBudget | None = None,
) -> Rolled:
    """One policy over the window, re-planned every commit window; each plan within its share
    of `budget` (budget.py; None: no limit). Stops, with the reason, when the budget cannot
    pay for the next plan or a plan found nothing in its share."""
    spec = POLICIES[policy]
    T = backtest.instance.days
    start = backtest.window[0]
    executed = empty_manifest()
    weeks: list[dict[str, Any]] = []
    full_plan = None
    first_scenarios = None
    cut = 0
    days = range(request.first_day, T, request.commit_days) if spec.rolling else [request.first_day]
    weight = spec.weight(options)
    for k, today in enumerate(days):
        date = start + dt.timedelta(days=today)
        if budget is not None and not budget.can_start(policy, weight):
            budget.skipped(weight * (len(days) - k), spec.replay)
            return Rolled(executed, None, weeks, cut, _stopped(budget, len(weeks), len(days), date))
        forecast = forecasts.as_of(max(date, request.as_of)) if spec.needs_forecast else None
        if len(executed):  # what the donors could spare, now that their census is known
            known = WeekContext(backtest, today, date, forecast, executed, options)
            demand = known.forecast_demand() if forecast is not None else known.observed()
            executed, lost = carried_out(known.instance_with(demand), executed)
            cut += lost
        share = None if budget is None or weight <= 0 else budget.limit(policy, weight)
        ctx = WeekContext(backtest, today, date, forecast, executed, options, share)
        began = time.perf_counter()
        try:
            week = spec.make(ctx)
        except NoPlanInTime as exc:
            if budget is not None:
                budget.skipped(weight * (len(days) - k), spec.replay)
            made = f"{len(weeks)} of {counted(len(days), 'plan')} made"
            why = f"{exc} on {date} (day {today}); {made}"
            return Rolled(executed, None, weeks, cut, why)
        seconds = time.perf_counter() - began
        if budget is not None:
            budget.planned(policy, weight, week.setup_seconds, seconds, share)
        end = today + request.commit_days if spec.rolling else T
        m = week.manifest
        window = m[(m["day"] >= today) & (m["day"] < end)]
        executed = pd.concat([executed, window[MANIFEST_COLUMNS]], ignore_index=True)
        if not spec.rolling:
            full_plan = week.plan
        if first_scenarios is None:
            first_scenarios = week.scenarios
        weeks.append(
            {
                "policy": policy,
                "day": today,
                "date": date.isoformat(),
                "forecast": forecast.name
                if forecast is not None
                else ("observed" if spec.name == "hindsight" else ""),
                "status": week.status,
                "claimed_lives": math.nan if week.claimed_lives is None else week.claimed_lives,
                "dispatched_units": int(window["units"].sum()),
                "moves": len(window),
                "time_limit": math.nan if share is None else share,
                "seconds": seconds,
            }
        )
        if on_week is not None:
            on_week()
    executed, lost = carried_out(_reality(backtest), executed)
    executed = executed.sort_values(["day", "kind", "from", "to"], kind="stable")
    return Rolled(
        executed.reset_index(drop=True), full_plan, weeks, cut + lost, scenarios=first_scenarios
    )


def _stopped(budget: BacktestBudget, made: int, planned: int, date: dt.date) -> str:
    left = max(0.0, budget.for_plans())
    return (
        f"time limit: {made} of {counted(planned, 'plan')} made; {left:.2f} s were left for the "
        f"plans from {date} on, too little for the next (budget {budget.given:g} s)"
    )


def _reality(backtest: Backtest) -> MultiPeriodInstance:
    observed = backtest.observed_scenarios()
    return observed.instance_for(backtest.instance, observed.ids[0])


def score(
    backtest: Backtest, moves: pd.DataFrame, replay: str
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The moves (or a full plan, replay 'as_is') against the observed census: the
    evaluation's figures (optimiser.scenarios.evaluate on observed_scenarios()), and the
    simulator's units on hand and unmet need per region and day."""
    from optimiser.multiperiod.plan_io import plan_rows
    from optimiser.multiperiod.simulate import simulate
    from optimiser.scenarios.evaluate import evaluate, replay_rows

    observed = backtest.observed_scenarios()
    instance = backtest.instance
    evaluation = evaluate(instance, moves, observed, policy=replay, workers=1)
    row = {str(k): v for k, v in evaluation.per_scenario.iloc[0].to_dict().items()}
    reality = observed.instance_for(instance, observed.ids[0])
    rows = replay_rows(plan_rows(moves, reality, name=f"{replay} plan"), replay)
    sim = simulate(reality, rows)
    return row, sim.on_hand, sim.shortfall


def policy_fan(backtest: Backtest, moves: pd.DataFrame, scenarios: Any) -> FanData:
    """The fan of a two-stage policy: the demand scenarios its first plan hedged against
    (the week's scenario set, from the first planning day on), each replayed through
    check-plan's simulator with the moves the policy executed over the whole window
    (optimiser.stochastic.fan.plan_fan, replay "manifest"): the need for units in those
    scenarios against the units the policy had on hand."""
    from optimiser.stochastic.fan import plan_fan

    return plan_fan(backtest.instance, scenarios, moves, policy="manifest")


def backtest(
    source: str | Path | Backtest,
    *,
    as_of: dt.date | str | None = None,
    policies: Sequence[str] | None = None,
    commit_days: int = DEFAULT_COMMIT_DAYS,
    buffer: float = DEFAULT_BUFFER,
    forecast: str | None = None,
    anchor: str = "none",
    time_limit: float | None = None,
    plan_time_limit: float | None = None,
    mip_gap: float | None = None,
    stochastic: Mapping[str, Any] | None = None,
    progress: bool = False,
    deadline: Deadline | None = None,
) -> BacktestResult:
    """Plan on `as_of` (default: the window's first day) with the forecasts released by then,
    dispatch the first `commit_days` of the plan, re-plan every `commit_days` with the
    observed census of the days before and the latest release of `forecast` (a source of
    forecasts/releases.csv; default ihme; `anchor` "level": moved to the census observed the
    day before, policies.anchored), and replay every policy's executed moves against the
    observed census. `time_limit`: seconds for the whole backtest, loading, every plan and
    the replays (default none: every plan solved to optimality); each plan gets its share of
    what is left (optimiser.backtest.budget); when the budget runs out the result says so
    (status time_limit; the policies not completed in `incomplete`, the plans made in
    `weeks`) and scores only the policies completed. `deadline`: a budget the caller started
    before (the CLI, from the process's start). `plan_time_limit`: also a cap on each plan.
    `stochastic`: the two-stage policies' options (BacktestOptions:
    scenarios, seed, sigma0, sigma_growth, correlation, peak_shift_sd, risk, two_stage_gap,
    two_stage_time_limit). InputError
    (exit 2 in the CLI) for a bad folder or option."""
    began = time.perf_counter()
    check_time_limit(time_limit)
    check_time_limit(plan_time_limit)
    clock = request_deadline(time_limit, deadline, began)
    bt = source if isinstance(source, Backtest) else load_backtest(source)
    if isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of.strip())
        except ValueError:
            wrong = f"must be a date YYYY-MM-DD, got {as_of!r}"
            raise InputError(_option(wrong, "as-of")) from None
    known = set(BacktestOptions.__dataclass_fields__) - {
        "source",
        "buffer",
        "time_limit",
        "mip_gap",
        "commit_days",
    }
    unknown = sorted(set(stochastic or {}) - known)
    if unknown:
        raise InputError(
            _option(
                f"unknown {listed('option', unknown, ' ')} (known: {', '.join(sorted(known))})",
                "stochastic",
            )
        )
    # every option checked, each problem listed, before any plan: the two-stage policies'
    # too when none of them runs (a wrong value is not silently ignored)
    two_stage = any(p in TWO_STAGE for p in policies or () if isinstance(p, str))
    given = BacktestOptions("", **dict(stochastic or {}))
    problems = check_two_stage(given, bt.instance if two_stage else None)
    try:
        request = check_request(bt, as_of, commit_days, forecast, policies, buffer)
    except InputError as exc:
        problems = [*exc.problems, *problems]
    if problems:
        raise InputError(problems)
    check_anchor(anchor)
    options = BacktestOptions(
        request.source,
        float(buffer),
        anchor,
        plan_time_limit,
        mip_gap,
        request.commit_days,
        **dict(stochastic or {}),
    )
    forecasts = _Forecasts(bt, request.source)
    T = bt.instance.days
    replans = len(range(request.first_day, T, request.commit_days))
    plans = {p: replans if POLICIES[p].rolling else 1 for p in request.policies}
    total = sum(plans.values())
    budget = BacktestBudget(
        clock,
        time_limit if time_limit is not None else clock.limit,
        weight_left=sum(n * POLICIES[p].weight(options) for p, n in plans.items()),
        to_score=[POLICIES[p].replay for p in request.policies],
    )
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        unit="plan",
        desc=f"backtest {bt.instance.name}",
        disable=None if progress else True,
        dynamic_ncols=True,
    )
    records: dict[str, dict[str, Any]] = {}
    executed: dict[str, pd.DataFrame] = {}
    on_hand: dict[str, pd.DataFrame] = {}
    shortfall: dict[str, pd.DataFrame] = {}
    weeks: list[dict[str, Any]] = []
    incomplete: dict[str, str] = {}
    fans: dict[str, FanData] = {}
    regions = list(bt.instance.regions)
    index = pd.Index(regions, name="region")
    columns = pd.RangeIndex(T, name="day")
    try:
        for name in request.policies:
            spec = POLICIES[name]
            bar.set_postfix_str(name, refresh=True)  # which policy the plans are of
            rolled = rolling(
                bt,
                name,
                request,
                options,
                forecasts,
                bar.update,
                budget if budget.limited else None,
            )
            weeks += rolled.weeks
            if rolled.stopped is not None:
                incomplete[name] = rolled.stopped
                bar.update(plans[name] - len(rolled.weeks))
                continue
            moves, full, done, cut = rolled.moves, rolled.full_plan, rolled.weeks, rolled.cut
            replayed = full if spec.replay == "as_is" and full is not None else moves
            scoring = time.perf_counter()
            row, hand, short = score(bt, replayed, spec.replay)
            if rolled.scenarios is not None:
                fans[name] = policy_fan(bt, moves, rolled.scenarios)
            budget.scored(spec.replay, time.perf_counter() - scoring)
            executed[name] = manifest_frame(moves.to_dict("records"))
            on_hand[name] = pd.DataFrame(hand, index=index, columns=columns)
            shortfall[name] = pd.DataFrame(short, index=index, columns=columns)
            records[name] = {
                "replay": spec.replay,
                **{
                    k: row[k]
                    for k in (
                        "survivors",
                        "deaths",
                        "not_admitted",
                        "shortfall",
                        "supply_shortfall",
                    )
                },
                "units_shipped": int(moves.loc[moves["kind"] == "ship", "units"].sum()),
                "units_transferred": int(moves.loc[moves["kind"] == "transfer", "units"].sum()),
                "replans": len(done),
                "transfer_units_cut": cut,
                "violations": int(row["violations"]),
            }
    finally:
        bar.close()
    table = pd.DataFrame.from_dict(records, orient="index")
    if not records:  # the budget ran out before any policy completed
        table = pd.DataFrame(columns=[c for c in TABLE_COLUMNS if c != "lives_below_hindsight"])
    bound = records["hindsight"]["survivors"] if "hindsight" in records else math.nan
    below = bound - table["survivors"].astype(float)
    # hindsight is optimal to 0.005 lives (multiperiod.engine.ABS_GAP): a policy replayed within
    # that of it is level with it, never "-0.0" below (two replays' sums differ in their last
    # bits: -6.4e-08)
    table["lives_below_hindsight"] = below.where(below.abs() >= 0.005, 0.0)
    table.index.name = "policy"
    table = table[TABLE_COLUMNS]
    start = bt.window[0]
    week_table = typed_weeks(pd.DataFrame(weeks, columns=WEEK_COLUMNS))
    cut_short = incomplete or (week_table["status"] == "time_limit").any()
    # without the budget reaching a plan, plans stopped at their own round or node limits
    own_limits = (week_table["status"] == "iteration_limit").any()
    return BacktestResult(
        instance=bt.instance.name,
        resource=bt.instance.base.resource,
        demand_kind=bt.instance.demand_kind,
        start_date=start.isoformat(),
        days=T,
        as_of=request.as_of.isoformat(),
        commit_days=request.commit_days,
        buffer=float(buffer),
        source=request.source,
        regions=regions,
        table=typed_table(table),
        weeks=week_table,
        executed=executed,
        on_hand=on_hand,
        shortfall=shortfall,
        observed=pd.DataFrame(
            bt.observed.reindex(regions).to_numpy(dtype=float), index=index, columns=columns
        ),
        unavailable=request.unavailable,
        status="time_limit" if cut_short else ("iteration_limit" if own_limits else "optimal"),
        fans=fans,
        incomplete=incomplete,
        info={
            "anchor": anchor,
            "known_on_a_date": "the observed census of the days before it and the latest "
            f"release of {request.source} published on or before it",
            "releases": [r.name for r in forecasts.releases],
            "scored_by": "optimiser.scenarios.evaluate on Backtest.observed_scenarios() "
            "(check-plan's simulator)",
            "time_limit": time_limit if time_limit is not None else clock.limit,
            "seconds": round(clock.elapsed(), 3),
        },
    )


__all__ = [
    "DEFAULT_BUFFER",
    "DEFAULT_COMMIT_DAYS",
    "Request",
    "Rolled",
    "backtest",
    "check_request",
    "policy_fan",
    "rolling",
    "score",
]
