"""The policies a backtest compares, registered by name (docs/backtest.md, "Policies").

A policy makes the plan of one re-planning date from what a team knew then (a `WeekContext`:
the observed census of the days before, the forecasts released by then, the moves already
dispatched) and answers a `WeekPlan`; the backtest dispatches the rows of its commit window
and re-plans at the next date. A policy that is not `rolling` (perfect hindsight) is asked
once, for the whole window, and knows the whole observed series.

Adding a policy is one `register(BacktestPolicy(...))`: the CLI, the Python API and the report
know it from there. A policy whose engine this installation lacks (the two-stage planner of
issue 13, until it lands) stays registered with an `unavailable` reason: asking for it fails
with that reason (exit 2), and the default policy list leaves it out and says so.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios.backtest import Backtest
from optimiser.scenarios.forecasts import Forecast

MANIFEST_COLUMNS = ["kind", "day", "from", "to", "units", "arrives"]
MOVES = ("ship", "transfer")


@dataclass(frozen=True)
class BacktestOptions:
    """What every policy may read: the forecast source planned on, the demand buffer, the
    planner's limits (time_limit: seconds per plan), the commit window, and for the two-stage
    policies the scenarios drawn around the forecast each week (log-normal, lead time from
    the re-planning day: sigma0 0.3, growth 0.03 a day, peak shifts of sd 7 days, rank
    correlation 0.5: about +-60% two weeks ahead at 95%, a guess a team could have made in
    April 2020, deliberately not the errors measured afterwards) and the risk measure."""

    source: str
    buffer: float = 0.1
    anchor: str = "none"  # ANCHORS
    time_limit: float | None = None
    mip_gap: float | None = None
    commit_days: int = 7
    # the stochastic policies' scenarios (week_scenarios): a team's guess, not fitted to 2020
    scenarios: int = 10
    seed: int = 1
    sigma0: float = 0.3
    sigma_growth: float = 0.03
    correlation: float = 0.5
    peak_shift_sd: float = 7.0
    risk: str = "cvar:alpha=0.1,lambda=0.5"
    two_stage_gap: float | None = 0.01  # relative MIP gap of the two-stage solves
    two_stage_time_limit: float | None = None  # seconds per two-stage solve


@dataclass(frozen=True)
class WeekContext:
    """What a team knew on a re-planning date.

    today: the day index of the date (nothing new is dispatched before it); known: the
    observed census of days 0..today-1 (the census of a day is published the next day);
    forecast: the latest release of the chosen source published on or before `date` (None
    for hindsight); executed: the moves already dispatched, in manifest form."""

    backtest: Backtest
    today: int
    date: dt.date
    forecast: Forecast | None
    executed: pd.DataFrame
    options: BacktestOptions
    time_limit: float | None = None  # this plan's share of the backtest's budget (budget.py)

    def limit(self, configured: float | None) -> float | None:
        """Seconds this plan may take: its share of the budget, capped by the option."""
        given = [t for t in (self.time_limit, configured) if t is not None]
        return min(given) if given else None

    @property
    def instance(self) -> MultiPeriodInstance:
        return self.backtest.instance

    def observed(self) -> np.ndarray:
        """The observed series, regions x days (the whole window: hindsight only)."""
        return self.backtest.observed.reindex(self.instance.regions).to_numpy(dtype=float)

    def forecast_demand(self, factor: float = 1.0) -> np.ndarray:
        """Demand as known on the date: observed before today; from today on the forecast's
        mean, anchored to the last observed day if the options say so (`anchored`), times
        `factor`."""
        assert self.forecast is not None
        values = self.forecast.mean.reindex(self.instance.regions).to_numpy(dtype=float).copy()
        observed = self.observed()
        t = self.today
        if self.options.anchor == "level" and t > 0:
            values[:, t:] = anchored(values[:, t:], values[:, t - 1], observed[:, t - 1])
        values[:, t:] *= factor
        values[:, :t] = observed[:, :t]
        return values

    def instance_with(self, demand: np.ndarray) -> MultiPeriodInstance:
        """The instance with `demand` (regions x days) in place of demand.csv's."""
        inst = self.instance
        table = pd.DataFrame(demand, index=inst.demand.index, columns=inst.demand.columns)
        return replace(inst, demand=table)


ANCHORS = ("none", "level")


def anchored(
    future: np.ndarray, forecast_last: np.ndarray, observed_last: np.ndarray
) -> np.ndarray:
    """The forecast from today on, moved to the level observed the day before ("level"):
    scaled by observed / forecast on that day where the forecast had at least one patient
    (its shape kept), shifted by their difference where it had less (a forecast of zero has
    no shape to scale); never below 0."""
    out = future.copy()
    scale = forecast_last >= 1.0
    out[scale] = future[scale] * (observed_last[scale] / forecast_last[scale])[:, None]
    out[~scale] = future[~scale] + (observed_last[~scale] - forecast_last[~scale])[:, None]
    return np.maximum(out, 0.0)


@dataclass(frozen=True)
class WeekPlan:
    """A policy's plan on one date: manifest rows (MANIFEST_COLUMNS; rows before today are
    ignored), optionally every row of the plan (admissions too: replayed as they are by a
    policy with replay 'as_is'), the lives the plan expects on its own demand, its status."""

    manifest: pd.DataFrame
    plan: pd.DataFrame | None = None
    claimed_lives: float | None = None
    status: str = "optimal"
    setup_seconds: float = 0.0  # building the model (cannot be interrupted: budget.py)
    scenarios: Any = None  # the ScenarioSet a two-stage plan hedged against (the fan chart)


class NoPlanInTime(Exception):
    """A plan cut short by its time limit before it found any plan: its policy is left out
    as not completed (budget.py)."""


def _setup(timings: dict[str, float]) -> float:
    return float(sum(timings.get(k, 0.0) for k in ("build", "translate", "fallback")))


@dataclass(frozen=True)
class BacktestPolicy:
    name: str
    doc: str
    make: Callable[[WeekContext], WeekPlan]
    rolling: bool = True
    replay: str = "manifest"  # how the simulator replays it: optimiser.scenarios.evaluate
    needs_forecast: bool = True
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    # what one plan costs against a deterministic plan (the budget's split rule, budget.py)
    weight: Callable[[BacktestOptions], float] = field(default=lambda options: 1.0)


POLICIES: dict[str, BacktestPolicy] = {}


def register(policy: BacktestPolicy) -> BacktestPolicy:
    if policy.name in POLICIES:
        raise ValueError(f"backtest policy {policy.name!r} registered twice")
    if policy.replay not in ("manifest", "as_is"):
        raise ValueError(f"backtest policy {policy.name!r}: unknown replay {policy.replay!r}")
    POLICIES[policy.name] = policy
    return policy


def empty_manifest() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype=object if c in ("kind", "from", "to") else "int64")
            for c in MANIFEST_COLUMNS
        }
    )


def manifest_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The ship and transfer rows of a PlanResult manifest, MANIFEST_COLUMNS only."""
    if frame is None or not len(frame):
        return empty_manifest()
    rows = frame[frame["kind"].isin(MOVES)]
    out = rows[MANIFEST_COLUMNS].copy()
    out["day"] = out["day"].astype("int64")
    out["arrives"] = out["arrives"].astype("int64")
    out["units"] = np.rint(pd.to_numeric(out["units"]).to_numpy(dtype=float)).astype("int64")
    return out.reset_index(drop=True)


def _planned(ctx: WeekContext, demand: np.ndarray) -> WeekPlan:
    """The deterministic planner on `demand`, the executed moves fixed, from today on."""
    from optimiser.multiperiod.planner import plan

    result = plan(
        ctx.instance_with(demand),
        executed=ctx.executed if len(ctx.executed) else None,
        today=ctx.today,
        time_limit=ctx.limit(ctx.options.time_limit),
        mip_gap=ctx.options.mip_gap,
        price_of_fairness=False,
    )
    status = str(getattr(result.status, "value", result.status))
    if result.lives_saved is None and status == "time_limit":
        raise NoPlanInTime(f"no plan found in its {ctx.limit(ctx.options.time_limit) or 0:.2f} s")
    if result.lives_saved is None:
        from optimiser.errors import TriageError

        raise TriageError(
            f"the planner found no plan on {ctx.date} (day {ctx.today}): {status}"
            + (f" ({result.explanation})" if result.explanation else "")
        )
    return WeekPlan(
        manifest=manifest_of(result.manifest),
        plan=result.plan,
        claimed_lives=result.lives_saved,
        status=status,
        setup_seconds=_setup(result.timings),
    )


def _no_deliveries(ctx: WeekContext) -> WeekPlan:
    return WeekPlan(manifest=empty_manifest(), claimed_lives=None, status="rule")


def _mean_forecast(ctx: WeekContext) -> WeekPlan:
    return _planned(ctx, ctx.forecast_demand())


def _buffered(ctx: WeekContext) -> WeekPlan:
    return _planned(ctx, ctx.forecast_demand(1.0 + ctx.options.buffer))


def _hindsight(ctx: WeekContext) -> WeekPlan:
    return _planned(ctx, ctx.observed())


register(
    BacktestPolicy(
        "none",
        "no deliveries: every region keeps its own units; nothing leaves the depots",
        _no_deliveries,
        needs_forecast=False,
        weight=lambda options: 0.0,
    )
)
register(
    BacktestPolicy(
        "mean",
        "plan on the mean of the latest forecast (observed census before the re-plan date)",
        _mean_forecast,
    )
)
register(
    BacktestPolicy(
        "buffer",
        "plan on the latest forecast's mean times (1 + buffer), COVIDAnalytics' demand buffer",
        _buffered,
    )
)
register(
    BacktestPolicy(
        "hindsight",
        "perfect hindsight: one plan on the observed series over the whole window (the bound)",
        _hindsight,
        rolling=False,
        replay="as_is",
        needs_forecast=False,
    )
)

# ---------------------------------------------------------------------------------------------
# The two-stage planner (track `stoch` of issue 13: optimiser.stochastic.plan_under_uncertainty).
# Looked up by name, so that this module runs without it: where it is missing, the policies
# say so and refuse to run.

STOCHASTIC_ENTRY = ("optimiser.stochastic", "plan_under_uncertainty")


def _stochastic_entry() -> Callable[..., Any] | None:
    module, name = STOCHASTIC_ENTRY
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise
    entry = getattr(found, name, None)
    return entry if callable(entry) else None


def _stochastic_unavailable() -> str | None:
    if _stochastic_entry() is None:
        return (
            f"the two-stage planner ({'.'.join(STOCHASTIC_ENTRY)}) is not in this "
            "installation (issue 13, track stoch): this policy cannot run"
        )
    return None


def week_scenarios(ctx: WeekContext) -> Any:
    """Demand scenarios as known on the date: the observed census before today in every
    scenario; from today on, log-normal errors around the latest forecast's mean
    (optimiser.scenarios.generators.lognormal_scenarios) whose lead time counts from today,
    with the parameters of ctx.options (not fitted to what happened). Seeded by the options'
    seed and the day: the same backtest gives the same scenarios."""
    from optimiser.scenarios.generators import LognormalSpec, lognormal_scenarios
    from optimiser.scenarios.model import make_scenario_set

    o, t, inst = ctx.options, ctx.today, ctx.instance
    forecast = ctx.forecast_demand()
    ahead = np.concatenate([forecast[:, t:], np.repeat(forecast[:, -1:], t, axis=1)], axis=1)
    spec = LognormalSpec(
        scenarios=o.scenarios,
        seed=o.seed + t,
        sigma0=o.sigma0,
        sigma_growth=o.sigma_growth,
        correlation=o.correlation,
        peak_shift_sd=o.peak_shift_sd,
    )
    base = pd.DataFrame(ahead, index=inst.demand.index, columns=inst.demand.columns)
    drawn = lognormal_scenarios(inst, spec, base, base_name="forecast").array(inst.regions)
    values = np.empty_like(drawn)
    values[:, :, t:] = drawn[:, :, : inst.days - t]
    values[:, :, :t] = ctx.observed()[None, :, :t]
    return make_scenario_set(
        inst,
        values,
        sampled=True,
        info={
            "generator": "backtest week",
            "today": t,
            "forecast": ctx.forecast.name if ctx.forecast is not None else "",
            "lognormal": {k: getattr(spec, k) for k in spec.__dataclass_fields__},
        },
    )


def _two_stage(risk: str | None) -> Callable[[WeekContext], WeekPlan]:
    def make(ctx: WeekContext) -> WeekPlan:
        entry = _stochastic_entry()
        if entry is None:
            reason = _stochastic_unavailable() or "unavailable"
            raise InputError(Problem(reason, column="policy", column_word="option"))
        scenarios = week_scenarios(ctx)
        result = entry(
            ctx.instance_with(ctx.forecast_demand()),
            scenarios,
            commit_days=min(ctx.options.commit_days, ctx.instance.days - ctx.today),
            risk=ctx.options.risk if risk else None,
            executed=ctx.executed if len(ctx.executed) else None,
            today=ctx.today,
            time_limit=ctx.limit(ctx.options.two_stage_time_limit),
            mip_gap=ctx.options.two_stage_gap,
            price_of_fairness=False,
        )
        status = str(getattr(result.status, "value", result.status))
        if result.expected_lives is None and status == "time_limit":
            limit = ctx.limit(ctx.options.two_stage_time_limit)
            raise NoPlanInTime(f"no two-stage plan found in its {limit or 0:.2f} s")
        if result.expected_lives is None:
            from optimiser.errors import TriageError

            raise TriageError(
                f"the two-stage planner found no plan on {ctx.date} (day {ctx.today}): {status}"
                + (f" ({result.explanation})" if result.explanation else "")
            )
        return WeekPlan(
            manifest=manifest_of(result.committed),
            claimed_lives=result.expected_lives,
            status=status,
            setup_seconds=_setup(result.timings),
            scenarios=scenarios,
        )

    return make


def _scenario_weight(options: BacktestOptions) -> float:
    """A two-stage plan's extensive form holds one copy of the plan per scenario."""
    return float(max(1, options.scenarios))


register(
    BacktestPolicy(
        "stochastic",
        "two-stage stochastic plan over scenarios around the latest forecast (expected lives)",
        _two_stage(None),
        unavailable=_stochastic_unavailable,
        weight=_scenario_weight,
    )
)
register(
    BacktestPolicy(
        "risk-averse",
        "two-stage plan, expected lives minus lambda x CVaR_alpha of deaths",
        _two_stage("cvar"),
        unavailable=_stochastic_unavailable,
        weight=_scenario_weight,
    )
)

#: the policies that draw scenarios and solve a two-stage plan every week
TWO_STAGE = ("stochastic", "risk-averse")

# the stochastic policies solve a two-stage extensive form every week (minutes on the shipped
# instances, docs/backtest.md): asked for by name, not run by default
DEFAULT_POLICIES = ("none", "mean", "buffer", "hindsight")


def check_policies(names: list[str] | tuple[str, ...] | None) -> tuple[list[str], dict[str, str]]:
    """The policies to run and the unavailable ones left out: explicit names must all be known
    and available (InputError naming them); the default list skips unavailable ones."""
    problems = []
    if names:
        chosen = []
        for name in names:
            if not isinstance(name, str) or name not in POLICIES:  # a JSON body: any value
                problems.append(
                    Problem(
                        f"unknown policy {name!r} (policies: {', '.join(POLICIES)})",
                        column="policy",
                        column_word="option",
                    )
                )
                continue
            reason = POLICIES[name].unavailable()
            if reason is not None:
                problems.append(Problem(f"{name}: {reason}", column="policy", column_word="option"))
            if name not in chosen:
                chosen.append(name)
        if problems:
            raise InputError(problems)
        return chosen, {}
    left_out: dict[str, str] = {}
    chosen = []
    for name in DEFAULT_POLICIES:
        reason = POLICIES[name].unavailable()
        if reason is None:
            chosen.append(name)
        else:
            left_out[name] = reason
    return chosen, left_out


def check_anchor(anchor: str) -> None:
    if anchor not in ANCHORS:
        raise InputError(
            Problem(
                f"unknown anchor {anchor!r} (anchors: {', '.join(ANCHORS)})",
                column="anchor",
                column_word="option",
            )
        )


def check_buffer(buffer: float) -> None:
    if (
        isinstance(buffer, bool)
        or not isinstance(buffer, int | float)
        or not math.isfinite(buffer)
        or not 0.0 <= buffer <= 10.0
    ):
        raise InputError(
            Problem(
                f"must be a share of demand in [0, 10] (0.1: 10% more), got {buffer!r}",
                column="buffer",
                column_word="option",
            )
        )


def check_two_stage(
    options: BacktestOptions, instance: MultiPeriodInstance | None = None
) -> list[Problem]:
    """The problems of the two-stage policies' options (scenarios, seed, the log-normal
    parameters, risk, two_stage_gap, two_stage_time_limit), whichever policies run: a value
    only the two-stage policies read is refused up front, not ignored when none of them runs
    (and not found wrong weeks into a run when one does). With the `instance` (a two-stage
    policy runs), the scenarios are also sized for it: drawing them must fit in memory."""
    from optimiser.engine_protocol import check_time_limit
    from optimiser.scenarios.generators import LognormalSpec, check_size
    from optimiser.stochastic.risk import parse_risk

    o = options
    problems: list[Problem] = []

    def collect(check: Callable[[], object], name: str | None = None) -> None:
        try:
            check()
        except InputError as exc:  # each problem named by the backtest's option
            problems.extend(
                replace(p, column=name, column_word="option") if name else p for p in exc.problems
            )

    spec = LognormalSpec(
        o.scenarios, o.seed, o.sigma0, o.sigma_growth, o.correlation, o.peak_shift_sd
    )
    collect(spec.check)
    if instance is not None and not any(p.column == "scenarios" for p in problems):
        collect(lambda: check_size(instance, o.scenarios))
    collect(lambda: parse_risk(o.risk))
    collect(lambda: _check_gap(o.two_stage_gap), "two_stage_gap")
    collect(lambda: check_time_limit(o.two_stage_time_limit), "two_stage_time_limit")
    return problems


def _check_gap(gap: Any) -> None:
    if gap is not None and (
        isinstance(gap, bool) or not isinstance(gap, int | float) or not 0 <= gap < 1
    ):
        raise InputError(Problem(f"must be in [0, 1), got {gap!r}"))


__all__ = [
    "ANCHORS",
    "DEFAULT_POLICIES",
    "MANIFEST_COLUMNS",
    "POLICIES",
    "TWO_STAGE",
    "BacktestOptions",
    "BacktestPolicy",
    "NoPlanInTime",
    "WeekContext",
    "WeekPlan",
    "anchored",
    "check_anchor",
    "check_buffer",
    "check_policies",
    "check_two_stage",
    "empty_manifest",
    "manifest_of",
    "register",
]
