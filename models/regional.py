"""The single-period regional allocation model (docs/model.md).

Symbols: r a region, k a prognosis tier, x_r integer units sent, u_rk useful units serving tier
k, E_r excess demand, s_k share of tier k, g_rk gain (survival with - without), t_r turnover,
S supply, cap_r staff cap.

    maximise    L = sum_r sum_k g_rk t_r u_rk                    (expected extra survivors)
    subject to  sum_r x_r <= S                                    (supply)
                sum_k u_rk <= x_r                                 (useful units)
                0 <= u_rk <= s_k E_r,  0 <= x_r <= cap_r, x_r integer
                the active fairness families (models/fairness/)

The model is built as arrays (models/linear.py), one `add_*` per family, each keeping typed
handles (`m.x`, `m.u`, `m.supply_row`, ...) to its columns and rows; the fairness families add
theirs through the registry. Why arrays and not Pyomo: BENCHMARKS.md, "Regional engine at the
floor". tests/pyomo_regional.py states the same model in Pyomo, independently, and the tests
check that both give the same matrix, coefficient by coefficient.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.linear import INF, LinearModel, Program


@dataclass(frozen=True)
class DerivedNumbers:
    """The derived quantities of docs/model.md, one array entry per region in file order."""

    excess_demand: np.ndarray
    horizon: float
    los: np.ndarray
    turnover: np.ndarray
    gain: np.ndarray
    staff_cap: np.ndarray
    rai: np.ndarray

    @classmethod
    def of(cls, regions: Callable[[str], Any], horizon_days: float | None) -> DerivedNumbers:
        """From the regions table (`regions(column)`: that column, in region order)."""

        def column(name: str) -> np.ndarray:
            return np.asarray(regions(name), dtype=float)

        excess = np.maximum(column("peak_demand") - column("capacity"), 0.0)
        given = column("los_days")
        known = given[~np.isnan(given)]
        if horizon_days is not None:
            horizon = float(horizon_days)
        else:
            horizon = float(known.mean()) if len(known) else 1.0
        los = np.where(np.isnan(given), horizon, given)
        cap = column("staff_cap")
        relative_los = los / los.mean()
        arrays = {
            "excess_demand": excess,
            "los": los,
            "turnover": horizon / los,
            "gain": column("survival_with") - column("survival_without"),
            "staff_cap": np.where(np.isnan(cap), math.inf, cap),
            "rai": excess * column("survival_with") / (relative_los * column("pressure")),
        }
        for values in arrays.values():
            values.setflags(write=False)  # shared by every model of the instance
        return cls(horizon=horizon, **arrays)


@dataclass(frozen=True)
class RegionalData:
    """Numbers the model needs, one array entry per region, in `regions` order."""

    regions: tuple[str, ...]
    population: np.ndarray
    capacity: np.ndarray
    peak_demand: np.ndarray
    excess_demand: np.ndarray
    gain: np.ndarray
    turnover: np.ndarray
    staff_cap: np.ndarray  # inf: unlimited
    weight: np.ndarray
    rai: np.ndarray
    supply: int
    # tiers[i]: ((units_bound, gain), ...) per tier of region i; one tier when none are given
    tiers: tuple[tuple[tuple[float, float], ...], ...] = field(default_factory=tuple)

    @functools.cached_property
    def ranked_tiers(self) -> tuple[np.ndarray, np.ndarray]:
        """(units, gain) of each region's tiers, best gain first, as arrays [rank, region]
        (0, 0 where a region has fewer tiers)."""
        n = len(self.regions)
        sizes = np.fromiter((len(t) for t in self.tiers), dtype=np.int64, count=n)
        flat = np.array([t for tiers in self.tiers for t in tiers], dtype=float).reshape(-1, 2)
        region = np.repeat(np.arange(n), sizes)
        order = np.lexsort((np.arange(len(region)), -flat[:, 1], region))  # stable, best first
        rank = np.arange(len(region)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        depth = int(sizes.max()) if n else 0
        bound, gain = np.zeros((depth, n)), np.zeros((depth, n))
        bound[rank, region[order]] = flat[order, 0]
        gain[rank, region[order]] = flat[order, 1]
        return bound, gain

    @functools.cached_property
    def value(self) -> np.ndarray:
        """Lives per useful unit of the best tier: g_r t_r."""
        _, gain = self.ranked_tiers
        best = gain[0] if len(gain) else np.zeros(len(self.regions))
        return best * self.turnover

    def lives(self, units: np.ndarray) -> np.ndarray:
        """Expected extra survivors per region for an allocation (best tiers first)."""
        bound, gain = self.ranked_tiers
        left = np.minimum(np.asarray(units, dtype=float), self.excess_demand)
        out = np.zeros(len(self.regions))
        for k in range(len(bound)):
            used = np.minimum(left, bound[k])
            out = out + gain[k] * self.turnover * used
            left = left - used
        return out

    def useful(self, units: np.ndarray) -> np.ndarray:
        return np.minimum(np.asarray(units, dtype=float), self.excess_demand)


@dataclass(frozen=True)
class RegionalOptions:
    """What to build: the fairness families (all built; the solver toggles them)."""

    constraints: Sequence[ConstraintSpec] = ()


class RegionalBuilder(LinearModel):
    """The model under construction: the arrays, and handles to the columns built so far
    (numbered as added; `build_regional` renumbers them for the finished model)."""

    def __init__(self, data: RegionalData) -> None:
        super().__init__()
        self.data = data
        n = len(data.regions)
        self.x = np.zeros(0, dtype=np.int64)
        self.u = np.zeros(0, dtype=np.int64)
        sizes = np.fromiter((len(t) for t in data.tiers), dtype=np.int64, count=n)
        self.u_region = np.repeat(np.arange(n, dtype=np.int64), sizes)
        self.u_tier = np.arange(len(self.u_region), dtype=np.int64) - np.repeat(
            np.cumsum(sizes) - sizes, sizes
        )
        flat = [t for tiers in data.tiers for t in tiers]
        self.u_bound = np.array([b for b, _ in flat], dtype=float)
        self.u_gain = np.array([g for _, g in flat], dtype=float)
        self.lives = np.zeros(0)
        self.supply_row = -1
        self.useful_rows = np.zeros(0, dtype=np.int64)
        self.fairness: dict[str, np.ndarray] = {}
        self.contested = np.zeros(0, dtype=np.int64)
        self.shortfall = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class RegionalModel:
    """The built model: arrays for HiGHS and typed handles to its columns and rows."""

    data: RegionalData
    program: Program
    x: np.ndarray  # column of x_r, region order
    u: np.ndarray  # column of u_rk, tier order (tiers of region 0 first)
    u_region: np.ndarray  # region of each u column
    u_tier: np.ndarray  # tier of each u column, within its region
    lives: np.ndarray  # L as a cost vector: g_rk t_r on u_rk, 0 elsewhere
    supply_row: int
    useful_rows: np.ndarray  # one per region
    fairness: dict[str, np.ndarray]  # label -> the rows of that fairness family
    contested: np.ndarray  # regions of the tie-break's shortfall columns (E_r > 0, g_r t_r > 0)
    shortfall: np.ndarray  # column of d_r, one per contested region


def build_regional(data: RegionalData, options: RegionalOptions | None = None) -> RegionalModel:
    """Build the regional allocation model with every requested fairness family."""
    options = options or RegionalOptions()
    m = RegionalBuilder(data)
    add_allocation(m, data)
    add_supply(m, data)
    add_useful_units(m, data)
    add_lives(m, data)
    add_tie_break(m, data)  # before the fairness columns: numbered first of those in no row
    add_fairness(m, data, options.constraints)
    objective = np.zeros(m.num_cols)
    objective[: len(m.lives)] = m.lives
    terms = np.zeros(m.num_cols, dtype=bool)
    terms[m.u] = True  # L names every u_rk, a zero gain included
    program, position = m.finish(objective, terms)
    lives = np.zeros(m.num_cols)
    lives[position[m.u]] = m.lives[m.u]
    return RegionalModel(
        data=data,
        program=program,
        x=position[m.x],
        u=position[m.u],
        u_region=m.u_region,
        u_tier=m.u_tier,
        lives=lives,
        supply_row=m.supply_row,
        useful_rows=m.useful_rows,
        fairness=m.fairness,
        contested=m.contested,
        shortfall=position[m.shortfall],
    )


def add_allocation(m: RegionalBuilder, data: RegionalData) -> None:
    """x_r in {0, 1, ..., cap_r}: units sent; u_rk in [0, s_k E_r]: useful units by tier."""
    m.x = m.add_columns(len(data.regions), 0.0, data.staff_cap, integer=True)
    m.u = m.add_columns(len(m.u_region), 0.0, m.u_bound)


def add_supply(m: RegionalBuilder, data: RegionalData) -> None:
    """sum_r x_r <= S; units not sent stay in the national reserve."""
    m.supply_row = int(m.add_rows(1, -INF, float(data.supply))[0])
    m.add(m.supply_row, m.x, 1.0)


def add_useful_units(m: RegionalBuilder, data: RegionalData) -> None:
    """sum_k u_rk - x_r <= 0: with u_rk <= s_k E_r this linearises u_r = min(x_r, E_r)."""
    m.useful_rows = m.add_rows(len(data.regions), -INF, 0.0)
    m.add(m.useful_rows[m.u_region], m.u, 1.0)
    m.add(m.useful_rows, m.x, -1.0)


def add_lives(m: RegionalBuilder, data: RegionalData) -> None:
    """L = sum_rk g_rk t_r u_rk, as the cost of each u column."""
    m.lives = np.zeros(m.num_cols)
    m.lives[m.u] = m.u_gain * data.turnover[m.u_region]


def add_fairness(
    m: RegionalBuilder, data: RegionalData, constraints: Sequence[ConstraintSpec]
) -> None:
    """The rows (and columns) of each fairness constraint, keyed by its label
    (models/fairness/)."""
    for spec in constraints:
        first = m.num_rows
        REGISTRY[spec.kind].add(m, data, spec.options)
        m.fairness[spec.label] = np.arange(first, m.num_rows, dtype=np.int64)


def weighted_lives(m: RegionalModel, weights: np.ndarray) -> np.ndarray:
    """sum_rk a_r g_rk t_r u_rk (prioritarian objective), as a cost vector."""
    cost = np.zeros(len(m.lives))
    cost[m.u] = np.asarray(weights, dtype=float)[m.u_region] * m.lives[m.u]
    return cost


def add_tie_break(m: RegionalBuilder, data: RegionalData) -> None:
    """Columns of the secondary criterion (docs/model.md, "Ties").

    d_r >= f_r(u_r) with f_r(u) = (E_r - u)^2 / E_r (regions with E_r > 0 and g_r > 0): the
    squared shortfall in proportion to excess demand, whose integer minimiser is the Webster
    (Sainte-Lague) apportionment of useful units in proportion to E_r. Where the tie-break is
    solved as a MIP, the secant cuts are added lazily by the engine; they are exact at whole
    units.
    """
    contested = (data.excess_demand > 0) & (data.value > 0)
    m.contested = np.flatnonzero(contested).astype(np.int64)
    m.shortfall = m.add_columns(len(m.contested), 0.0, INF)


def pwl_square(u: float, e: float) -> float:
    """f(u) = (e - u)^2 / e interpolated linearly between whole units (and e)."""
    u = min(max(u, 0.0), e)
    a = min(math.floor(u + 1e-9), math.ceil(e) - 1)
    a = max(a, 0)
    b = min(a + 1.0, e)
    fa, fb = (e - a) ** 2 / e, (e - b) ** 2 / e
    return fa + (fb - fa) * (u - a) / (b - a) if b > a else fa
