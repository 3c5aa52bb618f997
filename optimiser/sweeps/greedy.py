"""The greedy path of a sweep: exact for lives-only variants whose constraints are all floors.

Such a variant is a separable concave integer knapsack: x_r >= floor_r are lower bounds and
each region's lives are concave in x_r (best tiers fill first), so giving each remaining unit to
the largest marginal lives is exact (docs/model.md). `solve_greedy` does that in numpy without
calling HiGHS (`path = greedy` in a sweep's output).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

import numpy as np

from models.fairness import ConstraintSpec
from models.regional import RegionalData
from optimiser.engine import (
    INTEGRALITY_TOLERANCE,
    floor_bounds,
    floor_conflict,
)
from optimiser.solver import SolveStatus
from optimiser.sweeps.sweep_plan import SweepPlan, VariantOutcome


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
