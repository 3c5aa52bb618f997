"""`plan`: the planner's entry point for the CLI, the service and the Python API.

Load+validate (instance.py) -> build (PlanEngine: model_data, build_plan_model) -> solve (the
engine's methods) -> extract (extract.py) -> PlanResult (results.py). The price of fairness and
the explanations are the engine protocol's (optimiser/engine_protocol.py), as for the regional
engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec, horizon_floors
from models.multiperiod import MultiPeriodData
from optimiser.arguments import switch_problems
from optimiser.deadline import Deadline, overrun_note
from optimiser.engine_protocol import (
    check_time_limit,
    explain_infeasible,
    price_table,
    request_deadline,
    resolve_constraints,
)
from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod.engine import ABS_GAP, PlanEngine, check_constraints
from optimiser.multiperiod.extract import extract
from optimiser.multiperiod.instance import MultiPeriodInstance, PlanSettings
from optimiser.multiperiod.methods.base import DEADLINE_MARGIN, PlanOutcome
from optimiser.multiperiod.methods.cleanup import clean_movements, skipped_cleanup
from optimiser.multiperiod.plan_io import plan_rows, today_from
from optimiser.multiperiod.results import PRICE_COLUMNS, PlanResult
from optimiser.multiperiod_args import check_multiperiod
from optimiser.results import SolverInfo
from optimiser.solver import (
    SolverOptions,
    SolveStatus,
    limit_explanation,
    limits_reached,
    solver_versions,
)

DEFAULT_GAP: float | None = None


def setting_notes(instance: MultiPeriodInstance, data: MultiPeriodData) -> list[str]:
    """Switches that are on (or set away from their default) but change nothing here, said
    plainly (the CLI prints them as warnings; the JSON carries them as `notes`)."""
    s, defaults = instance.settings, PlanSettings()
    notes: list[str] = []
    lead = instance.region_lead.to_numpy(dtype=float)
    shortest = float(np.nanmin(lead)) if np.isfinite(lead).any() else math.inf
    if s.patient_transfers and not data.patient_transfers:
        why = (
            f"the shortest region-to-region lead time is {counted(shortest, 'day')}"
            if math.isfinite(shortest)
            else "there is no region-to-region lane"
        )
        notes.append(
            "patient transfers are on but no pair of regions is within the distance limit "
            f"patient_transfer_max_lead_days = {s.patient_transfer_max_lead_days} ({why}): no "
            "patient can move; raise --patient-transfer-max-lead-days"
        )
    if not s.patient_transfers:
        changed = [
            k
            for k in ("patient_transfer_max_per_day", "patient_transfer_max_lead_days")
            if getattr(s, k) != getattr(defaults, k)
        ]
        if changed:
            notes.append(f"{' and '.join(changed)} change nothing: patient transfers are off")
    if s.transfers and data.n > 1 and not data.transfers:
        notes.append(
            "transfers are on but no transfer lane remains (lead_times.csv lanes within "
            f"max_transfer_lead_days = {s.max_transfer_lead_days}): no unit can move between "
            "regions"
        )
    if not data.transfers:
        changed = [
            k
            for k in ("donor_keep_share", "transfer_neighbours", "max_transfer_lead_days")
            if getattr(s, k) != getattr(defaults, k)
        ]
        if changed:
            notes.append(f"{' and '.join(changed)} change nothing: no unit moves between regions")
    total = data.deliveries.sum(axis=1)
    if len(total) and data.batch_size > 1 and float(total.max()) < data.batch_size:
        notes.append(
            f"batch_size = {data.batch_size} is more than any depot receives "
            f"({counted(float(total.max()), 'unit')} at most): nothing can be shipped"
        )
    return notes


def check_plan_arguments(today: object, **switches: object) -> None:
    """`today` a whole day number and each switch True or False: `today=True` read as day 1,
    or `price_of_fairness="yes"` read as true, would answer another question than asked."""
    problems = []
    if today is not None and (isinstance(today, bool) or not isinstance(today, int | np.integer)):
        problems.append(
            Problem(
                f"must be a whole day number, got {today!r:.40}",
                column="today",
                column_word="option",
            )
        )
    problems += switch_problems(**switches)
    if problems:
        raise InputError(problems)


CLIPPED_LISTED = 5  # regions named per clipped floor note


def clipped_floor_notes(data: MultiPeriodData, specs: Iterable[ConstraintSpec]) -> list[str]:
    """Floors the plan holds below what the constraint asks (docs/multiperiod.md, "Fairness
    over the horizon": clipped at the staff cap and at U_r), per constraint, said plainly as
    `triage solve` lists its clipped floors."""
    notes: list[str] = []
    regions = list(data.regions)
    for spec in specs:
        fn = REGISTRY[spec.kind].floors
        if fn is None:
            continue
        asked = np.asarray(fn(data.fairness_view(), spec.options), dtype=float)
        held = horizon_floors(data, fn, spec)
        cap = data.fairness_view().staff_cap
        clipped = np.flatnonzero(asked > held + 1e-9)
        if not len(clipped):
            continue
        named = [
            f"{regions[r]} {asked[r]:g} -> {held[r]:g} "
            f"({'staff cap' if held[r] >= cap[r] - 1e-9 else 'usable at once'})"
            for r in clipped[:CLIPPED_LISTED]
        ]
        more = len(clipped) - CLIPPED_LISTED
        notes.append(
            f"{spec.label}: {counted(len(clipped), 'floor')} held at what the region can use "
            f"(asked -> held; docs/multiperiod.md, \"Fairness over the horizon\"): "
            f"{', '.join(named)}"
            + (f" and {more} more" if more > 0 else "")
        )
    return notes


def active_constraints(
    instance: MultiPeriodInstance,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
) -> tuple[ConstraintSpec, ...]:
    """The instance's constraints (unless `default_constraints` is False) and the caller's,
    validated; InputError for a kind with no meaning over the horizon."""
    specs = resolve_constraints(instance.base.constraints, constraints, default_constraints)
    check_constraints(specs)
    return specs


# Under a time limit the solves leave this multiple of the build time for the extraction, the
# last stage (Reserves); every reserve grows with the model like the build (300 regions x 90
# days: build 0.25-0.5 s, extraction 0.27 s; the fallback plan is made before the solves).
FINISH_SHARE_OF_BUILD = 1.0
# ... or this many seconds per region and day when more: the extraction builds tables of a row
# per region and day (daily, the patient flow), while the build can be quick (track budget2,
# load 2-4: 1,000 x 90, 0.42-0.74 s, 1.0-2.8 builds, 4.7-8.2 microseconds a region-day; 300 x 90,
# 0.11-0.42 s, 4-16; not the columns: 300 x 90 with all-pairs lanes, 8 M columns, took 0.18-0.42
# s). Twice the quiet figure: load 7 halves a core.
EXTRACT_SECONDS_PER_REGION_DAY = 16e-6
# ... and this multiple for the movement cleanup (methods/cleanup.py), done last, before the
# extraction (300 x 90 threshold, 434,900 units moved: 2.2-2.4 s, 10 builds; 100 x 90, 304,315
# units: 0.5 s, 6 builds; measured with both cores busy), or this share of the budget when more
# (small models: a solve that overruns its deadline by a little leaves the cleanup nothing).
CLEANUP_SHARE_OF_BUILD = 20.0
CLEANUP_SHARE_OF_BUDGET = 0.03
# ... and this multiple for settling the final plan's patient flow (methods/settle.py: two LPs
# on the plan's movements, right after the solves), or this share of the budget when more.
# Measured, build / settle, with the cores shared: 30 x 30 waiting 1 day 0.007 / 0.15 s (20
# builds); 100 x 90 waiting 2 days 0.034 / 0.65-0.9 s (27); 300 x 90 waiting 2 days with patient
# transfers 0.38 / 2.2-4.5 s (6-12); 300 x 90 plain 0.09 / 0.26-0.65 s (3-7).
SETTLE_SHARE_OF_BUILD = 25.0
SETTLE_SHARE_OF_BUDGET = 0.03
# ... and this multiple for the solver-free repair (methods/idle_repair.py) that settles the
# flow when the LPs cannot finish: after them, before the cleanup's reserve (same models: 0.3-
# 3.6 builds, 0.02-0.38 s).
REPAIR_SHARE_OF_BUILD = 5.0
# A time-limited plan under constraints that reports a price of fairness, its L* not known yet,
# stops improving on a plan it has found this multiple of the build time before the solves'
# deadline, or this share of the budget when less, so that L* (the rule-free optimum,
# PlanEngine.star) has its time; the search for a first plan keeps the whole budget (a plan
# that meets the rule comes before the price: ending the search early, 300 x 90 under load
# returned the plan of last resort). Before, a 300 x 90 threshold plan could spend the whole
# budget and its price went unreported. L* alone, 300 x 90 plain, `--gap 0.01`: 11 CPU-s, 30 s
# wall with the two cores shared three ways (build 0.25 s). A plan done sooner leaves L* the rest.
STAR_SHARE_OF_BUILD = 100.0
STAR_SHARE_OF_BUDGET = 0.2
STAR_MIN_SECONDS = 1.0  # ... and at least this (small models: build times of milliseconds)
# The settle, repair and cleanup reserves together take at most this share of the budget (each
# scaled down alike, none below its own share of the budget): a build timed during a burst of
# load sizes them by it (300 x 90 threshold, load 5.7: build 1.04 s where 0.1-0.15 s is usual,
# reserves 53 s of a 120 s budget, the solves left 67 s and the plan of last resort returned).
RESERVES_SHARE_OF_BUDGET = 0.25


@dataclass(frozen=True)
class Reserves:
    """Seconds a time-limited plan keeps at the end of its budget for the work after its
    solves, in the order it is done: settling the patient flow (its LPs, then the repair when
    they cannot finish), the movement cleanup, the extraction. Each stage's deadline ends where
    the reserves of the stages after it begin, so none spends another's time and the whole
    plan ends within the budget."""

    settle: float
    repair: float
    cleanup: float
    extract: float

    @classmethod
    def sized(cls, build_seconds: float, limit: float | None, region_days: int = 0) -> Reserves:
        """From the model (its build time, its regions x days) and the budget (`limit` seconds;
        None: none). The extraction's reserve is outside the cap: without it there is no plan."""
        budget = limit or 0.0
        settle = max(SETTLE_SHARE_OF_BUILD * build_seconds, SETTLE_SHARE_OF_BUDGET * budget)
        repair = REPAIR_SHARE_OF_BUILD * build_seconds
        cleanup = max(CLEANUP_SHARE_OF_BUILD * build_seconds, CLEANUP_SHARE_OF_BUDGET * budget)
        total, cap = settle + repair + cleanup, RESERVES_SHARE_OF_BUDGET * budget
        if limit is not None and total > cap:
            scale = cap / total
            settle = max(settle * scale, SETTLE_SHARE_OF_BUDGET * budget)
            repair *= scale
            cleanup = max(cleanup * scale, CLEANUP_SHARE_OF_BUDGET * budget)
        return cls(
            settle=settle,
            repair=repair,
            cleanup=cleanup,
            extract=max(
                FINISH_SHARE_OF_BUILD * build_seconds, EXTRACT_SECONDS_PER_REGION_DAY * region_days
            ),
        )


def plan(
    instance: MultiPeriodInstance,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    default_constraints: bool = True,
    executed: pd.DataFrame | str | Path | None = None,
    today: int | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = DEFAULT_GAP,
    tie_break: bool = True,
    price_of_fairness: bool = True,
    progress: bool = False,
    method: str = "auto",
    deadline: Deadline | None = None,
) -> PlanResult:
    """Plan deliveries, transfers and admissions over the horizon.

    `time_limit` is one wall-clock budget for the whole call (building the model, every
    solve, the price of fairness, extraction); a caller that loaded the instance passes
    `deadline`, started before loading. `mip_gap`: a relative tolerance on top of the
    default absolute one (every optimum within 0.005 lives of its bound: prices exact to
    0.01 lives). Returns a PlanResult; an infeasible constraint set is a result with status
    'infeasible' and an explanation (the CLI turns it into exit code 3).
    """
    t_start = time.perf_counter()
    check_multiperiod(instance, "optimiser.multiperiod.plan")
    check_time_limit(time_limit)
    check_plan_arguments(
        today,
        default_constraints=default_constraints,
        tie_break=tie_break,
        price_of_fairness=price_of_fairness,
        progress=progress,
    )
    budget = request_deadline(time_limit, deadline, t_start, margin=DEADLINE_MARGIN)
    if mip_gap is not None and (
        isinstance(mip_gap, bool) or not isinstance(mip_gap, int | float) or not 0 <= mip_gap < 1
    ):
        raise InputError(
            Problem(f"must be in [0, 1), got {mip_gap!r}", column="mip_gap", column_word="option")
        )
    if executed is not None:
        executed = plan_rows(executed, instance, executed=True, name="executed")
    if executed is not None and today is None:
        today = today_from(executed)
    active = active_constraints(instance, constraints, default_constraints)
    options = SolverOptions(
        time_limit=budget.limit,
        mip_rel_gap=0.0 if mip_gap is None else float(mip_gap),
        mip_abs_gap=ABS_GAP,
    )
    engine = PlanEngine(instance, active, options, executed=executed, today=today, method=method)
    timings = {"build": engine.build_seconds, "translate": engine.translate_seconds}
    if budget.limit is not None:
        # a time-limited solve is compared with the fallback plan: made now, inside the budget
        # and before the solves' share of it is set (300 x 90: 0.8 s, three times the build)
        t_fallback = time.perf_counter()
        engine.fallback_values()
        timings["fallback"] = time.perf_counter() - t_fallback
    # the solves leave time for what follows them (patient flow, cleanup, extraction)
    region_days = len(instance.regions) * instance.days
    reserves = Reserves.sized(engine.build_seconds, budget.limit, region_days)
    finish = budget.reserved(reserves.extract)  # the cleanup's deadline
    settling = finish.reserved(reserves.cleanup + reserves.repair)  # the settle's LPs'
    runs = engine.deadline = settling.reserved(reserves.settle)
    star_key = engine.star_key()
    cached_star = _STARS.get(star_key)
    if cached_star is not None:
        engine.seed_star(cached_star)
    improve_limit = None  # L*'s time, kept from the search for a better plan once one is found
    if budget.limit is not None and price_of_fairness and active and cached_star is None:
        reserve = min(
            max(STAR_SHARE_OF_BUILD * engine.build_seconds, STAR_MIN_SECONDS),
            STAR_SHARE_OF_BUDGET * budget.limit,
        )
        improve_limit = runs.reserved(reserve).remaining()
    with limits_reached() as limits:  # the own limits (rounds, nodes) the plan stopped at
        main = engine.solve(
            active,
            tie_break=tie_break,
            time_limit=runs.remaining(),
            improve_limit=improve_limit,
        )
        main = engine.settle_patients(main, active, settling)
    timings["solve"] = (
        time.perf_counter() - t_start - timings["build"] - timings["translate"]
        - timings.get("fallback", 0.0)
    )
    t_main = time.perf_counter()
    explanation = limit_explanation(
        main.status, limits, main.gap, main.bound, "plan", main.values is not None
    )
    if main.status is SolveStatus.INFEASIBLE:
        explanation = explain_infeasible(engine, active)
    star = engine.solve([], tie_break=False, skip_when_expired=True)  # L*, only once proved
    if star.status is SolveStatus.OPTIMAL and cached_star is None:
        _STARS.put(star_key, engine.stored_star(star))
    if price_of_fairness and active and main.values is not None:
        price = price_table(engine, active, star, runs, progress=progress)
    else:
        price = pd.DataFrame(columns=PRICE_COLUMNS)
    # L*: the one unconstrained solve, shared by every price, and only once proved (a plan
    # cut short by the time limit says nothing of the optimum)
    proved = star.status is SolveStatus.OPTIMAL
    lives_star = star.lives if proved else None
    timings["price_of_fairness"] = time.perf_counter() - t_main
    engine.release_solvers()  # no solve on the engine follows: its HiGHS memory is reused
    # the plan's movements at the least logistics cost, its admissions (and lives) fixed
    if tie_break:
        rows = [f.rows for f in engine.families(active)]
        fair_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        main, cleanup = clean_movements(engine.setting, main, fair_rows, finish)
    else:
        cleanup = skipped_cleanup(engine.setting, main, "the logistics tie-break is off")
    timings["cleanup"] = cleanup.seconds
    t_extract = time.perf_counter()
    parts = extract(engine, main.values) if main.values is not None else None
    timings["extract"] = time.perf_counter() - t_extract
    timings["total"] = time.perf_counter() - t_start
    versions = solver_versions()
    outcomes = engine.outcomes()
    info = SolverInfo(
        name="highs",
        version=versions["highs"],
        gap=main.gap,
        seconds=sum(o.seconds for o in outcomes),
        solves=sum(o.solves for o in outcomes),
        pyomo_version=versions["pyomo"],
    )
    empty = pd.DataFrame()
    s = instance.settings
    return PlanResult(
        instance=instance.name,
        status=main.status,
        days=instance.days,
        start_date=None if instance.start_date is None else instance.start_date.isoformat(),
        lives_saved=None if parts is None else parts["lives"],
        lives_optimal=lives_star,
        lives_optimal_bound=star.lives_bound if proved else None,
        constraints=tuple(c.label for c in active),
        settings={k: getattr(s, k) for k in s.__dataclass_fields__},
        manifest=empty if parts is None else parts["manifest"],
        plan=empty if parts is None else parts["plan"],
        daily=empty if parts is None else parts["daily"],
        regions=empty if parts is None else parts["regions"],
        price_of_fairness=price,
        shortfall=None if parts is None else parts["shortfall"],
        supply_shortfall=None if parts is None else parts["supply_shortfall"],
        logistics_cost=main.logistics,
        reserve_left=None if parts is None else parts["reserve_left"],
        today=engine.today,
        executed_rows=len(engine.executed),
        explanation=explanation,
        solver=info,
        timings=timings,
        fingerprint=engine.fingerprint(),
        resource=instance.base.resource,
        notes=tuple(
            setting_notes(instance, engine.data)
            + clipped_floor_notes(engine.data, engine.candidates)
            + [n for n in [overrun_note(budget.limit, {**timings, "total": budget.elapsed()})] if n]
        ),
        objective_bound=main.bound,
        movement_cleanup=cleanup,
        sizes={
            "columns": int(engine.model.shape[1]),
            "rows": int(engine.model.shape[0]),
            "nonzeros": int(engine.model.matrix.nnz),
            "integer_columns": int(engine.model.integrality.sum()),
        },
    )


class _StarCache:
    """L* per instance and settings (PlanEngine.star_key), shared by every plan and price of
    the process: the unconstrained optimum is solved once, so every price is measured against
    the same L* (a few entries: a plan's values are a few MB)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.items: dict[tuple[Any, ...], PlanOutcome] = {}

    def get(self, key: tuple[Any, ...]) -> PlanOutcome | None:
        out = self.items.pop(key, None)
        if out is not None:
            self.items[key] = out
        return out

    def put(self, key: tuple[Any, ...], value: PlanOutcome) -> None:
        self.items.pop(key, None)
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.pop(next(iter(self.items)))


_STARS = _StarCache()
