"""Solving the variants of a sweep: the fast path (one built model, changed in place) and the
rebuild path (optimiser.solve on the modified instance: the reference, and the fallback).

Fast path. The regional model of the instance is built once per worker (RegionalEngine, with
only the fairness families that need rows). A variant then changes numbers in HiGHS:

    supply S                   -> upper bound of the supply row
    floor constraints          -> lower bounds of the x_r columns: max_k min(floor_k,r, cap_r),
                                  each floor_k computed by the registry's `floors(data, params)`
    staff_cap                  -> upper bounds of x_r
    peak_demand, capacity      -> E_r -> upper bounds of the useful-unit columns u_rk (and floors)
    survival, los, horizon     -> lives coefficients g_rk t_r of u_rk in the objective
    prioritarian weights       -> objective coefficients a_r g_rk t_r

A floor row x_r >= f_r and a column bound x_r >= f_r define the same feasible set, so every
variant solves exactly the model `optimiser.solve` would build for the modified instance.
Families that need rows (max_coverage_gap, threshold, ...) are built into the model; when a
variant changes an input such a family depends on (the inputs its kind declares,
models/fairness/<kind>.py), the worker builds a model for that input (models are keyed by
those inputs, so variants sharing them share a model). The supply row and the big-M / lambda
bounds of those families are built with the largest supply of the sweep, which is valid for
every smaller supply; a family whose rows depend on the supply itself (it declares `supply`)
gets a model per supply. A constraint kind that declares no inputs falls back to the rebuild
path, as does any variant whose fast solve raises.

Greedy path. A lives-only variant (no tie-break, no family built as rows, no objective weights:
only floors, if any) is a separable concave integer knapsack: x_r >= floor_r are lower bounds
and each region's lives are concave in x_r (best tiers fill first), so giving each remaining
unit to the largest marginal lives is exact (docs/model.md). `solve_greedy` does that in numpy
without calling HiGHS (`path = greedy` in the output); `SweepPlan.greedy = False` (--no-greedy)
sends every variant to HiGHS. tests/test_sweep.py checks it against HiGHS on random variants.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from models.regional import RegionalData
from optimiser.deadline import Deadline
from optimiser.engine import (
    INTEGRALITY_TOLERANCE,
    RegionalEngine,
    coverage,
    floor_bounds,
    floor_conflict,
    regional_data,
)
from optimiser.instance import Instance
from optimiser.results import PRICE_PRECISION
from optimiser.solver import SolverOptions, SolveStatus
from optimiser.sweeps.spec import (
    Dimension,
    VariantError,
    apply_data,
    apply_variant,
    variant_constraints,
)

MODELS_PER_WORKER = 2  # built models kept per worker (least recently used dropped)
MAX_EXTRA_ROWS = 4000  # tie-break cuts left behind in a model before it is rebuilt


def kind_family(name: str) -> str:
    """'floor' (column bounds), 'objective' (costs), 'rows' (built into the model)."""
    kind = REGISTRY[name]
    if kind.role == "objective":
        return "objective"
    if kind.floors is not None:
        return "floor"
    return "rows"


def family(spec: ConstraintSpec) -> str:
    return kind_family(spec.kind)


@dataclass(frozen=True)
class SweepPlan:
    """Everything a worker needs to solve any variant of a sweep (picklable)."""

    instance: Instance
    constraints: tuple[ConstraintSpec, ...]
    dims: tuple[Dimension, ...]
    price_of_fairness: bool = False
    tie_break: bool = False
    time_limit: float | None = None
    mode: str = "fast"  # "fast" | "rebuild"
    supply_max: int = 0
    key: str = ""  # spec hash: names this sweep in worker caches
    greedy: bool = True  # lives-only variants with floors at most: exact greedy, no HiGHS

    def supply_of(self, values: Mapping[str, Any]) -> int:
        for d in self.dims:
            if d.target == "supply":
                return int(values[d.name])
        return int(self.instance.supply)

    def data_key(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple((d.name, float(values[d.name])) for d in self.dims if d.changes_data)

    def uses_greedy(self, specs: Sequence[ConstraintSpec]) -> bool:
        """Is the exact greedy valid for a variant with these constraints? Lives only: no
        tie-break, and every active constraint a floor (lower bounds of x_r)."""
        return (
            self.greedy
            and self.mode == "fast"
            and not self.tie_break
            and all(family(s) == "floor" for s in specs)
        )

    def model_key(
        self, values: Mapping[str, Any], specs: Sequence[ConstraintSpec]
    ) -> tuple[Any, ...] | None:
        """Variants with equal keys share a built model; None: this variant is rebuilt."""
        if self.mode == "rebuild":
            return None
        rows = [s for s in specs if family(s) == "rows"]
        if self.tie_break:  # the tie-break stages read the engine's data: key on all of it
            objectives = [s for s in specs if family(s) == "objective"]
            supply = (self.supply_of(values),) if self.supply_bound(specs) else ()
            return (tuple(s.label for s in rows + objectives), self.data_key(values), *supply)
        declared = [REGISTRY[s.kind].inputs_of(s.options) for s in rows]
        if any(inputs is None for inputs in declared):
            return None
        deps = frozenset().union(*declared)  # type: ignore[arg-type]
        inputs = tuple(
            (d.name, float(values[d.name]))
            for d in self.dims
            if (d.changes_data or d.target == "supply") and (d.column in deps or d.target in deps)
        )
        return (tuple(s.label for s in rows), inputs)

    @staticmethod
    def supply_bound(specs: Sequence[ConstraintSpec]) -> bool:
        """Do the rows of a family depend on the supply itself (not only through bounds that
        stay valid for a smaller supply)?"""
        return any(
            family(s) == "rows" and "supply" in (REGISTRY[s.kind].inputs_of(s.options) or ())
            for s in specs
        )

    def built_supply(self, values: Mapping[str, Any], specs: Sequence[ConstraintSpec]) -> int:
        """The supply a variant's model is built with: the sweep's largest (valid for every
        smaller supply: big-M and lambda bounds only loosen), or the variant's own when a
        family's rows depend on the supply itself (the model is then keyed by it)."""
        return self.supply_of(values) if self.supply_bound(specs) else self.supply_max


@dataclass
class VariantOutcome:
    status: str
    lives: float | None = None
    lives_optimal: float | None = None
    units: np.ndarray | None = None
    data: RegionalData | None = None
    seconds: float = 0.0
    path: str = "fast"
    reason: str = ""
    constraints: tuple[str, ...] = ()
    region_lives: np.ndarray | None = None
    # proven upper bounds (the solver's dual bounds; the lives themselves when exact) on the
    # lives of any allocation under the variant's constraints, and without them (L*): the
    # price's interval (optimiser.sweeps.prices). None: not a lives objective, or unknown.
    lives_bound: float | None = None
    lives_optimal_bound: float | None = None


# ---------------------------------------------------------------------------------------------
# The fast model


class FastModel:
    """One built regional model, re-solved for many variants by changing numbers in HiGHS."""

    def __init__(
        self,
        instance: Instance,
        specs: Sequence[ConstraintSpec],
        supply_max: int,
        *,
        tie_break: bool,
        options: SolverOptions | None = None,
    ) -> None:
        self.tie_break = tie_break
        self.row_specs = tuple(s for s in specs if family(s) == "rows")
        self.objective_specs = tuple(s for s in specs if family(s) == "objective")
        candidates = self.row_specs + (self.objective_specs if tie_break else ())
        self.engine = RegionalEngine(
            instance, candidates, options or SolverOptions(), supply=supply_max
        )
        m, h = self.engine.model, self.engine.highs
        self.highs = h
        self.x_cols = m.x
        self.u_cols = m.u
        self.u_region = m.u_region
        self.u_tier = m.u_tier
        if m.program.row_upper[m.supply_row] != float(supply_max):
            raise RuntimeError("unexpected form of the supply row")  # use rebuild
        self.supply_row = m.supply_row
        self.blocks = [m.fairness[s.label] for s in self.row_specs]
        self.base_rows = h.num_rows
        self.n_cols = h.num_cols
        self._rows_on = False
        self._set_rows(True)
        self._last_tiers: tuple[Any, Any, np.ndarray, np.ndarray] | None = None
        self._last_units: np.ndarray | None = None
        self._last_lives: np.ndarray | None = None
        self._last_status = SolveStatus.ERROR

    def _set_rows(self, on: bool) -> None:
        if on != self._rows_on:
            for rows in self.blocks:
                self.highs.set_rows_active(rows, on)
            self._rows_on = on

    @property
    def worn(self) -> bool:
        """Too many rows left behind by tie-break stages: rebuild."""
        return self.highs.num_rows - self.base_rows > MAX_EXTRA_ROWS

    # ---- numbers of a variant
    def _tier_numbers(self, data: RegionalData) -> tuple[np.ndarray, np.ndarray]:
        """(lives per useful unit g_rk t_r, useful-unit bound s_k E_r) in column order; cached
        while the variant's tiers and turnover are the same objects (supply-only changes)."""
        last = self._last_tiers
        if last is not None and last[0] is data.tiers and last[1] is data.turnover:
            return last[2], last[3]
        if len(self.u_cols) == len(
            data.regions
        ):  # one tier per region: (E_r, g_r), as regional_data makes it
            per_unit = np.asarray(data.gain, dtype=float) * data.turnover
            bounds = np.asarray(data.excess_demand, dtype=float)
        else:
            pairs = [data.tiers[i][k] for i, k in zip(self.u_region, self.u_tier, strict=True)]
            per_unit = np.array([g for _, g in pairs], dtype=float) * data.turnover[self.u_region]
            bounds = np.array([b for b, _ in pairs], dtype=float)
        self._last_tiers = (data.tiers, data.turnover, per_unit, bounds)
        return per_unit, bounds

    def _costs(self, data: RegionalData, weights: np.ndarray | None) -> np.ndarray:
        per_unit, _ = self._tier_numbers(data)
        if weights is not None:
            per_unit = per_unit * weights[self.u_region]
        cost = np.zeros(self.n_cols)
        cost[self.u_cols] = per_unit
        return cost

    def _useful_bounds(self, data: RegionalData) -> np.ndarray:
        return self._tier_numbers(data)[1]

    def _floors(self, data: RegionalData, specs: Sequence[ConstraintSpec]) -> np.ndarray:
        return floor_bounds(data, specs)

    def _weights(self, data: RegionalData, specs: Sequence[ConstraintSpec]) -> np.ndarray | None:
        weights = None
        for spec in specs:
            fn = REGISTRY[spec.kind].weights
            if REGISTRY[spec.kind].role == "objective" and fn is not None:
                a = fn(data, spec.options)
                weights = a if weights is None else weights * a
        return weights

    def _load(self, data: RegionalData, lower: np.ndarray, supply: int) -> None:
        h = self.highs
        h.set_cols_bounds(self.x_cols, lower, data.staff_cap)
        h.set_cols_bounds(self.u_cols, np.zeros(len(self.u_cols)), self._useful_bounds(data))
        h.set_row_bounds(self.supply_row, -math.inf, float(supply))

    # ---- solving
    def solve(
        self,
        data: RegionalData,
        specs: Sequence[ConstraintSpec],
        *,
        deadline: Deadline | None = None,
        lives_star: tuple[float | None, float | None] | None = None,
        want_star: bool = False,
    ) -> VariantOutcome:
        """Most expected survivors of one variant (`data` carries its supply), every solve
        within the variant's `deadline`: the variant's own optimum first, then L* (`lives_star`:
        L* and its bound when known already)."""
        deadline = deadline or Deadline(None)
        if self.tie_break:
            return self._solve_tie_break(
                data, specs, deadline=deadline, want_star=want_star, lives_star=lives_star
            )
        floor_specs = [s for s in specs if family(s) == "floor"]
        weights = self._weights(data, specs)
        lower = self._floors(data, floor_specs)
        fair = bool(self.row_specs) or weights is not None or bool(lower.any())
        main = self._lives_only(data, lower, weights, rows=fair, time_limit=deadline.remaining())
        out = VariantOutcome(
            str(main.status),
            main.lives,
            None,
            self._last_units,
            data,
            main.seconds,
            region_lives=self._last_lives,
            lives_bound=main.bound,
        )
        if want_star and lives_star is None and not fair:
            lives_star = (main.lives, main.bound)
        elif want_star and lives_star is None:
            star = self._lives_only(
                data, np.zeros(len(lower)), None, rows=False, time_limit=deadline.remaining()
            )
            out.seconds += star.seconds
            lives_star = (star.lives, star.bound)
        if lives_star is not None:
            out.lives_optimal, out.lives_optimal_bound = lives_star
        if main.status is SolveStatus.INFEASIBLE:
            out.reason = self._floor_conflict(data, floor_specs, lower)
        return out

    def _lives_only(
        self,
        data: RegionalData,
        lower: np.ndarray,
        weights: np.ndarray | None,
        *,
        rows: bool,
        time_limit: float | None,
    ) -> _Run:
        """One HiGHS solve; its allocation's units and lives are kept in _last_units and
        _last_lives. The bound holds the lives only when the objective is lives (no weights)."""
        self._set_rows(rows)
        self._load(data, lower, data.supply)
        self.highs.set_cost(self._costs(data, weights), maximize=True)
        run = self.highs.solve(time_limit)
        self._last_status = run.status
        if run.values is None:
            self._last_units = self._last_lives = None
            return _Run(run.status, None, None, run.seconds)
        units = np.rint(run.values[self.x_cols]).astype(np.int64)
        self._last_units = units
        self._last_lives = self._lives(data, units)
        lives = float(self._last_lives.sum())
        bound = None if weights is not None or run.bound is None else max(run.bound, lives)
        return _Run(run.status, lives, bound, run.seconds)

    def _lives(self, data: RegionalData, units: np.ndarray) -> np.ndarray:
        """data.lives(units), vectorised when every region has one tier (the same arithmetic:
        g_r t_r * min(x_r, E_r)); with tiers, data.lives itself."""
        if len(self.u_cols) != len(data.regions):
            return data.lives(units)
        per_unit, _ = self._tier_numbers(data)
        return per_unit * np.minimum(units.astype(float), data.excess_demand)

    def _floor_conflict(
        self, data: RegionalData, floor_specs: Sequence[ConstraintSpec], lower: np.ndarray
    ) -> str:
        return floor_conflict(data, floor_specs, lower)

    def _solve_tie_break(
        self,
        data: RegionalData,
        specs: Sequence[ConstraintSpec],
        *,
        deadline: Deadline,
        want_star: bool,
        lives_star: tuple[float | None, float | None] | None,
    ) -> VariantOutcome:
        engine = self.engine
        floor_specs = [s for s in specs if family(s) == "floor"]
        active = [s for s in specs if family(s) != "floor"]
        lower = self._floors(data, floor_specs)
        self._load(data, lower, data.supply)
        engine.forget()  # outcomes cached by constraint labels are stale once bounds change
        engine.deadline = deadline  # this variant's budget, for every solve of the engine
        main = engine.solve(active, tie_break=True, time_limit=deadline.remaining())
        seconds = main.seconds
        if want_star and lives_star is None:
            if active or lower.any():
                self._load(data, np.zeros(len(lower)), data.supply)
                engine.forget()
                star = engine.solve([], tie_break=False, time_limit=deadline.remaining())
                seconds += star.seconds
                lives_star = (star.lives, star.lives_bound)
            else:
                lives_star = (main.lives, main.lives_bound)
        out = VariantOutcome(
            str(main.status), main.lives, None, main.units, data, seconds,
            lives_bound=main.lives_bound,
        )
        if lives_star is not None:
            out.lives_optimal, out.lives_optimal_bound = lives_star
        if main.status is SolveStatus.INFEASIBLE:
            out.reason = self._floor_conflict(data, floor_specs, lower)
        return out


@dataclass(frozen=True)
class _Run:
    """One lives-only HiGHS solve of a variant (FastModel._lives_only)."""

    status: SolveStatus
    lives: float | None
    bound: float | None
    seconds: float


# ---------------------------------------------------------------------------------------------
# The greedy path (exact for lives-only variants whose constraints are all floors)


def _unit_blocks(
    data: RegionalData, lower: np.ndarray, one_tier: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The units a region may get beyond its floor, as blocks (region, lives per unit, units)
    of equal marginal lives; within a region the blocks' lives per unit never increase.

    Lives of x units in region r: F_r(x) = sum_k v_rk * clip(x - B_r,k-1, 0, b_rk), tiers by
    v_rk = g_rk t_r descending, B cumulative bounds: concave and piecewise linear, so the
    marginal lives of unit j, F_r(j) - F_r(j - 1), is constant between the whole numbers next
    to the tier boundaries. Units beyond the last positive-value tier save no one: not offered.
    """
    cap = data.staff_cap
    if one_tier:
        value = np.asarray(data.gain, dtype=float) * data.turnover
        excess = np.asarray(data.excess_demand, dtype=float)
        whole = np.floor(excess + INTEGRALITY_TOLERANCE)
        frac = excess - whole
        frac = np.where(frac > INTEGRALITY_TOLERANCE, frac, 0.0)
        n_full = np.maximum(0.0, np.minimum(whole, cap) - lower)
        part = (frac > 0) & (whole + 1 <= cap) & (whole + 1 > lower)
        positive = value > 0
        full_rows = np.flatnonzero(positive & (n_full > 0))
        part_rows = np.flatnonzero(positive & part)
        regions = np.concatenate([full_rows, part_rows])
        gains = np.concatenate([value[full_rows], value[part_rows] * frac[part_rows]])
        counts = np.concatenate([n_full[full_rows], np.ones(len(part_rows))])
        return regions, gains, counts
    regions_l: list[int] = []
    gains_l: list[float] = []
    counts_l: list[float] = []
    for i, tiers in enumerate(data.tiers):
        turnover = float(data.turnover[i])
        pieces = sorted(
            ((g * turnover, b) for b, g in tiers if b > 0 and g * turnover > 0),
            key=lambda t: -t[0],
        )
        if not pieces:
            continue
        bounds = np.cumsum([b for _, b in pieces])
        values = [v for v, _ in pieces]

        def lives(x: float, values: list[float] = values, bounds: np.ndarray = bounds) -> float:
            total, start = 0.0, 0.0
            for v, end in zip(values, bounds, strict=True):
                total += v * min(max(x - start, 0.0), end - start)
                start = end
            return total

        top = min(float(cap[i]), math.ceil(float(bounds[-1]) - INTEGRALITY_TOLERANCE))
        low = float(lower[i])
        if top <= low:
            continue
        points = {low, top}
        for end in bounds:
            for p in (
                math.floor(end + INTEGRALITY_TOLERANCE),
                math.ceil(end - INTEGRALITY_TOLERANCE),
            ):
                if low < p < top:
                    points.add(float(p))
        ordered = sorted(points)
        for a, b in itertools.pairwise(ordered):
            gain = lives(a + 1) - lives(a)
            if gain > 0:
                regions_l.append(i)
                gains_l.append(gain)
                counts_l.append(b - a)
    return (
        np.array(regions_l, dtype=np.int64),
        np.array(gains_l, dtype=float),
        np.array(counts_l, dtype=float),
    )


def greedy_units(data: RegionalData, lower: np.ndarray, *, one_tier: bool) -> np.ndarray | None:
    """The lives-maximising whole units with x_r in [lower_r, cap_r] and sum x_r <= supply
    (None: the floors alone exceed the supply). Exact: lives are separable and concave in x_r."""
    floors = np.ceil(np.asarray(lower, dtype=float) - INTEGRALITY_TOLERANCE)
    left = float(data.supply) - float(floors.sum())
    if left < -INTEGRALITY_TOLERANCE:
        return None
    regions, gains, counts = _unit_blocks(data, floors, one_tier)
    order = np.argsort(-gains, kind="stable")
    counts = counts[order]
    before = np.cumsum(counts) - counts
    take = np.clip(left - before, 0.0, counts)
    extra = np.bincount(regions[order], weights=take, minlength=len(data.regions))
    return np.rint(floors + extra).astype(np.int64)


def region_lives(data: RegionalData, units: np.ndarray, one_tier: bool) -> np.ndarray:
    """Lives per region: g_r t_r * min(x_r, E_r) with one tier (FastModel's arithmetic), else
    data.lives."""
    if not one_tier:
        return data.lives(units)
    per_unit = np.asarray(data.gain, dtype=float) * data.turnover
    return per_unit * np.minimum(units.astype(float), data.excess_demand)


def solve_greedy(
    plan: SweepPlan,
    data: RegionalData,
    specs: Sequence[ConstraintSpec],
    *,
    want_star: bool,
    lives_star: tuple[float | None, float | None] | None,
) -> VariantOutcome:
    """One variant by the exact greedy (plan.uses_greedy(specs) must hold): exact, so its
    lives are their own bound."""
    t0 = time.perf_counter()
    one_tier = plan.instance.tiers is None
    lower = floor_bounds(data, specs)
    units = greedy_units(data, lower, one_tier=one_tier)
    if want_star and lives_star is None:
        star = (
            units
            if not lower.any()
            else greedy_units(data, np.zeros(len(lower)), one_tier=one_tier)
        )
        assert star is not None
        lives = float(region_lives(data, star, one_tier).sum())
        lives_star = (lives, lives)
    if units is None:
        out = VariantOutcome(
            str(SolveStatus.INFEASIBLE),
            data=data,
            path="greedy",
            reason=floor_conflict(data, specs, lower),
        )
    else:
        lives_r = region_lives(data, units, one_tier)
        out = VariantOutcome(
            str(SolveStatus.OPTIMAL),
            float(lives_r.sum()),
            None,
            units,
            data,
            path="greedy",
            region_lives=lives_r,
            lives_bound=float(lives_r.sum()),
        )
    if lives_star is not None:
        out.lives_optimal, out.lives_optimal_bound = lives_star
    out.seconds = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------------------------
# Worker side: caches and the chunk function


@dataclass
class _WorkerCache:
    models: OrderedDict[tuple[Any, ...], FastModel] = field(default_factory=OrderedDict)
    data: OrderedDict[tuple[Any, ...], RegionalData] = field(default_factory=OrderedDict)
    numeric: OrderedDict[str, NumericBase] = field(default_factory=OrderedDict)
    # L* and its proven bound, by variant data and supply
    lives_star: OrderedDict[tuple[Any, ...], tuple[float | None, float | None]] = field(
        default_factory=OrderedDict
    )


_LOCAL = threading.local()  # Dask workers run tasks in threads: one cache (and HiGHS) per thread


def _cache() -> _WorkerCache:
    cache = getattr(_LOCAL, "cache", None)
    if cache is None:
        cache = _LOCAL.cache = _WorkerCache()
    return cache


def _remember(store: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > size:
        store.popitem(last=False)


def clear_worker_cache() -> None:
    _LOCAL.cache = _WorkerCache()


class NumericBase:
    """The instance's raw columns as arrays, to apply column changes without pandas.

    `data(dims, values)` mirrors apply_data + regional_data (optimiser.engine) operation for
    operation, so the numbers are identical; it returns None (use the full path) for
    instances with tiers and for any variant with an invalid value (the full path then raises
    the precise VariantError). tests/test_sweep_numeric.py checks it against the full path.
    """

    CHECKS: ClassVar[dict[str, Callable[[np.ndarray], np.ndarray]]] = {
        "population": lambda v: v > 0,
        "capacity": lambda v: v >= 0,
        "peak_demand": lambda v: v >= 0,
        "survival_with": lambda v: (v >= 0) & (v <= 1),
        "survival_without": lambda v: (v >= 0) & (v <= 1),
        "los_days": lambda v: np.isnan(v) | (v > 0),
        "staff_cap": lambda v: np.isnan(v) | ((v >= 0) & (v == np.floor(v))),
        "pressure": lambda v: (v > 0) & (v <= 1),
        "weight": lambda v: v >= 0,
    }

    def __init__(self, instance: Instance) -> None:
        regions = instance.regions
        self.ids = [str(r) for r in regions.index]
        self.position = {r: i for i, r in enumerate(self.ids)}
        self.columns = {c: regions[c].to_numpy(dtype=float) for c in self.CHECKS}
        self.horizon_days = instance.horizon_days
        self.usable = instance.tiers is None

    def data(
        self, dims: Sequence[Dimension], values: Mapping[str, Any], supply: int
    ) -> RegionalData | None:
        if not self.usable:
            return None
        cols = dict(self.columns)
        horizon_days = self.horizon_days
        for d in dims:
            if not d.changes_data:
                continue
            value = float(values[d.name])
            if d.target == "horizon_days":
                horizon_days = value
                continue
            assert d.column is not None
            column = cols[d.column].copy()
            rows = slice(None) if d.regions is None else [self.position[r] for r in d.regions]
            column[rows] = column[rows] * value if d.scale else value
            if d.column == "staff_cap":
                column = np.where(np.isnan(column), np.nan, np.floor(column + 1e-9))
            if not self.CHECKS[d.column](column).all():
                return None
            cols[d.column] = column
        sw, swo = cols["survival_with"], cols["survival_without"]
        if (swo > sw).any():
            return None
        los = cols["los_days"]
        given = los[~np.isnan(los)]
        if horizon_days is not None:
            horizon = float(horizon_days)
        else:
            horizon = float(given.mean()) if len(given) else 1.0
        los_filled = np.where(np.isnan(los), horizon, los)
        excess = np.maximum(cols["peak_demand"] - cols["capacity"], 0.0)
        gain = sw - swo
        relative_los = los_filled / los_filled.mean()
        return RegionalData(
            regions=tuple(self.ids),
            population=cols["population"],
            capacity=cols["capacity"],
            peak_demand=cols["peak_demand"],
            excess_demand=excess,
            gain=gain,
            turnover=horizon / los_filled,
            staff_cap=np.where(np.isnan(cols["staff_cap"]), math.inf, cols["staff_cap"]),
            weight=cols["weight"],
            rai=excess * sw / (relative_los * cols["pressure"]),
            supply=int(supply),
            tiers=tuple((pair,) for pair in zip(excess.tolist(), gain.tolist(), strict=True)),
        )


def variant_data(plan: SweepPlan, values: Mapping[str, Any]) -> RegionalData:
    """The variant's model numbers (with its supply), cached by its data inputs."""
    cache = _cache()
    supply = plan.supply_of(values)
    key = (plan.key, plan.data_key(values))
    data = cache.data.get(key)
    if data is None:
        base = cache.numeric.get(plan.key)
        if base is None:
            base = NumericBase(plan.instance)
            _remember(cache.numeric, plan.key, base, 2)
        data = (
            base.data(plan.dims, values, supply)
            if plan.data_key(values)
            else regional_data(plan.instance)
        )
        if (
            data is None
        ):  # tiers, or an invalid value: the full path (raises VariantError if invalid)
            data = regional_data(apply_data(plan.instance, plan.dims, values))
        _remember(cache.data, key, data, 4)
    return data if data.supply == supply else replace(data, supply=supply)


def _model(
    plan: SweepPlan,
    key: tuple[Any, ...],
    values: Mapping[str, Any],
    specs: Sequence[ConstraintSpec],
) -> FastModel:
    cache = _cache()
    full = (plan.key, key)
    model = cache.models.get(full)
    if model is None or model.worn:
        model = FastModel(
            apply_data(plan.instance, plan.dims, values),
            specs,
            plan.built_supply(values, specs),
            tie_break=plan.tie_break,
            options=SolverOptions(time_limit=plan.time_limit),
        )
    _remember(cache.models, full, model, MODELS_PER_WORKER)
    return model


def solve_fast(
    plan: SweepPlan, values: Mapping[str, Any], deadline: Deadline | None = None
) -> VariantOutcome:
    """One variant on the fast path (falls back to rebuilding when it cannot express it).
    `deadline`: the variant's budget (default: plan.time_limit from now), building its model,
    every solve and the explanation of an infeasible variant included."""
    deadline = deadline or Deadline(plan.time_limit)
    specs = variant_constraints(plan.constraints, plan.dims, values)
    key = plan.model_key(values, specs)
    if key is None:
        return solve_rebuild(plan, values, deadline)
    data = variant_data(plan, values)
    cache = _cache()
    star_key = (plan.key, plan.data_key(values), data.supply)
    lives_star = cache.lives_star.get(star_key) if plan.price_of_fairness else None
    if plan.uses_greedy(specs):
        out = solve_greedy(
            plan, data, specs, want_star=plan.price_of_fairness, lives_star=lives_star
        )
    else:
        model = _model(plan, key, values, specs)
        try:
            out = model.solve(
                data,
                specs,
                deadline=deadline,
                lives_star=lives_star,
                want_star=plan.price_of_fairness,
            )
        except Exception:
            cache.models.pop((plan.key, key), None)  # a model in an unknown state: not reused
            raise
    if (
        plan.price_of_fairness
        and out.lives_optimal is not None
        and out.lives_optimal_bound is not None
        and out.lives_optimal_bound - out.lives_optimal <= PRICE_PRECISION / 2 + 1e-9
    ):  # only a proved L* serves later variants (one cut short by its budget would not)
        _remember(cache.lives_star, star_key, (out.lives_optimal, out.lives_optimal_bound), 4096)
    out.constraints = tuple(s.label for s in specs)
    if out.status == str(SolveStatus.INFEASIBLE) and not out.reason:
        variant, _ = apply_variant(plan.instance, plan.constraints, plan.dims, values)
        explainer = RegionalEngine(variant, specs, deadline=deadline)
        out.reason = explainer.explain_infeasible(specs)
    return out


def solve_rebuild(
    plan: SweepPlan, values: Mapping[str, Any], deadline: Deadline | None = None
) -> VariantOutcome:
    """One variant through optimiser.solve on the modified instance: the model built anew,
    within the variant's `deadline` (default: plan.time_limit from now)."""
    from optimiser.engine import solve

    deadline = deadline or Deadline(plan.time_limit)
    variant, specs = apply_variant(plan.instance, plan.constraints, plan.dims, values)
    t0 = time.perf_counter()
    result = solve(
        variant,
        constraints=specs,
        default_constraints=False,
        price_of_fairness=False,
        tie_break=plan.tie_break,
        deadline=deadline,
    )
    units = (
        None if "units" not in result.regions else result.regions["units"].to_numpy(dtype=np.int64)
    )
    out = VariantOutcome(
        str(result.status),
        result.lives_saved,
        result.lives_optimal if plan.price_of_fairness else None,
        units,
        regional_data(variant),
        time.perf_counter() - t0,
        path="rebuild",
        reason=result.explanation or "",
        constraints=tuple(s.label for s in specs),
        lives_bound=result.lives_saved_bound,
        lives_optimal_bound=result.lives_optimal_bound if plan.price_of_fairness else None,
    )
    return out


REGION_COLUMNS = ["variant", "region", "units", "lives", "coverage_before", "coverage"]


def run_chunk(
    plan: SweepPlan, chunk: int, variant_ids: Sequence[int], rows: Sequence[Mapping[str, Any]]
) -> tuple[int, pd.DataFrame, pd.DataFrame]:
    """Solve a chunk of variants; every variant gets a row, a failed one with its reason."""
    records: list[dict[str, Any]] = []
    solved: list[tuple[int, VariantOutcome]] = []
    for vid, values in zip(variant_ids, rows, strict=True):
        deadline = Deadline(plan.time_limit)  # the variant's budget: all of its work
        try:
            if plan.mode == "rebuild":
                out = solve_rebuild(plan, values, deadline)
            else:
                try:
                    out = solve_fast(plan, values, deadline)
                except VariantError:
                    raise
                except Exception as exc:  # the fast path failed: rebuild this variant
                    out = solve_rebuild(plan, values, deadline)
                    out.reason = f"fast path failed ({type(exc).__name__}: {exc}); rebuilt"
        except VariantError as exc:
            out = VariantOutcome("failed", reason=str(exc), path=plan.mode)
        except Exception as exc:
            out = VariantOutcome("failed", reason=f"{type(exc).__name__}: {exc}", path=plan.mode)
        records.append(_record(plan, vid, values, out))
        if out.units is not None and out.data is not None:
            solved.append((int(vid), out))
    return chunk, variant_frame(records), _regions(solved) if solved else empty_regions(plan)


UNIT_COLUMNS = ("units_sent", "unallocated")  # nullable whole numbers: NA without an allocation


def variant_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The variant rows as a table: units columns as nullable Int64 (NA, never a -1)."""
    frame = pd.DataFrame(list(records))
    for col in UNIT_COLUMNS:
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    if "price_of_fairness_exact" in frame:  # nullable: NA without a price
        frame["price_of_fairness_exact"] = frame["price_of_fairness_exact"].astype("boolean")
    return frame


def empty_regions(plan: SweepPlan) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": pd.Series(dtype=np.int64),
            "region": pd.Categorical([], categories=plan.instance.region_ids),
            "units": pd.Series(dtype=np.int64),
            "lives": pd.Series(dtype=float),
            "coverage_before": pd.Series(dtype=float),
            "coverage": pd.Series(dtype=float),
        }
    )


@functools.lru_cache(maxsize=8)
def _region_dtype(names: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(categories=list(names))


def _regions(solved: Sequence[tuple[int, VariantOutcome]]) -> pd.DataFrame:
    """One row per variant and region (built once per chunk: a frame per variant is slow)."""
    vids, units, lives, before, after = [], [], [], [], []
    names = solved[0][1].data.regions if solved[0][1].data is not None else ()
    for vid, out in solved:
        data = out.data
        assert data is not None and out.units is not None and data.regions == names
        n = len(data.regions)
        vids.append(np.full(n, vid, dtype=np.int64))
        units.append(out.units.astype(np.int64))
        lives.append(out.region_lives if out.region_lives is not None else data.lives(out.units))
        before.append(coverage(data.capacity, data.peak_demand))
        after.append(coverage(data.capacity, data.peak_demand, out.units))
    return pd.DataFrame(
        {
            "variant": np.concatenate(vids),
            "region": pd.Categorical.from_codes(
                np.tile(np.arange(len(names)), len(solved)), dtype=_region_dtype(names)
            ),
            "units": np.concatenate(units),
            "lives": np.concatenate(lives),
            "coverage_before": np.concatenate(before),
            "coverage": np.concatenate(after),
        }
    )


def _record(
    plan: SweepPlan, vid: int, values: Mapping[str, Any], out: VariantOutcome
) -> dict[str, Any]:
    from optimiser.sweeps.prices import variant_price

    record: dict[str, Any] = {"variant": int(vid)}
    for d in plan.dims:
        record[d.name] = int(values[d.name]) if d.integer else float(values[d.name])
    supply = plan.supply_of(values)
    sent = None if out.units is None else int(out.units.sum())
    reason = out.reason
    if not reason and out.units is None and out.status == str(SolveStatus.TIME_LIMIT):
        reason = "time limit reached before HiGHS found any allocation"
    elif (
        not reason
        and out.units is None
        and out.status
        not in (
            str(SolveStatus.OPTIMAL),
            str(SolveStatus.INFEASIBLE),
        )
    ):
        reason = f"no allocation (solver status {out.status})"
    record.update(
        {
            "status": out.status,
            "lives_saved": np.nan if out.lives is None else float(out.lives),
            "lives_optimal": np.nan if out.lives_optimal is None else float(out.lives_optimal),
            **variant_price(out),
            "supply": supply,
            "units_sent": pd.NA if sent is None else sent,
            "unallocated": pd.NA if sent is None else supply - sent,
            "constraints": "; ".join(out.constraints),
            "path": out.path,
            "seconds": float(out.seconds),
            "reason": reason,
        }
    )
    return record
