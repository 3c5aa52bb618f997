"""Build once, solve many: the optimum, its tie-break, the price of fairness, explanations.

Pipeline: Instance -> RegionalData -> build_regional (models/: arrays) -> MatrixHighsModel
(solver.py) -> extract (labelled DataFrames) -> AllocationResult. The CLI, the service and the
sweeps all call `solve`/`RegionalEngine` here; none re-implements the model. The engine
implements the engine protocol (optimiser/engine_protocol.py), where the price of fairness,
conflicts and explanations are written once for every engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from models.regional import (
    RegionalData,
    RegionalOptions,
    build_regional,
    pwl_square,
    weighted_lives,
)
from optimiser.deadline import FINISH_FACTOR, Deadline
from optimiser.engine_protocol import (
    Optimum,
    check_time_limit,
    explain_infeasible,
    largest_needs,
    minimal_conflict,
    price_difference,
    price_frame,
    price_interval,
    price_row,
    price_table,
    request_deadline,
    resolve_constraints,
)
from optimiser.errors import InputError, Problem
from optimiser.instance import MAX_SUPPLY, Instance, validate_supply
from optimiser.policies import POLICIES, check_policy, check_seed, rule_allocation
from optimiser.results import PRICE_COLUMNS, AllocationResult, SolverInfo
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus, solver_versions
from optimiser.ties import SecantCuts, SeparableTies, tie_break_units

__all__ = [
    "Optimum",
    "RegionalEngine",
    "check_time_limit",
    "compare",
    "evaluate",
    "largest_needs",
    "price_difference",
    "price_frame",
    "price_interval",
    "price_row",
    "regional_data",
    "solve",
]

# Tolerances, declared once. LIVES_TOL: how far a tie-break may drift from the best lives value
# (relative, plus an absolute floor); it is far below one life.
LIVES_TOL_REL = 1e-7
LIVES_TOL_ABS = 1e-6
CUT_TOL = 1e-7
MAX_TIE_ROUNDS = 60
# Secant cuts placed up front on each side of a region's proportional share: valid anywhere
# (f_r is convex), and they spare most lazy rounds (pugh2021: 11 HiGHS runs -> 3).
TIE_CUT_WINDOW = 1


def regional_data(instance: Instance, supply: int | None = None) -> RegionalData:
    """The model's numbers, computed from a validated instance."""
    regions = instance.regions
    numbers = instance.numbers
    ids = tuple(instance.region_ids)
    excess = numbers.excess_demand
    gain = numbers.gain
    if instance.tiers is not None:
        by_region = {rid: g for rid, g in instance.tiers.groupby("region", sort=False)}
    else:
        by_region = {}
    swo = regions["survival_without"].to_numpy(dtype=float)
    tiers = []
    for i, rid in enumerate(ids):
        if rid in by_region:
            g = by_region[rid]
            tiers.append(
                tuple(
                    (float(s) * excess[i], float(sw) - swo[i])
                    for s, sw in zip(g["share"], g["survival_with"], strict=True)
                )
            )
        else:
            tiers.append(((excess[i], gain[i]),))
    return RegionalData(
        regions=ids,
        population=regions["population"].to_numpy(dtype=float),
        capacity=regions["capacity"].to_numpy(dtype=float),
        peak_demand=regions["peak_demand"].to_numpy(dtype=float),
        excess_demand=excess,
        gain=gain,
        turnover=numbers.turnover,
        staff_cap=numbers.staff_cap,
        weight=regions["weight"].to_numpy(dtype=float),
        rai=numbers.rai,
        supply=int(instance.supply if supply is None else supply),
        tiers=tuple(tiers),
    )


@dataclass(frozen=True)
class Outcome:
    """One solve of the model for a set of active constraints."""

    status: SolveStatus
    units: np.ndarray | None
    lives: float | None
    objective: float | None
    gap: float | None
    seconds: float
    solves: int
    # Proven upper bound on the lives of any allocation under these constraints (the
    # solver's dual bound, when the objective is lives; None otherwise or when unknown).
    lives_bound: float | None = None


@dataclass
class RegionalEngine:
    """The regional model for one instance, built once with every candidate constraint.

    `solve(active)` switches families on and off in HiGHS and re-solves; nothing is rebuilt.
    """

    instance: Instance
    candidates: tuple[ConstraintSpec, ...]
    options: SolverOptions = field(default_factory=SolverOptions)
    supply: int | None = None
    # The request's budget: every solve not given its own time limit (explanations, rule
    # checks, least units) stops with it; None: options.time_limit per solve.
    deadline: Deadline | None = None

    def __post_init__(self) -> None:
        t0 = time.perf_counter()
        self.data = regional_data(self.instance, self.supply)
        # Absolute gap 0.005 lives (prices exact to 0.01), and never looser than 1e-6 of the
        # most lives the instance could save (small instances keep their old precision).
        most = float(self.data.lives(np.ceil(self.data.excess_demand)).sum())
        gap = min(self.options.mip_abs_gap, max(1e-7, 1e-6 * most))
        if gap < self.options.mip_abs_gap:
            self.options = replace(self.options, mip_abs_gap=gap)
        self.model = build_regional(self.data, RegionalOptions(constraints=self.candidates))
        self.build_seconds = time.perf_counter() - t0
        p = self.model.program
        self.highs = MatrixHighsModel(
            p.col_lower, p.col_upper, p, p.row_lower, p.row_upper, p.integrality, self.options
        )
        self.translate_seconds = self.highs.translate_seconds
        self._x_cols = self.model.x
        self._outcomes: dict[frozenset[str], Outcome] = {}
        self._extra_rows: list[int] = []
        for spec in self.candidates:
            self.highs.set_rows_active(self.model.fairness[spec.label], False)
        self._active: frozenset[str] = frozenset()
        self._specs = {spec.label: spec for spec in self.candidates}

    # ---- switching
    def _activate(self, active: Sequence[ConstraintSpec]) -> None:
        labels = frozenset(c.label for c in active)
        unknown = labels - {c.label for c in self.candidates}
        if unknown:
            raise ValueError(f"not built into this engine: {sorted(unknown)}")
        for spec in self.candidates:
            want = spec.label in labels
            if want != (spec.label in self._active):
                self.highs.set_rows_active(self.model.fairness[spec.label], want)
        self._active = labels

    def _objective(self, active: Sequence[ConstraintSpec]) -> np.ndarray:
        weights = [c for c in active if REGISTRY[c.kind].role == "objective"]
        if not weights:
            return self.model.lives
        a = np.ones(len(self.data.regions))
        for spec in weights:
            fn = REGISTRY[spec.kind].weights
            assert fn is not None
            a = a * fn(self.data, spec.options)
        return weighted_lives(self.model, a)

    def _drop_extra_rows(self) -> None:
        for row in self._extra_rows:
            self.highs.set_row_bounds(row, -math.inf, math.inf)
        self._extra_rows.clear()

    def units_of(self, values: np.ndarray) -> np.ndarray:
        return np.rint(values[self._x_cols]).astype(np.int64)

    # ---- solving
    def solve(
        self,
        active: Sequence[ConstraintSpec] = (),
        *,
        tie_break: bool = True,
        time_limit: float | None = None,
        skip_when_expired: bool = False,
    ) -> Outcome:
        """Most expected survivors under `active`; with `tie_break`, the documented secondary
        criteria choose among allocations that save the same lives (docs/model.md, Ties).
        `skip_when_expired`: an optional solve (a price) that needs HiGHS once the engine's
        deadline has passed is not started: time_limit, no allocation (and not cached)."""
        key = frozenset(c.label for c in active) | ({"#tie"} if tie_break else set())
        if key in self._outcomes:
            return self._outcomes[key]
        if not tie_break and key | {"#tie"} in self._outcomes:
            # a tie-broken allocation saves the same lives (to LIVES_TOL): it serves lives-only
            return self._outcomes[key | {"#tie"}]
        if time_limit is not None:
            deadline = Deadline(time_limit)
        else:
            deadline = self.deadline or Deadline(self.options.time_limit)
        self._activate(active)
        self._drop_extra_rows()
        objective = self._objective(active)
        separable = self._separable(objective)
        if separable is not None:  # exact without HiGHS: the tie-broken point is a lives optimum
            out = _exact_outcome(separable, self.data, objective is self.model.lives)
            self._outcomes[key] = out
            return out
        if skip_when_expired and self.deadline is not None and self.deadline.expired():
            return Outcome(SolveStatus.TIME_LIMIT, None, None, None, None, 0.0, 0)
        self.highs.set_cost(objective, maximize=True)
        first = self.highs.solve(deadline.remaining())
        solves, seconds = 1, first.seconds
        if first.values is None:
            out = Outcome(first.status, None, None, None, first.gap, seconds, solves, None)
            self._outcomes[key] = out
            return out
        values, status, gap = first.values, first.status, first.gap
        if tie_break and status is SolveStatus.OPTIMAL:
            values, extra_solves, extra_seconds, status = self._tie_break(
                objective, first.objective or 0.0, values, deadline
            )
            solves += extra_solves
            seconds += extra_seconds
        self._drop_extra_rows()
        units = self.units_of(values)
        lives = float(self.data.lives(units).sum())
        lives_objective = objective is self.model.lives
        bound = first.bound if lives_objective and first.bound is not None else None
        if bound is not None:
            bound = max(bound, lives)  # the bound holds every allocation, this one included
        out = Outcome(status, units, lives, first.objective, gap, seconds, solves, bound)
        self._outcomes[key] = out
        return out

    def _tie_break(
        self, objective: np.ndarray, best: float, values: np.ndarray, deadline: Deadline
    ) -> tuple[np.ndarray, int, float, SolveStatus]:
        """Stage 2: Webster apportionment of useful units in proportion to E_r; stage 3: fewest
        units sent (useless units stay in the reserve), then earlier regions in file order.

        Two MIPs at zero gap, f_r held by secant cuts: for families that couple regions (without
        them `solve` uses the exact method of optimiser/ties.py)."""
        tol = max(LIVES_TOL_ABS, LIVES_TOL_REL * abs(best))
        m, h, data = self.model, self.highs, self.data
        self._extra_rows.append(self._add_row(objective, lower=best - tol))
        solves, seconds = 0, 0.0
        contested = m.contested
        add_violated_cuts: Callable[[np.ndarray], int] | None = None
        if len(contested):
            cuts = SecantCuts(m, data.excess_demand[contested])
            sent = float(sum(float(values[cols].sum()) for cols in cuts.useful_cols))
            total_e = float(cuts.excess.sum())
            for j in range(len(contested)):
                e = float(cuts.excess[j])
                cuts.add(j, float(values[cuts.useful_cols[j]].sum()))
                share = e * sent / total_e if total_e > 0 else 0.0
                for step in range(-TIE_CUT_WINDOW, TIE_CUT_WINDOW + 1):
                    cuts.add(j, share + step)
            self._extra_rows.extend(cuts.flush(h))

            def violated_cuts(values: np.ndarray) -> int:
                """Cuts where d_r lies below f_r(u_r); how many were added."""
                for j in range(len(contested)):
                    u = float(values[cuts.useful_cols[j]].sum())
                    e = float(cuts.excess[j])
                    if values[m.shortfall[j]] < pwl_square(u, e) - CUT_TOL * (1 + e):
                        cuts.add(j, u)
                rows = cuts.flush(h)
                self._extra_rows.extend(rows)
                return len(rows)

            shortfall_cost = np.zeros(h.num_cols)
            shortfall_cost[m.shortfall] = 1.0
            h.set_cost(shortfall_cost, maximize=False)
            values = values.copy()  # a feasible start: d_r = f_r(u_r) meets every cut
            for j in range(len(contested)):
                u = float(values[cuts.useful_cols[j]].sum())
                values[m.shortfall[j]] = pwl_square(u, float(cuts.excess[j]))
            h.set_start(values)
            for _ in range(MAX_TIE_ROUNDS):
                run = h.solve(deadline.remaining(), exact=True)
                solves += 1
                seconds += run.seconds
                if run.values is None or run.status is not SolveStatus.OPTIMAL:
                    return values, solves, seconds, SolveStatus.OPTIMAL
                values = run.values
                if violated_cuts(values) == 0:
                    break
                h.set_start(values)
            add_violated_cuts = violated_cuts
            score = float(values[m.shortfall].sum())
            self._extra_rows.append(
                self._add_row(shortfall_cost, upper=score + max(1e-7, 1e-9 * score))
            )
        # Stage 3: fewest units sent, then earlier regions (a weight never worth a whole unit).
        n = len(data.regions)
        eps = 1.0 / (10.0 * n * (data.supply + 1.0))
        units_cost = np.zeros(h.num_cols)
        units_cost[m.x] = 1.0 + eps * np.arange(n)
        h.set_cost(units_cost, maximize=False)
        # Fewer units may move u_r where f_r has no cut yet: cut there too, as in stage 2; a
        # stage-3 point is taken only once no cut is violated (else the stage-2 point stays).
        settled = values
        for _ in range(MAX_TIE_ROUNDS):
            h.set_start(values)
            run = h.solve(deadline.remaining(), exact=True)
            solves += 1
            seconds += run.seconds
            if run.values is None or run.status is not SolveStatus.OPTIMAL:
                break
            values = run.values
            if add_violated_cuts is None or add_violated_cuts(values) == 0:
                settled = values
                break
        return settled, solves, seconds, SolveStatus.OPTIMAL

    def _separable(self, objective: np.ndarray) -> SeparableTies | None:
        """The problem as optimiser/ties.py takes it, when every active family is a floor or an
        objective weight (None otherwise). Bounds are read from HiGHS: the sweeps change them."""
        active = [self._specs[label] for label in self._active]
        if any(
            REGISTRY[s.kind].role != "objective" and REGISTRY[s.kind].floors is None for s in active
        ):
            return None
        m, h = self.model, self.highs.highs
        x_lower, x_upper = _col_bounds(h, m.x)
        u_lower, u_upper = _col_bounds(h, m.u)
        if np.any(u_lower != 0.0):
            return None
        _, _, _, supply, _ = h.getRows(1, np.array([m.supply_row], dtype=np.int32))
        floors = [s for s in active if REGISTRY[s.kind].floors is not None]
        contested = np.zeros(len(self.data.regions), dtype=bool)
        contested[m.contested] = True
        return SeparableTies(
            lower=np.maximum(x_lower, floor_bounds(self.data, floors)),
            upper=x_upper,
            supply=float(supply[0]),
            tier_region=m.u_region,
            tier_bound=u_upper,
            tier_value=objective[m.u],
            excess=self.data.excess_demand,
            contested=contested,
        )

    def _add_row(self, cost: np.ndarray, lower: float = -math.inf, upper: float = math.inf) -> int:
        """Append lower <= cost . x <= upper (its nonzero entries, by column)."""
        cols = np.flatnonzero(cost)
        return self.highs.add_row_arrays(cols, cost[cols], lower, upper)

    # ---- checks and explanations
    def feasible(self, active: Sequence[ConstraintSpec]) -> bool:
        return self.solve(active, tie_break=False).status is not SolveStatus.INFEASIBLE

    def violations(self, units: np.ndarray, active: Sequence[ConstraintSpec]) -> list[str]:
        """Labels of the active constraints an allocation breaks (rules are checked with this)."""
        broken: list[str] = []
        m, h = self.model, self.highs
        fixed = np.asarray(units, dtype=float)
        h.set_cols_bounds(m.x, fixed, fixed)
        # supply is checked separately; here only the fairness families
        h.set_row_bounds(m.supply_row, -math.inf, math.inf, remember=False)
        try:
            for spec in active:
                if REGISTRY[spec.kind].role != "constraint":
                    continue
                self._activate([spec])
                self._drop_extra_rows()
                h.set_cost(m.lives, maximize=True)
                if h.solve(self._time_left()).status is SolveStatus.INFEASIBLE:
                    broken.append(spec.label)
        finally:
            h.set_rows_active(np.array([m.supply_row]), True)
            self._reset_x_bounds()
        return broken

    def _time_left(self) -> float | None:
        """The time limit of a solve within the engine's deadline (None: options.time_limit)."""
        return None if self.deadline is None else self.deadline.remaining()

    def _reset_x_bounds(self) -> None:
        x, p = self.model.x, self.model.program
        self.highs.set_cols_bounds(x, p.col_lower[x], p.col_upper[x])

    def minimal_conflict(self, active: Sequence[ConstraintSpec]) -> list[ConstraintSpec]:
        """A smallest-by-deletion subset of `active` that is still infeasible."""
        return minimal_conflict(self, active)

    def outcomes(self) -> list[Outcome]:
        """Every outcome solved so far (for the solver's totals)."""
        return list(self._outcomes.values())

    def forget(self) -> None:
        """Drop the outcomes remembered (after bounds were changed in HiGHS: the sweeps)."""
        self._outcomes.clear()

    def known_to_meet(self, spec: ConstraintSpec, solution: Optimum) -> bool:
        """Not known without a solve here: every price is solved for."""
        return False

    def units_needed(
        self, active: Sequence[ConstraintSpec], *, staff_caps: bool = True
    ) -> int | None:
        """Fewest units that satisfy `active` with unlimited supply (None: impossible)."""
        units = self.least_units(active, staff_caps=staff_caps)
        return None if units is None else int(units.sum())

    def least_units(
        self, active: Sequence[ConstraintSpec], *, staff_caps: bool = True
    ) -> np.ndarray | None:
        """An allocation with the fewest units satisfying `active`, supply unlimited."""
        m, h = self.model, self.highs
        self._activate(active)
        self._drop_extra_rows()
        h.set_row_bounds(m.supply_row, -math.inf, math.inf, remember=False)
        if not staff_caps:
            h.set_cols_bounds(m.x, np.zeros(len(m.x)), np.full(len(m.x), math.inf))
        units_cost = np.zeros(h.num_cols)
        units_cost[m.x] = 1.0
        h.set_cost(units_cost, maximize=False)
        try:
            run = h.solve(self._time_left())
        finally:
            h.set_rows_active(np.array([m.supply_row]), True)
            if not staff_caps:
                self._reset_x_bounds()
        self.least_units_status = run.status
        if run.values is None:
            return None
        return self.units_of(run.values)

    def explain_infeasible(self, active: Sequence[ConstraintSpec]) -> str:
        """Name the constraints and the numbers that conflict."""
        return explain_infeasible(self, active)

    def conflict_numbers(self, core: Sequence[ConstraintSpec]) -> str:
        """The numbers of an infeasible set `core`: what the floors need against the supply,
        the fewest units the set needs, or the staff caps it cannot be met within."""
        labels = " and ".join(c.label for c in core)
        supply = self.data.supply
        floors = [c for c in core if REGISTRY[c.kind].floors is not None]
        if floors and len(floors) == len(core):
            text = floor_conflict(self.data, floors, floor_bounds(self.data, floors))
            if text:
                return text
        least = self.units_needed(core)
        if least is not None:
            verb = "needs" if len(core) == 1 else "together need"
            return f"infeasible: {labels} {verb} at least {least:,} units, but supply is {supply:,}"
        uncapped = self.least_units(core, staff_caps=False)
        if uncapped is not None:
            over = [
                f"{r} would need {int(u):,} units but can staff {int(c):,}"
                for r, u, c in zip(self.data.regions, uncapped, self.data.staff_cap, strict=True)
                if u > c
            ]
            return (
                f"infeasible: {labels} cannot be met within the staff caps whatever the supply: "
                + "; ".join(over[:6])
                + (" ..." if len(over) > 6 else "")
            )
        if getattr(self, "least_units_status", None) is SolveStatus.TIME_LIMIT:
            return (
                f"infeasible: {labels} conflict (the time limit ran out before the units they "
                "need could be counted)"
            )
        return f"infeasible: {labels} contradict each other, whatever the supply and staff caps"


def _exact_outcome(problem: SeparableTies, data: RegionalData, lives_objective: bool) -> Outcome:
    """The Outcome of optimiser/ties.py: optimal with its tie-break (exact: its lives are their
    own bound when the objective is lives), or infeasible floors."""
    t0 = time.perf_counter()
    tied = tie_break_units(problem)
    if tied is None:
        return Outcome(SolveStatus.INFEASIBLE, None, None, None, None, time.perf_counter() - t0, 0)
    whole = tied.units.astype(np.int64)
    lives = float(data.lives(whole).sum())
    seconds = time.perf_counter() - t0
    bound = lives if lives_objective else None
    return Outcome(SolveStatus.OPTIMAL, whole, lives, tied.objective, 0.0, seconds, 0, bound)


def _col_bounds(highs: Any, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Current (lower, upper) bounds of `cols` in a highspy.Highs (asked in increasing order,
    as HiGHS requires)."""
    order = np.argsort(cols, kind="stable")
    _, _, _, lower, upper, _ = highs.getCols(len(cols), np.ascontiguousarray(cols[order], np.int32))
    out_lower, out_upper = np.empty(len(cols)), np.empty(len(cols))
    out_lower[order], out_upper[order] = lower, upper
    return out_lower, out_upper


INTEGRALITY_TOLERANCE = 1e-6  # a bound within this of a whole number is that number (as HiGHS)


def floor_bounds(data: RegionalData, specs: Sequence[ConstraintSpec]) -> np.ndarray:
    """Lower bounds of x_r: max over the floor constraints of min(floor_r, cap_r)."""
    lower = np.zeros(len(data.regions))
    for spec in specs:
        fn = REGISTRY[spec.kind].floors
        if fn is not None:
            lower = np.maximum(lower, np.minimum(fn(data, spec.options), data.staff_cap))
    return lower


def floor_conflict(
    data: RegionalData, floor_specs: Sequence[ConstraintSpec], lower: np.ndarray
) -> str:
    """The explanation when the floors alone exceed the supply ('' when they do not).
    Units are whole: a fractional floor (a fractional capacity) needs its next whole unit."""
    lower = np.ceil(np.asarray(lower, dtype=float) - INTEGRALITY_TOLERANCE)
    need = int(lower.sum())
    if need <= data.supply or not floor_specs:
        return ""
    labels = " and ".join(s.label for s in floor_specs)
    verb = "needs" if len(floor_specs) == 1 else "together need"
    return (
        f"infeasible: {labels} {verb} {need:,} units ({largest_needs(data.regions, lower)}), "
        f"but supply is {data.supply:,}"
    )


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
    check_time_limit(time_limit)
    budget = request_deadline(time_limit, deadline, t_start)
    check_policy(policy)
    check_seed(seed)
    if supply is not None:
        supply = validate_supply(supply, "supply")
        instance = instance.with_supply(supply)
    active = active_constraints(instance, constraints, default_constraints)
    engine = RegionalEngine(instance, active, SolverOptions(time_limit=budget.limit))
    # the solves leave time for the result's assembly (it grows with the instance, as building)
    runs = engine.deadline = budget.reserved(FINISH_FACTOR * engine.build_seconds)
    data = engine.data
    baseline = engine.solve([], tie_break=tie_break, time_limit=runs.remaining())
    lives_star = baseline.lives
    timings = {"build": engine.build_seconds, "translate": engine.translate_seconds}
    violations: tuple[str, ...] = ()
    explanation = None
    if policy == "optimal":
        main = (
            engine.solve(active, tie_break=tie_break, time_limit=runs.remaining())
            if active
            else baseline
        )
        status: SolveStatus | str = main.status
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
        price = _rule_price(policy, lives, baseline)
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


def _rule_price(policy: str, lives: float | None, star: Outcome) -> pd.DataFrame:
    lost = None if lives is None or star.lives is None else star.lives - lives
    interval = price_interval(star, lives, lives)
    doc = POLICIES[policy].doc
    return price_frame([price_row(f"policy:{policy}", lives, lost, interval, lost, interval, doc)])


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
        instance = instance.with_supply(validate_supply(supply, "supply"))
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
        broken.insert(0, f"supply: sends {int(units.sum()):,} units, supply is {data.supply:,}")
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
        price_of_fairness=price_frame(
            [
                price_row(
                    f"policy:{source}",
                    lives,
                    lost,
                    price_interval(baseline, lives, lives),
                    lost,
                    price_interval(baseline, lives, lives),
                    "allocation given",
                )
            ]
        ),
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
    check_time_limit(time_limit)
    budget = deadline if deadline is not None else Deadline(time_limit)
    check_seed(seed)
    if supply is not None:
        instance = instance.with_supply(validate_supply(supply, "supply"))
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
