"""Out-of-sample evaluation: replay a plan through check-plan's independent simulator
(optimiser.multiperiod.simulate.simulate, called as is) in every scenario, and report what
stochastic programmers report (docs/scenarios.md, "Evaluating a plan").

Replaying a plan in a scenario means: the instance with its demand replaced by the scenario's,
the same unit movements. How the later decisions adapt is the replay policy:

* "manifest" (default for one plan): the ship and transfer rows are dispatched exactly as
  written, in every scenario (a fixed manifest, the deterministic plan as a team would execute
  it); admissions follow the simulator's own rule (earliest deadline first, whenever a unit the
  manifest keeps in the region and staff are free for the whole stay); the plan's admit and
  patient-transfer rows are dropped (they name patients of the forecast, not of the scenario).
* "as_is": every row of the plan replayed as written, for plans made for that scenario (one
  plan per scenario: a hindsight plan, or later the recourse of a two-stage plan).

Scenarios are split in chunks over optimiser.executor (local processes by default, a Dask
cluster with a scheduler address); the figures do not depend on the split.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import BrokenExecutor, as_completed
from dataclasses import dataclass, field, fields
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem, TriageError, plural
from optimiser.json_values import json_number, json_ready
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import plan_rows
from optimiser.multiperiod.results import PlanResult
from optimiser.multiperiod.simulate import PlanReplay, Simulation, simulate
from optimiser.multiperiod_args import check_multiperiod
from optimiser.scenarios.model import ScenarioSet, check_compatible
from optimiser.scenarios.stats import (
    Estimate,
    cvar_estimate,
    mean_estimate,
    probability_estimate,
)

POLICIES = ("manifest", "as_is")
MANIFEST_KINDS = ("ship", "transfer")
DEFAULT_ALPHA = 0.1
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SHORTFALL_TOLERANCE = 0.5  # resource-days: less is the rounding of expected counts
IN_PROCESS_BELOW = 24  # scenarios: fewer run in this process (starting workers costs more)
OUTCOME_COLUMNS = [
    "probability",
    "survivors",
    "deaths",
    "patients",
    "admitted",
    "not_admitted",
    "shortfall",
    "supply_shortfall",
    "violations",
    "rules_broken",
]

PlanLike = str | Path | pd.DataFrame | PlanResult


@dataclass(frozen=True)
class Evaluation:
    """A plan replayed in every scenario: per-scenario outcomes and the metrics over them."""

    instance: str
    plan: str
    policy: str
    sampled: bool
    alpha: float
    confidence: float
    shortfall_tolerance: float
    metrics: dict[str, Estimate]
    per_scenario: pd.DataFrame  # index scenario; OUTCOME_COLUMNS
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def scenarios(self) -> int:
        return len(self.per_scenario)

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for sid, row in self.per_scenario.iterrows():
            item: dict[str, Any] = {"scenario": str(sid)}
            for k, v in row.items():
                item[str(k)] = v if isinstance(v, str) else json_number(float(v))
            rows.append(item)
        return {
            "instance": self.instance,
            "plan": self.plan,
            "policy": self.policy,
            "scenarios": self.scenarios,
            "sampled": self.sampled,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "shortfall_tolerance": self.shortfall_tolerance,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "per_scenario": rows,
            "info": json_ready(self.info),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Evaluation:
        frame = pd.DataFrame(list(payload["per_scenario"]))
        frame = frame.set_index("scenario")[OUTCOME_COLUMNS]
        frame["rules_broken"] = frame["rules_broken"].fillna("").astype(str)
        frame["violations"] = frame["violations"].astype("int64")  # a count, written as a float
        return cls(
            instance=str(payload["instance"]),
            plan=str(payload["plan"]),
            policy=str(payload["policy"]),
            sampled=bool(payload["sampled"]),
            alpha=float(payload["alpha"]),
            confidence=float(payload["confidence"]),
            shortfall_tolerance=float(payload["shortfall_tolerance"]),
            metrics={k: Estimate.from_dict(v) for k, v in payload["metrics"].items()},
            per_scenario=frame,
            info=dict(payload.get("info", {})),
        )


def replay_rows(rows: pd.DataFrame, policy: str) -> pd.DataFrame:
    """The rows a policy replays (validated rows, plan_io's internal form). Text columns as
    Python objects: the simulator iterates rows, and that is faster than over Arrow strings."""
    if policy == "manifest":
        rows = rows[rows["kind"].isin(MANIFEST_KINDS)].reset_index(drop=True)
    out = rows.astype({"kind": object, "src": object, "dst": object})
    out.attrs = dict(rows.attrs)
    return out


def plan_and_instance(
    instance: MultiPeriodInstance, plan: PlanLike
) -> tuple[MultiPeriodInstance, pd.DataFrame, str]:
    """The instance under the plan's settings (a PlanResult's), the plan's validated rows and
    its name."""
    if isinstance(plan, PlanResult):
        instance = instance.with_settings(**plan.settings)
        return instance, plan_rows(plan.plan, instance, name="PlanResult.plan"), "PlanResult"
    name = "plan" if isinstance(plan, pd.DataFrame) else Path(plan).name
    return instance, plan_rows(plan, instance, name=name), name


def outcome(instance: MultiPeriodInstance, rows: pd.DataFrame) -> dict[str, Any]:
    """One replay through simulate(): the figures of OUTCOME_COLUMNS (but probability)."""
    return outcome_of(instance, simulate(instance, rows))


def outcome_of(instance: MultiPeriodInstance, sim: Simulation) -> dict[str, Any]:
    """The figures of OUTCOME_COLUMNS (but probability) of a replay in `instance`."""
    regions = instance.base.regions
    with_unit = regions["survival_with"].to_numpy(dtype=float)
    without = regions["survival_without"].to_numpy(dtype=float)
    admitted = sim.admitted.sum(axis=1)
    lost = sim.lost.sum(axis=1)
    own = instance.own.to_numpy(dtype=float)
    staffed = own + instance.staff.to_numpy(dtype=float)
    covered = np.minimum(sim.on_hand, staffed)
    return {
        "survivors": sim.survivors,
        "deaths": float(np.dot(admitted, 1.0 - with_unit) + np.dot(lost, 1.0 - without)),
        "patients": float(admitted.sum() + lost.sum()),
        "admitted": float(admitted.sum()),
        "not_admitted": float(lost.sum()),
        "shortfall": float(sim.shortfall.sum()),
        "supply_shortfall": float(np.maximum(sim.need - covered, 0.0).sum()),
        "violations": len(sim.violations),
        "rules_broken": ";".join(sorted({v.rule for v in sim.violations})),
    }


def evaluate_chunk(
    instance: MultiPeriodInstance,
    rows: pd.DataFrame | Sequence[pd.DataFrame],
    ids: Sequence[str],
    demand: np.ndarray,
    done: Callable[[int], Any] | None = None,
) -> list[dict[str, Any]]:
    """Replay in the scenarios `ids` (demand: scenarios x regions x days); `rows`: one plan
    for all, or one per scenario; `done(1)` after each scenario. Runs in worker processes:
    module-level and picklable."""
    # a plan is prepared once (its rows, the instance's tables) and replayed in each demand
    replays: Iterable[PlanReplay] = (
        repeat(PlanReplay(instance, rows))
        if isinstance(rows, pd.DataFrame)
        else (PlanReplay(instance, plan) for plan in rows)
    )
    out = []
    for i, (sid, replay) in enumerate(zip(ids, replays, strict=False)):  # repeat(): endless
        out.append({"scenario": sid, **outcome_of(instance, replay.run(demand[i]))})
        if done is not None:
            done(1)
    return out


def evaluate(
    instance: MultiPeriodInstance,
    plan: PlanLike | Mapping[str, PlanLike],
    scenarios: ScenarioSet,
    *,
    policy: str | None = None,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    shortfall_tolerance: float = DEFAULT_SHORTFALL_TOLERANCE,
    sampled: bool | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> Evaluation:
    """Replay `plan` in every scenario of `scenarios` and summarise.

    plan: a plan CSV path, a DataFrame in its form, a PlanResult (its settings are replayed),
    or a mapping scenario id -> plan (one plan per scenario, replayed "as_is"). The instance's
    settings are the rules replayed (pass `inst.with_settings(...)` for a plan made under
    others). alpha: the tail share of CVaR; confidence: the level of the intervals (given when
    the scenarios are a sample: `sampled`, default the set's own flag); shortfall_tolerance:
    resource-days of unmet need below which a scenario counts as without shortfall.
    workers / scheduler: optimiser.executor's (local processes, or a Dask scheduler address or
    client)."""
    check_multiperiod(instance, "optimiser.scenarios.evaluate")
    _check_options(alpha, confidence, shortfall_tolerance, workers, chunk_size)
    check_compatible(scenarios, instance)
    per_scenario = isinstance(plan, Mapping)
    chosen = policy or ("as_is" if per_scenario else "manifest")
    if chosen not in POLICIES:
        raise InputError(
            Problem(
                f"unknown replay policy {chosen!r} (policies: {', '.join(POLICIES)})",
                column="policy",
                column_word="option",
            )
        )
    ids = scenarios.ids
    rows_for: pd.DataFrame | list[pd.DataFrame]
    if isinstance(plan, Mapping):
        missing = [s for s in ids if s not in plan]
        if missing:
            raise InputError(
                Problem(
                    f"no plan for {plural(len(missing), 'scenario')} {', '.join(missing[:8])}",
                    column="plan",
                )
            )
        replayed = [plan_and_instance(instance, plan[s]) for s in ids]
        settings = {repr(r[0].settings) for r in replayed}
        if len(settings) > 1:
            raise InputError(Problem("the per-scenario plans were made under different settings"))
        instance = replayed[0][0]
        rows_for = [replay_rows(r[1], chosen) for r in replayed]
        name = f"{len(ids)} per-scenario plans"
    else:
        instance, rows, name = plan_and_instance(instance, plan)
        rows_for = replay_rows(rows, chosen)
    cube = scenarios.array(instance.regions)
    started = time.perf_counter()
    records, how = _run(instance, rows_for, ids, cube, workers, scheduler, chunk_size, progress)
    seconds = time.perf_counter() - started
    frame = pd.DataFrame(records).set_index("scenario").reindex(ids)
    frame.insert(0, "probability", scenarios.probability.reindex(ids).to_numpy())
    frame = frame[OUTCOME_COLUMNS]
    is_sample = scenarios.sampled if sampled is None else sampled
    return Evaluation(
        instance=instance.name,
        plan=name,
        policy=chosen,
        sampled=is_sample,
        alpha=alpha,
        confidence=confidence,
        shortfall_tolerance=shortfall_tolerance,
        metrics=metrics(frame, alpha, confidence, shortfall_tolerance, is_sample),
        per_scenario=frame,
        info={
            "scenario_set": dict(scenarios.info),
            "settings": {
                f.name: getattr(instance.settings, f.name) for f in fields(instance.settings)
            },
            "executor": how,
            "seconds": round(seconds, 3),
        },
    )


def metrics(
    frame: pd.DataFrame, alpha: float, confidence: float, tolerance: float, sampled: bool
) -> dict[str, Estimate]:
    """The metrics of docs/scenarios.md from the per-scenario outcomes."""
    p = frame["probability"].to_numpy(dtype=float)

    def col(name: str) -> np.ndarray:
        return frame[name].to_numpy(dtype=float)

    shortfall = col("shortfall")
    return {
        "expected_survivors": mean_estimate(col("survivors"), p, sampled, confidence),
        "expected_deaths": mean_estimate(col("deaths"), p, sampled, confidence),
        "expected_not_admitted": mean_estimate(col("not_admitted"), p, sampled, confidence),
        "probability_of_shortfall": probability_estimate(
            shortfall > tolerance, p, sampled, confidence
        ),
        "expected_shortfall": mean_estimate(shortfall, p, sampled, confidence),
        "cvar_shortfall": cvar_estimate(shortfall, p, alpha, sampled, confidence),
        "expected_supply_shortfall": mean_estimate(col("supply_shortfall"), p, sampled, confidence),
        "cvar_deaths": cvar_estimate(col("deaths"), p, alpha, sampled, confidence),
        "probability_of_broken_rules": probability_estimate(
            col("violations") > 0, p, sampled, confidence
        ),
    }


def _check_options(
    alpha: float,
    confidence: float,
    tolerance: float,
    workers: int | None,
    chunk_size: int | None,
) -> None:
    problems = []

    def bad(option: str, message: str, value: Any) -> None:
        problems.append(Problem(f"{message}, got {value!r}", column=option, column_word="option"))

    def number(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)

    if not number(alpha) or not 0.0 < alpha <= 1.0:
        bad("alpha", "must be a tail share in (0, 1]", alpha)
    if not number(confidence) or not 0.5 <= confidence < 1.0:
        bad("confidence", "must be a level in [0.5, 1)", confidence)
    if not number(tolerance) or not 0.0 <= tolerance <= 1e9:
        bad("shortfall-tolerance", "must be resource-days in [0, 1e9]", tolerance)
    for option, value in (("workers", workers), ("chunk-size", chunk_size)):
        if value is not None and (not isinstance(value, int) or not 1 <= value <= 4096):
            bad(option, "must be a whole number in 1..4096", value)
    if problems:
        raise InputError(problems)


def _run(
    instance: MultiPeriodInstance,
    rows: pd.DataFrame | list[pd.DataFrame],
    ids: list[str],
    cube: np.ndarray,
    workers: int | None,
    scheduler: Any,
    chunk_size: int | None,
    progress: bool,
) -> tuple[list[dict[str, Any]], str]:
    from tqdm.auto import tqdm

    S = len(ids)
    bar = tqdm(
        total=S,
        unit="scenario",
        desc=f"evaluate {instance.name}",
        disable=None if progress else True,  # None: shown on a terminal only
        dynamic_ncols=True,
    )
    client = None
    try:
        if scheduler is None and (workers == 1 or (workers is None and S < IN_PROCESS_BELOW)):
            return evaluate_chunk(instance, rows, ids, cube, bar.update), "in process"
        if isinstance(scheduler, str):
            from optimiser.executor import connect_dask

            client = connect_dask(scheduler, note="; nothing was written")  # else InputError
        return _distribute(instance, rows, ids, cube, workers, client or scheduler, chunk_size, bar)
    finally:
        bar.close()
        if client is not None:
            client.close()


def _distribute(
    instance: MultiPeriodInstance,
    rows: pd.DataFrame | list[pd.DataFrame],
    ids: list[str],
    cube: np.ndarray,
    workers: int | None,
    target: Any,
    chunk_size: int | None,
    bar: Any,
) -> tuple[list[dict[str, Any]], str]:
    """Chunks of scenarios on optimiser.executor: about four chunks per worker, so that a slow
    chunk does not hold the others back."""
    from optimiser.executor import WorkerLost, default_workers, make_executor

    S = len(ids)
    count = workers or default_workers()
    if target is not None and hasattr(target, "nthreads"):
        count = max(1, sum(target.nthreads().values()))
    size = chunk_size or max(1, math.ceil(S / (4 * count)))
    out: list[dict[str, Any]] = []
    with make_executor(target, count) as pool:
        futures = [
            pool.submit(
                evaluate_chunk,
                instance,
                _rows_at(rows, a, a + size),
                ids[a : a + size],
                cube[a : a + size],
            )
            for a in range(0, S, size)
        ]
        for future in as_completed(futures):
            try:
                part = future.result()
            except (BrokenExecutor, WorkerLost) as exc:
                raise TriageError(
                    f"a worker process died while replaying scenarios ({exc}); nothing was written"
                ) from None
            out += part
            bar.update(len(part))
    how = f"dask ({count} threads)" if target is not None else f"{count} local processes"
    return out, f"{how}, chunks of {size}"


def _rows_at(
    rows: pd.DataFrame | list[pd.DataFrame], a: int, b: int
) -> pd.DataFrame | list[pd.DataFrame]:
    return rows if isinstance(rows, pd.DataFrame) else rows[a:b]


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_SHORTFALL_TOLERANCE",
    "OUTCOME_COLUMNS",
    "POLICIES",
    "Evaluation",
    "evaluate",
    "evaluate_chunk",
    "metrics",
    "outcome",
    "outcome_of",
    "replay_rows",
]
