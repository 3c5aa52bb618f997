"""The regional engine: the model for one instance, built once, re-solved for every set of
active constraints, with its tie-break, checks and the numbers behind an explanation.

Pipeline: Instance -> RegionalData (`regional_data`) -> build_regional (models/: arrays) ->
MatrixHighsModel (solver.py) -> `Outcome`. `RegionalEngine` implements the engine protocol
(optimiser/engine_protocol.py), where the price of fairness, conflicts and explanations are
written once for every engine. The entry points that turn outcomes into results (`solve`,
`evaluate`, `compare`) are in optimiser/engine.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.regional import (
    RegionalData,
    RegionalOptions,
    build_regional,
    pwl_square,
    weighted_lives,
)
from optimiser.deadline import Deadline
from optimiser.engine_protocol import Optimum, explain_infeasible, minimal_conflict
from optimiser.instance import Instance
from optimiser.regional_conflict import conflict_numbers, floor_bounds
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus
from optimiser.threshold_start import threshold_start
from optimiser.ties import SecantCuts, SeparableTies, tie_break_units

# Tolerances, declared once. LIVES_TOL: how far a tie-break may drift from the best lives value
# (relative, plus an absolute floor); it is far below one life.
LIVES_TOL_REL = 1e-7
LIVES_TOL_ABS = 1e-6
CUT_TOL = 1e-7
MAX_TIE_ROUNDS = 60
# Secant cuts placed up front on each side of a region's proportional share: valid anywhere
# (f_r is convex), and they spare most lazy rounds (pugh2021: 11 HiGHS runs -> 3).
TIE_CUT_WINDOW = 1
# A solve under a time limit looks for a feasible start (`_offer_start`) when at least this many
# seconds are left, and spends at most this share of them completing it.
START_MIN_SECONDS = 0.5
START_SHARE = 0.1


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
        self._offer_start(active, objective, deadline)
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

    def _offer_start(
        self, active: Sequence[ConstraintSpec], objective: np.ndarray, deadline: Deadline
    ) -> None:
        """Under a time limit, give HiGHS a good feasible start when the rules are one
        threshold (with floors or objective weights): optimiser/threshold_start.py, completed
        to every column by a run with x fixed (which checks it against the model's rows as
        they are now, sweeps' changes included). A run stopped at its deadline before finding
        better answers with it (solver.py, guarded runs)."""
        left = deadline.left()
        if left is None or left < START_MIN_SECONDS:
            return
        thresholds = [s for s in active if s.kind == "threshold"]
        floors = [s for s in active if REGISTRY[s.kind].floors is not None]
        others = [s for s in active if s.kind != "threshold" and s not in floors]
        if len(thresholds) != 1 or any(REGISTRY[s.kind].role != "objective" for s in others):
            return
        units = threshold_start(self.data, thresholds[0].options, floor_bounds(self.data, floors))
        if units is None:
            return
        m, h = self.model, self.highs
        lower, upper = _col_bounds(h.highs, m.x)
        if np.any(units < lower - 1e-9) or np.any(units > upper + 1e-9):
            return
        h.set_cols_bounds(m.x, units, units)
        try:
            run = h.solve(min(left, max(START_MIN_SECONDS, START_SHARE * left)))
        finally:
            h.set_cols_bounds(m.x, lower, upper)
        if run.values is not None:
            values = run.values.copy()
            values[m.x] = units  # whole, as HiGHS's start needs them
            h.set_start(values)

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
        self,
        active: Sequence[ConstraintSpec],
        *,
        staff_caps: bool = True,
        weights: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """An allocation with the fewest units satisfying `active`, supply unlimited (with
        `weights`, one per region: the least weighted sum of units)."""
        m, h = self.model, self.highs
        self._activate(active)
        self._drop_extra_rows()
        h.set_row_bounds(m.supply_row, -math.inf, math.inf, remember=False)
        if not staff_caps:
            h.set_cols_bounds(m.x, np.zeros(len(m.x)), np.full(len(m.x), math.inf))
        units_cost = np.zeros(h.num_cols)
        units_cost[m.x] = 1.0 if weights is None else weights
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
        """The numbers of an infeasible set `core` (optimiser/regional_conflict.py)."""
        return conflict_numbers(self, core)


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
