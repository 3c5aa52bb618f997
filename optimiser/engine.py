"""The regional engine's entry points: `solve`, `evaluate` and `compare` build a
`RegionalEngine` (optimiser/regional_engine.py: build once, solve many, the tie-break) and
turn its outcomes into results: the optimum, the price of fairness, explanations.

Pipeline: Instance -> RegionalData -> build_regional (models/: arrays) -> MatrixHighsModel
(solver.py) -> extract (labelled DataFrames) -> AllocationResult. The CLI, the service and the
sweeps all call `solve`/`RegionalEngine` here; none re-implements the model. The engine
implements the engine protocol (optimiser/engine_protocol.py), where the price of fairness,
conflicts and explanations are written once for every engine.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from models.regional import RegionalData
from optimiser.arguments import check_switches
from optimiser.deadline import FINISH_FACTOR, Deadline
from optimiser.engine_protocol import (
    Optimum,
    check_time_limit,
    largest_needs,
    policy_price,
    price_difference,
    price_frame,
    price_interval,
    price_row,
    price_table,
    request_deadline,
    resolve_constraints,
)
from optimiser.errors import InputError, Problem, counted
from optimiser.instance import MAX_SUPPLY, Instance, validate_supply
from optimiser.policies import POLICIES, check_policy, check_seed, rule_allocation
from optimiser.regional_conflict import INTEGRALITY_TOLERANCE, floor_bounds, floor_conflict
from optimiser.regional_engine import Outcome, RegionalEngine, regional_data
from optimiser.results import PRICE_COLUMNS, AllocationResult, SolverInfo
from optimiser.solver import (
    SolverOptions,
    SolveStatus,
    limit_explanation,
    limits_reached,
    solver_versions,
)

# Re-exported from here (callers import them from optimiser.engine): INTEGRALITY_TOLERANCE,
# Outcome, RegionalEngine, floor_bounds, floor_conflict, regional_data, price_table.
__all__ = [
    "INTEGRALITY_TOLERANCE",
    "Optimum",
    "Outcome",
    "RegionalEngine",
    "check_time_limit",
    "compare",
    "evaluate",
    "floor_bounds",
    "floor_conflict",
    "largest_needs",
    "price_difference",
    "price_frame",
    "price_interval",
    "price_row",
    "price_table",
    "regional_data",
    "solve",
]

# ---------------------------------------------------------------------------------------------
# Public entry points


def active_constraints(
    instance: Instance,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
) -> tuple[ConstraintSpec, ...]:
    """The instance's constraints (unless `default_constraints` is False) and the caller's."""
    return resolve_constraints(
        instance.constraints, constraints, default_constraints, regions=instance.region_ids
    )


def multiperiod_problem(path: Any) -> Problem:
    """Why a single-period command does not answer a multi-period folder."""
    return Problem(
        f"{path} is a multi-period instance (it has demand.csv): its units arrive over time "
        "through deliveries.csv, so allocating its instance.toml supply once is not its "
        f"answer; plan it with `triage plan {path}` (Python: optimiser.multiperiod.plan)"
    )


def check_instance(instance: object, function: str) -> None:
    """An InputError for the commonest first mistake, a folder's path given for the Instance
    (`optimiser.solve("instances/pugh2021")` was an AttributeError on 'constraints')."""
    if isinstance(instance, Instance):
        return
    hint = ""
    if isinstance(instance, str | os.PathLike):
        hint = f"; load it first: optimiser.{function}(optimiser.load_instance({str(instance)!r}))"
    raise InputError(Problem(f"must be an Instance, got {type(instance).__name__}{hint}",
                             column="instance", column_word="argument"))


def solve(
    instance: Instance,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    policy: str = "optimal",
    supply: int | None = None,
    *,
    default_constraints: bool = True,
    time_limit: float | None = None,
    price_of_fairness: bool = True,
    tie_break: bool = True,
    seed: int = 0,
    deadline: Deadline | None = None,
) -> AllocationResult:
    """Allocate `supply` (default: the instance's) under `policy` and the active constraints.

    `time_limit` is one wall-clock budget for the whole call (building the model, every HiGHS
    run, the price of fairness); a caller that loaded the instance itself passes `deadline`,
    started before loading, so loading counts too. Returns an AllocationResult; an infeasible
    constraint set is a result with status 'infeasible' and an explanation (the CLI turns it
    into exit code 3).
    """
    t_start = time.perf_counter()
    check_instance(instance, "solve")
    check_switches(
        default_constraints=default_constraints,
        price_of_fairness=price_of_fairness,
        tie_break=tie_break,
    )
    check_time_limit(time_limit)
    budget = request_deadline(time_limit, deadline, t_start)
    check_policy(policy)
    check_seed(seed)
    if supply is not None:
        supply = validate_supply(supply, "supply", option=True)
        instance = instance.with_supply(supply)
    active = active_constraints(instance, constraints, default_constraints)
    engine = RegionalEngine(instance, active, SolverOptions(time_limit=budget.limit))
    # the solves leave time for the result's assembly (it grows with the instance, as building)
    runs = engine.deadline = budget.reserved(FINISH_FACTOR * engine.build_seconds)
    data = engine.data
    with limits_reached() as limits:  # HiGHS's own limits, if it stopped at one
        baseline = engine.solve([], tie_break=tie_break, time_limit=runs.remaining())
    lives_star = baseline.lives
    timings = {"build": engine.build_seconds, "translate": engine.translate_seconds}
    violations: tuple[str, ...] = ()
    explanation = None
    if policy == "optimal":
        with limits_reached() as main_limits:
            main = (
                engine.solve(active, tie_break=tie_break, time_limit=runs.remaining())
                if active
                else baseline
            )
        status: SolveStatus | str = main.status
        explanation = limit_explanation(
            status,
            main_limits if active else limits,
            main.gap,
            main.lives_bound,
            "allocation",
            main.units is not None,
        )
        units = main.units
        gap = main.gap
        lives_bound = main.lives_bound
        if main.status is SolveStatus.INFEASIBLE:
            explanation = engine.explain_infeasible(active)
    else:
        units = rule_allocation(policy, data, seed)
        status = "rule"
        gap = None
        lives_bound = None
        violations = tuple(engine.violations(units, active))
    t_main = time.perf_counter()
    lives = float(data.lives(units).sum()) if units is not None else None

    if policy != "optimal":
        price = policy_price(f"policy:{policy}", lives, baseline, POLICIES[policy].doc)
    elif price_of_fairness and active:
        price = price_table(engine, active, baseline, runs)
    else:
        price = pd.DataFrame(columns=PRICE_COLUMNS)
    lost = None if lives is None or lives_star is None else lives_star - lives
    versions = solver_versions()
    counted = engine.outcomes()
    info = SolverInfo(
        name="highs",
        version=versions["highs"],
        gap=gap,
        seconds=sum(o.seconds for o in counted),
        solves=sum(o.solves for o in counted),
        pyomo_version=versions["pyomo"],
    )
    timings["solve"] = t_main - t_start - timings["build"] - timings["translate"]
    timings["price_of_fairness"] = time.perf_counter() - t_main
    timings["total"] = time.perf_counter() - t_start
    return AllocationResult(
        instance=instance.name,
        policy=policy,
        status=status,
        supply=data.supply,
        lives_saved=lives,
        regions=region_table(engine, units, baseline.units),
        unallocated=None if units is None else int(data.supply - units.sum()),
        constraints=tuple(c.label for c in active),
        price_of_fairness=price,
        lives_optimal=lives_star,
        lives_optimal_bound=baseline.lives_bound,
        lives_saved_bound=lives_bound,
        lives_lost_total=lost,
        lives_lost_pct=None if lost is None or not lives_star else 100.0 * lost / lives_star,
        clipped_floors=clipped_floors(data, active),
        violations=violations,
        explanation=explanation,
        solver=info,
        timings=timings,
        fingerprint=instance.fingerprint(),
        resource=instance.resource,
        price_skipped=policy == "optimal" and bool(active) and not price_of_fairness,
    )


def coverage(capacity: np.ndarray, peak: np.ndarray, units: np.ndarray | float = 0.0) -> np.ndarray:
    """min(1, (capacity + units) / peak); 1 where there is no demand."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = np.where(peak > 0, (capacity + units) / np.where(peak > 0, peak, 1.0), 1.0)
    return np.minimum(cov, 1.0)


def region_table(
    engine: RegionalEngine, units: np.ndarray | None, reference: np.ndarray | None
) -> pd.DataFrame:
    data = engine.data
    columns: dict[str, Any] = {  # one DataFrame from all columns: ~5x faster than column by column
        "name": engine.instance.regions["name"].to_numpy(),
        "population": data.population,
        "capacity": data.capacity,
        "peak_demand": data.peak_demand,
        "excess_demand": data.excess_demand,
        "staff_cap": data.staff_cap,
        "coverage_before": coverage(data.capacity, data.peak_demand),
    }
    if units is not None:
        columns["units"] = units.astype(int)
        columns["useful_units"] = data.useful(units)
        columns["lives"] = data.lives(units)
        columns["coverage_after"] = coverage(data.capacity, data.peak_demand, units)
        if reference is not None:
            columns["units_unconstrained"] = reference.astype(int)
            columns["change"] = columns["units"] - columns["units_unconstrained"]
    return pd.DataFrame(columns, index=pd.Index(list(data.regions), name="region"))


def clipped_floors(data: RegionalData, active: Sequence[ConstraintSpec]) -> pd.DataFrame:
    rows = []
    for spec in active:
        fn = REGISTRY[spec.kind].floors
        if fn is None:
            continue
        floors = fn(data, spec.options)
        for rid, f, cap in zip(data.regions, floors, data.staff_cap, strict=True):
            if f > cap:
                rows.append([spec.label, rid, int(f), int(cap)])
    return pd.DataFrame(rows, columns=["constraint", "region", "requested", "staff_cap"])


def evaluate(
    instance: Instance,
    allocation: Mapping[str, Any] | pd.Series | AllocationResult,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    default_constraints: bool = True,
    source: str = "given",
    supply: int | None = None,
) -> AllocationResult:
    """Score any allocation (a result fed back in, or one made by hand) with the same lives
    function, against L* (at `supply`, default the instance's), and list the active
    constraints it breaks. An AllocationResult is scored under the supply and constraints it
    was solved with (unless `supply` / `constraints` say otherwise): a result solved at a
    supply of 1,200 is not scored against the instance's 1,000."""
    check_instance(instance, "evaluate")
    check_switches(default_constraints=default_constraints)
    if not isinstance(allocation, Mapping | pd.Series | AllocationResult):
        raise InputError(Problem(
            "must be a mapping region -> units, a pandas Series or an AllocationResult, got "
            f"{type(allocation).__name__}", column="allocation", column_word="argument"))
    if isinstance(allocation, AllocationResult):
        result = allocation
        if supply is None:
            supply = result.supply
        if constraints is None:
            constraints = list(result.constraints)
            default_constraints = False
        if source == "given":
            source = f"result:{result.policy}"
        allocation = result.allocation
    if supply is not None:
        instance = instance.with_supply(validate_supply(supply, "supply", option=True))
    items = dict(allocation.items())
    problems = []
    ids = instance.region_ids
    for rid in items:
        if str(rid) not in ids:
            problems.append(Problem(f"unknown region '{rid}'", column="region"))
    units = np.zeros(len(ids), dtype=np.int64)
    for i, rid in enumerate(ids):
        value = items.get(rid, 0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.integer | np.floating)
            or (
                isinstance(value, float | np.floating)
                and (not math.isfinite(value) or value != int(value))
            )
            or not 0 <= value <= MAX_SUPPLY
        ):
            problems.append(
                Problem(
                    f"units must be a whole number >= 0 (at most {MAX_SUPPLY:,}), got {value!r}",
                    region=rid,
                    column="units",
                )
            )
            continue
        units[i] = int(value)
    if problems:
        raise InputError(problems)
    active = active_constraints(instance, constraints, default_constraints)
    engine = RegionalEngine(instance, active)
    data = engine.data
    baseline = engine.solve([], tie_break=True)
    broken = list(engine.violations(units, active))
    over = int(units.sum()) - data.supply
    if over > 0:
        sent = counted(int(units.sum()), "unit")
        broken.insert(0, f"supply: sends {sent}, supply is {data.supply:,}")
    for rid, u, cap in zip(data.regions, units, data.staff_cap, strict=True):
        if u > cap:
            broken.append(f"staff_cap: region {rid} gets {int(u)}, can staff {int(cap)}")
    lives = float(data.lives(units).sum())
    lost = None if baseline.lives is None else baseline.lives - lives
    return AllocationResult(
        instance=instance.name,
        policy=source,
        status="evaluated",
        supply=data.supply,
        lives_saved=lives,
        regions=region_table(engine, units, baseline.units),
        unallocated=int(data.supply - units.sum()),
        constraints=tuple(c.label for c in active),
        price_of_fairness=policy_price(f"policy:{source}", lives, baseline, "allocation given"),
        lives_optimal=baseline.lives,
        lives_optimal_bound=baseline.lives_bound,
        lives_lost_total=lost,
        lives_lost_pct=None if lost is None or not baseline.lives else 100 * lost / baseline.lives,
        clipped_floors=clipped_floors(data, active),
        violations=tuple(broken),
        fingerprint=instance.fingerprint(),
        resource=instance.resource,
    )


def compare(
    instance: Instance,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    default_constraints: bool = True,
    supply: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    deadline: Deadline | None = None,
) -> pd.DataFrame:
    """Every policy side by side: lives saved, lives lost against the optimum, units by region.
    `time_limit` (or `deadline`, started by a caller that loaded the instance) bounds the
    whole comparison; a solve it cuts short says `time_limit` in the status column."""
    check_instance(instance, "compare")
    check_switches(default_constraints=default_constraints)
    check_time_limit(time_limit)
    budget = deadline if deadline is not None else Deadline(time_limit)
    check_seed(seed)
    if supply is not None:
        instance = instance.with_supply(validate_supply(supply, "supply", option=True))
    active = active_constraints(instance, constraints, default_constraints)
    engine = RegionalEngine(instance, active, SolverOptions(time_limit=budget.limit))
    runs = engine.deadline = budget.reserved(FINISH_FACTOR * engine.build_seconds)
    data = engine.data
    star = engine.solve([], tie_break=True, time_limit=runs.remaining())
    rows: list[tuple[str, str, np.ndarray | None, str, tuple[str, ...]]] = []
    for name in POLICIES:
        if name == "optimal":
            continue
        units = rule_allocation(name, data, seed)
        rows.append(
            (name, POLICIES[name].doc, units, "rule", tuple(engine.violations(units, active)))
        )
    rows.append(
        (
            "optimal",
            "most expected survivors, no fairness constraint",
            star.units,
            str(star.status),
            (),
        )
    )
    if active:
        fair = engine.solve(active, tie_break=True, time_limit=runs.remaining())
        label = "optimal+" + "+".join(c.label for c in active)
        rows.append(
            (
                label,
                engine.explain_infeasible(active)
                if fair.status is SolveStatus.INFEASIBLE
                else "most expected survivors under the active constraints",
                fair.units,
                str(fair.status),
                (),
            )
        )
    out = []
    for name, doc, alloc, status, broken in rows:
        lives = None if alloc is None else float(data.lives(alloc).sum())
        record: dict[str, Any] = {
            "policy": name,
            "status": status,
            "lives_saved": lives,
            "lives_lost_vs_optimal": None
            if lives is None or star.lives is None
            else star.lives - lives,
            "pct_of_optimal": None
            if lives is None or not star.lives
            else 100.0 * lives / star.lives,
            "unallocated": None if alloc is None else int(data.supply - alloc.sum()),
            "violates": "; ".join(broken),
            "description": doc,
        }
        for rid, u in zip(
            data.regions, alloc if alloc is not None else [None] * len(data.regions), strict=True
        ):
            record[f"units:{rid}"] = None if u is None else int(u)
        out.append(record)
    return pd.DataFrame(out).set_index("policy")
