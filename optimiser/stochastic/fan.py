"""Fan data of a plan over a scenario set: the scenarios' need for units (quantile bands over
days) against the units the plan has on hand, per region and national total. No drawing here
(optimiser.charts.fan draws it; optimiser.reporting.stochastic puts it in a report).

Both series come from check-plan's independent simulator (optimiser.multiperiod.simulate),
run once per scenario on the instance with that scenario's demand:

* need: patients needing a unit on each day (treated or not: the simulator's `need`), the
  demand in the same unit as the units on hand;
* on hand: units in the region at the end of the day (the simulator's `on_hand`). For a plan
  evaluated over a scenario set (`plan_fan`), the evaluation's replay ("manifest" or
  "as_is"); for a two-stage plan (`fan_data`), one of two replays:
  - "recourse" (default): each scenario's recourse plan, the deterministic re-plan from the
    end of the commit window with the commit fixed (optimiser.stochastic.compare.recourse,
    the rule `--compare` scores with), replayed as it is: what a team would have on hand;
  - "committed": only the moves decided now (executed + committed), dispatched as written in
    every scenario: nothing arrives after the commit window's shipments.

Quantiles are probability-weighted (the scenario set's probabilities): the q-quantile is the
smallest value whose cumulative probability reaches q (the inverse of the distribution
function, no interpolation: every band edge is a value some scenario takes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimiser.deadline import Deadline
from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import plan_rows
from optimiser.multiperiod.simulate import PlanReplay
from optimiser.scenarios.evaluate import POLICIES, PlanLike, plan_and_instance, replay_rows
from optimiser.scenarios.model import ScenarioSet, check_compatible
from optimiser.stochastic.results import StochasticResult

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
NATIONAL = "national"
REPLAYS = ("recourse", "committed")
CUMULATIVE_TOL = 1e-9


def weighted_quantiles(
    values: np.ndarray, probability: np.ndarray, quantiles: Sequence[float] = QUANTILES
) -> np.ndarray:
    """values: (scenarios, ...); probability: (scenarios,), summing to 1. Returns
    (len(quantiles), ...): per position, the smallest value whose cumulative probability is at
    least q (ties within CUMULATIVE_TOL count as reached)."""
    values = np.asarray(values, dtype=float)
    p = np.asarray(probability, dtype=float)
    order = np.argsort(values, axis=0, kind="stable")
    ranked = np.take_along_axis(values, order, axis=0)
    weights = p[order]
    cumulative = np.cumsum(weights, axis=0)
    out = np.empty((len(quantiles), *values.shape[1:]))
    for i, q in enumerate(quantiles):
        first = np.argmax(cumulative >= q - CUMULATIVE_TOL, axis=0)
        out[i] = np.take_along_axis(ranked, first[np.newaxis], axis=0)[0]
    return out


def quantile_label(q: float) -> str:
    return f"q{round(q * 100):02d}"


def fan_table(
    need: np.ndarray,
    on_hand: np.ndarray,
    probability: np.ndarray,
    regions: Sequence[str],
    quantiles: Sequence[float] = QUANTILES,
) -> pd.DataFrame:
    """need, on_hand: (scenarios, regions, days). One row per (area, day), areas the regions
    then NATIONAL (the sum over regions, per scenario, before the quantiles): need quantiles
    (need_q05, ...), need_mean, and the units on hand: on_hand_mean, on_hand_min, on_hand_max
    over the scenarios (identical when the replay is the same in every scenario)."""
    need = np.asarray(need, dtype=float)
    on_hand = np.asarray(on_hand, dtype=float)
    p = np.asarray(probability, dtype=float)
    need_all = np.concatenate([need, need.sum(axis=1, keepdims=True)], axis=1)
    hand_all = np.concatenate([on_hand, on_hand.sum(axis=1, keepdims=True)], axis=1)
    areas = [*map(str, regions), NATIONAL]
    days = need.shape[2]
    bands = weighted_quantiles(need_all, p, quantiles)  # (q, areas, days)
    columns: dict[str, Any] = {
        "area": np.repeat(areas, days),
        "day": np.tile(np.arange(days), len(areas)),
    }
    for i, q in enumerate(quantiles):
        columns[f"need_{quantile_label(q)}"] = bands[i].reshape(-1)
    columns["need_mean"] = np.tensordot(p, need_all, axes=1).reshape(-1)
    columns["on_hand_mean"] = np.tensordot(p, hand_all, axes=1).reshape(-1)
    columns["on_hand_min"] = hand_all.min(axis=0).reshape(-1)
    columns["on_hand_max"] = hand_all.max(axis=0).reshape(-1)
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class FanData:
    """What a fan chart shows: table (fan_table's rows), the replay, the quantiles, and the
    per-scenario days short of units (need above on hand, in resource-days)."""

    table: pd.DataFrame
    replay: str
    quantiles: tuple[float, ...]
    resource: str
    scenarios: int
    short_days: pd.Series  # index area; probability of at least one day with need > on hand

    def area(self, name: str) -> pd.DataFrame:
        rows = self.table[self.table["area"] == name]
        if not len(rows):
            raise KeyError(name)
        return rows.reset_index(drop=True)

    @property
    def areas(self) -> list[str]:
        return list(dict.fromkeys(self.table["area"]))


def simulated(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    rows: pd.DataFrame | Mapping[str, pd.DataFrame],
) -> tuple[np.ndarray, np.ndarray]:
    """need and on_hand (scenarios, regions, days) of the plan rows (plan_io's form; one for
    every scenario or one per scenario id) replayed by the simulator in each scenario."""
    need, hand = [], []
    # one plan for every scenario is prepared once (PlanReplay), then run in each
    shared = PlanReplay(instance, rows) if isinstance(rows, pd.DataFrame) else None
    per_scenario = rows if isinstance(rows, Mapping) else {}
    for sid, cube in zip(scenarios.ids, scenarios.array(instance.regions), strict=True):
        sim = (shared or PlanReplay(instance, per_scenario[sid])).run(cube)
        need.append(sim.need)
        hand.append(sim.on_hand)
    return np.array(need), np.array(hand)


def fan_data(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    result: StochasticResult,
    *,
    replay: str = "recourse",
    constraints: Sequence[Any] | None = None,
    default_constraints: bool = True,
    quantiles: Sequence[float] = QUANTILES,
    deadline: Deadline | None = None,
) -> FanData:
    """The fan of `result` (a two-stage plan made for `instance`) over `scenarios` (its
    planning set, or a held-out one). constraints / default_constraints: the recourse's, the
    plan's own by default (result.constraints). `deadline`: the recourse re-plans share what
    is left of it (optimiser/stochastic/compare_budget.py); OutOfTime when they could not all
    be made in it (no fan from part of the scenarios)."""
    if replay not in REPLAYS:
        raise InputError(Problem(f"replay must be one of {', '.join(REPLAYS)}, got {replay!r}"))
    check_compatible(scenarios, instance)
    instance = instance.with_settings(**result.settings) if result.settings else instance
    moves = result.executed_rows()
    if replay == "committed":
        fixed = plan_rows(moves, instance, name="committed")
        rows: pd.DataFrame | dict[str, pd.DataFrame] = replay_rows(fixed, "manifest")
    else:
        from optimiser.stochastic.compare import recourse
        from optimiser.stochastic.compare_budget import CompareBudget, OutOfTime

        budget = None
        if deadline is not None and deadline.limit is not None:
            budget = CompareBudget(deadline, len(scenarios), 0, len(scenarios))
        chosen = list(result.constraints) if constraints is None else list(constraints)
        plans, _ = recourse(
            instance,
            moves,
            result.commit_end,
            scenarios,
            chosen,
            default_constraints if constraints is not None else False,
            budget=budget,
        )
        if len(plans) < len(scenarios):
            raise OutOfTime(
                f"re-planned {len(plans)} of {counted(len(scenarios), 'scenario')} before the "
                "time limit"
            )
        rows = {}
        for sid, plan in plans.items():
            if plan.plan is None or str(plan.status) == "infeasible":
                raise InputError(Problem(f"scenario {sid}: no recourse plan ({plan.status})"))
            rows[sid] = replay_rows(plan_rows(plan.plan, instance, name=sid), "as_is")
    return fan_of_rows(instance, scenarios, rows, replay, quantiles)


def plan_fan(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    plan: PlanLike,
    *,
    policy: str = "manifest",
    quantiles: Sequence[float] = QUANTILES,
) -> FanData:
    """The fan of one plan (a plan CSV, its DataFrame or a PlanResult, whose settings are
    replayed) evaluated over `scenarios` as optimiser.scenarios.evaluate replays it (policy
    "manifest": its ship and transfer rows as written, admissions by the simulator; "as_is")."""
    if policy not in POLICIES:
        raise InputError(Problem(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}"))
    check_compatible(scenarios, instance)
    instance, rows, _ = plan_and_instance(instance, plan)
    return fan_of_rows(instance, scenarios, replay_rows(rows, policy), policy, quantiles)


def fan_of_rows(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    rows: pd.DataFrame | Mapping[str, pd.DataFrame],
    replay: str,
    quantiles: Sequence[float] = QUANTILES,
) -> FanData:
    """FanData of replay rows (one for all scenarios, or one per scenario id)."""
    need, hand = simulated(instance, scenarios, rows)
    p = scenarios.probability.to_numpy(dtype=float)
    table = fan_table(need, hand, p, instance.regions, quantiles)
    short = need - hand > 1e-9  # (s, r, d)
    short_any = np.concatenate(
        [short.any(axis=2), (need.sum(axis=1) - hand.sum(axis=1) > 1e-9).any(axis=1)[:, None]],
        axis=1,
    )
    areas = [*map(str, instance.regions), NATIONAL]
    return FanData(
        table=table,
        replay=replay,
        quantiles=tuple(float(q) for q in quantiles),
        resource=instance.base.resource,
        scenarios=len(scenarios),
        short_days=pd.Series(p @ short_any, index=pd.Index(areas, name="area")),
    )
