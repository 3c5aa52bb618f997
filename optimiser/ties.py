"""The tie-break (docs/model.md, "Ties") solved exactly, without a MIP, where no fairness family
couples regions: every active constraint is a floor (a lower bound on x_r) or an objective
weight. The engine's MIP stages serve the coupled families (max_coverage_gap, threshold).

The lives are then separable: with x_r whole in [lo_r, hi_r] and sum_r x_r <= S,

    maximise  sum_r F_r(x_r),  F_r(x) = max { sum_k w_rk u_rk : sum_k u_rk <= x, 0 <= u_rk <= b_rk }

with w_rk the objective coefficient of tier k of region r (g_rk t_r, times a_r under a
prioritarian objective). F_r is concave: its marginal lives F_r(j) - F_r(j - 1) never increase
in j. The three stages are then each a choice of whole units among non-increasing marginals:

1. Lives. The optimum takes the S - sum lo best marginals (only positive ones). If theta, the
   last one taken, is positive, every optimum takes all marginals above theta and only marginals
   equal to theta: the optimal face is {x : a_r <= x_r <= b_r, sum_r x_r = S} with a_r, b_r
   counting units above and at theta. If every positive marginal fits, the face is
   {x : p_r <= x_r <= hi_r, sum_r x_r <= S}, p_r taking them all.
2. Proportional to excess demand. Minimise sum_r f_r(U_r) over the face, U_r the useful units:
   at the lives optimum U_r = min(x_r, Z_r), Z_r the units of the tiers with w_rk >= 0 (tiers
   of zero value fill at no cost to lives). f_r(U) = (E_r - U)^2 / E_r at whole units, linear
   in between (and up to E_r), so the decreases g_r(j - 1) - g_r(j) of g_r(x) = f_r(min(x, Z_r))
   never increase in j either: (2 (E_r - j) + 1) / E_r for whole units (the Webster divisor
   criterion E_r / (j - 1/2)), then the part of a unit up to Z_r. Over a box with a sum, the
   minimisers are again a face: all decreases above delta*, the R-th largest, some at delta*.
3. Fewest units, then file order. Over that face, the fewest units are its lower corner when
   the sum is free; when it is fixed (= S), the units left go to the earliest regions with room.

Values within GROUP_REL (marginal lives, relative to the largest) or DELTA_TOL (decreases) of
each other are equal: floating-point rounding, not a difference in lives. The engine checks the
result against the lives HiGHS proved (and keeps the MIP stages otherwise); the tests check it
against the MIP stages and a brute force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from models.regional import RegionalModel
    from optimiser.solver import MatrixHighsModel

GROUP_REL = 1e-9  # marginal lives this close (relative to the largest) are equal
DELTA_TOL = 1e-12  # stage-2 decreases this close are equal (they lie in (0, 2])
WHOLE_TOL = 1e-6  # a bound within this of a whole number is that number (as HiGHS)
ENUMERATE_LIMIT = 2_000_000  # stage-2 steps listed one by one up to this; a search beyond


@dataclass(frozen=True)
class SeparableTies:
    """A lives problem with no coupling but the supply: the inputs of `tie_break_units`."""

    lower: np.ndarray  # lo_r: floors and column bounds
    upper: np.ndarray  # hi_r: staff caps (inf: none)
    supply: float
    tier_region: np.ndarray  # region of each tier
    tier_bound: np.ndarray  # b_rk
    tier_value: np.ndarray  # w_rk: objective coefficient of the tier's useful units
    excess: np.ndarray  # E_r
    contested: np.ndarray  # bool: E_r > 0 and g_r t_r > 0 (the regions stage 2 weighs)


@dataclass(frozen=True)
class Tied:
    units: np.ndarray  # whole units, as floats
    objective: float  # sum_r F_r(units_r)


def tie_break_units(p: SeparableTies) -> Tied | None:
    """The units of the three stages and their objective, or None when the bounds admit no
    allocation."""
    n = len(p.lower)
    lo = np.ceil(np.asarray(p.lower, dtype=float) - WHOLE_TOL)
    hi = np.floor(np.asarray(p.upper, dtype=float) + WHOLE_TOL)
    supply = float(np.floor(p.supply + WHOLE_TOL))
    if (lo > hi).any() or lo.sum() > supply:
        return None
    scale = float(np.abs(p.tier_value).max()) if len(p.tier_value) else 0.0
    eps = GROUP_REL * scale
    useful = np.bincount(
        p.tier_region[p.tier_value >= -eps], p.tier_bound[p.tier_value >= -eps], minlength=n
    )
    useful = np.minimum(useful, p.excess)

    # stage 1: the lives-optimal face [a, b] (sum = S when binding, <= S otherwise)
    ends, values = _ranked_tiers(n, p.tier_region, p.tier_bound, p.tier_value, eps)
    units = _three_stages(p, lo, hi, supply, useful, ends, values, eps)
    objective = 0.0
    for k in range(len(values)):
        objective += float((values[k] * np.clip(units - ends[k], 0.0, ends[k + 1] - ends[k])).sum())
    return Tied(units, objective)


def _three_stages(
    p: SeparableTies,
    lo: np.ndarray,
    hi: np.ndarray,
    supply: float,
    useful: np.ndarray,
    ends: np.ndarray,
    values: np.ndarray,
    eps: float,
) -> np.ndarray:
    n = len(lo)
    region, value, count = _lives_blocks(lo, hi, ends, values, eps)
    free = supply - lo.sum()
    total = count.sum()
    if total <= free:
        a = lo + np.bincount(region, count, minlength=n)
        b = hi
        binding = False
    else:
        order = np.argsort(-value, kind="stable")
        reached = np.searchsorted(np.cumsum(count[order]), free)  # block of the last unit taken
        theta = value[order][min(reached, len(order) - 1)]
        a = lo + np.bincount(region, np.where(value > theta + eps, count, 0.0), minlength=n)
        b = lo + np.bincount(region, np.where(value >= theta - eps, count, 0.0), minlength=n)
        binding = True

    # stage 2: Webster apportionment of the useful units over the face
    steps = _Steps(a, b, useful, p.excess, p.contested)
    room = supply - a.sum()
    if room < 0.5:  # the face is one point
        return a
    n_pos = steps.count_at_least(DELTA_TOL)
    if n_pos.sum() <= room:
        a2 = a + n_pos
        b2 = b
        fixed_sum = binding
    else:
        delta = steps.rth_largest(round(room))
        a2 = a + steps.count_at_least(delta + DELTA_TOL)
        b2 = a + steps.count_at_least(delta - DELTA_TOL)
        fixed_sum = True

    # stage 3: fewest units (the lower corner), the rest of a fixed sum to the earliest regions
    if not fixed_sum:
        return a2
    rest = supply - a2.sum()
    space = b2 - a2
    before = np.concatenate([[0.0], np.cumsum(space)[:-1]])  # room in earlier regions
    return a2 + np.clip(rest - before, 0.0, space)


def _lives_blocks(
    lo: np.ndarray, hi: np.ndarray, ends: np.ndarray, values: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Units a region may get beyond lo_r, as blocks (region, lives per unit, units) of equal
    marginal lives (only positive ones), from the tiers of positive value filled best first.

    A block between two consecutive whole numbers among lo_r, the top (min(hi_r, ceil of the
    positive units)) and the floors and ceilings of the tiers' cumulative ends lies inside one
    tier (value w_rk exactly) or is one unit straddling tier ends (its lives summed by tier).
    """
    n = len(lo)
    k_max = len(values)
    top = np.maximum(np.minimum(hi, np.ceil(ends[-1] - 1e-12)), lo)
    if k_max == 1:  # one tier each: whole units (lo, min(top, floor b)], then a part unit
        whole = np.floor(ends[1])
        full = np.maximum(np.minimum(top, whole) - lo, 0.0)
        part = (ends[1] > whole) & (lo <= whole) & (whole + 1.0 <= top)
        region = np.concatenate([np.arange(n), np.arange(n)])
        lives = np.concatenate([values[0], values[0] * (ends[1] - whole)])
        count = np.concatenate([full, part.astype(float)])
        useful = (count > 0) & (lives > eps)
        return region[useful], lives[useful], count[useful]
    # break points per region: lo, top, and the whole numbers around each tier end
    pts_region = np.concatenate([np.arange(n)] * (2 + 2 * k_max))
    pts = np.concatenate([lo, top, *np.floor(ends[1:]), *np.ceil(ends[1:])])
    inside = (pts >= lo[pts_region]) & (pts <= top[pts_region])
    pts_region, pts = pts_region[inside], pts[inside]
    order = np.lexsort((pts, pts_region))
    pts_region, pts = pts_region[order], pts[order]
    distinct = np.ones(len(pts), dtype=bool)
    distinct[1:] = (pts[1:] != pts[:-1]) | (pts_region[1:] != pts_region[:-1])
    pts_region, pts = pts_region[distinct], pts[distinct]
    pair = np.flatnonzero(pts_region[1:] == pts_region[:-1])
    block_region = pts_region[pair]
    left, right = pts[pair], pts[pair + 1]
    # lives of the unit (left, left + 1]: w_rk times its overlap with each tier
    lives = np.zeros(len(pair))
    for k in range(k_max):
        s, e = ends[k, block_region], ends[k + 1, block_region]
        overlap = np.minimum(left + 1.0, e) - np.maximum(left, s)
        lives = lives + np.where(overlap > 0, values[k, block_region] * overlap, 0.0)
    useful = lives > eps
    return block_region[useful], lives[useful], (right - left)[useful]


def _ranked_tiers(
    n: int, tier_region: np.ndarray, tier_bound: np.ndarray, tier_value: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The tiers of positive value of each region, best first, as arrays by rank k:
    ends[k] .. ends[k + 1] are the units tier k serves, values[k] its lives per unit (0 and an
    empty range where a region has fewer tiers). Sums run within a region: no cancellation."""
    if len(tier_region) == n and np.array_equal(tier_region, np.arange(n)):  # one tier each
        keep = tier_value > eps
        ends = np.zeros((2, n))
        ends[1] = np.where(keep, tier_bound, 0.0)
        return ends, np.where(keep, tier_value, 0.0)[np.newaxis]
    keep = tier_value > eps
    region, bound, value = tier_region[keep], tier_bound[keep], tier_value[keep]
    order = np.lexsort((np.arange(len(region)), -value, region))
    region, bound, value = region[order], bound[order], value[order]
    sizes = np.bincount(region, minlength=n)
    rank = np.arange(len(region)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    k_max = int(sizes.max()) if n else 0
    ends = np.zeros((k_max + 1, n))
    values = np.zeros((k_max, n))
    for k in range(k_max):
        sel = rank == k
        ends[k + 1] = ends[k]
        ends[k + 1, region[sel]] += bound[sel]
        values[k, region[sel]] = value[sel]
    return ends, values


class _Steps:
    """Stage 2's decreases over the face: for each contested region r, the steps j in
    (a_r, b_r] with U = min(j, Z_r) still growing (Z_r the useful units, at most E_r):
    (2 (E_r - j) + 1) / E_r for whole units j <= floor(Z_r), then one partial step to Z_r."""

    def __init__(
        self,
        a: np.ndarray,
        b: np.ndarray,
        useful: np.ndarray,
        excess: np.ndarray,
        contested: np.ndarray,
    ) -> None:
        idx = np.flatnonzero(contested)
        self.n = len(a)
        self.idx = idx
        self.a = a[idx]
        e = excess[idx]
        z = np.minimum(useful[idx], e)
        self.e = e
        whole = np.floor(z)
        # whole steps (a, min(b, floor Z)]; the partial step floor(Z) + 1 if it is in the box
        self.last = np.minimum(b[idx], whole)
        part = z - whole
        segment = np.where(whole + 1.0 <= e, (2.0 * (e - whole) - 1.0) / e, (e - whole) / e)
        self.partial = np.where(
            (part > 0) & (b[idx] >= whole + 1.0) & (self.a <= whole), segment * part, 0.0
        )

    def _whole_at_least(self, t: float) -> np.ndarray:
        """Whole steps with decrease >= t: j <= (E (2 - t) + 1) / 2, within the box."""
        j = np.floor((self.e * (2.0 - t) + 1.0) / 2.0)
        return np.clip(np.minimum(j, self.last) - self.a, 0.0, None)

    def count_at_least(self, t: float) -> np.ndarray:
        """Steps with decrease >= t, per region (all regions; 0 where not contested)."""
        out = np.zeros(self.n)
        out[self.idx] = self._whole_at_least(t) + (self.partial >= t)
        return out

    def rth_largest(self, r: int) -> float:
        """The r-th largest decrease (r >= 1, at most the number of positive steps)."""
        counts = self._whole_at_least(DELTA_TOL)
        if counts.sum() + len(counts) <= ENUMERATE_LIMIT:
            reps = counts.astype(np.int64)
            owner = np.repeat(np.arange(len(reps)), reps)
            j = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
            j = j + self.a[owner] + 1.0
            e = self.e[owner]
            values = np.concatenate([(2.0 * (e - j) + 1.0) / e, self.partial[self.partial > 0]])
            return float(-np.partition(-values, r - 1)[r - 1])
        low, high = DELTA_TOL, 3.0  # count(low) >= r > count(high)
        while high - low > DELTA_TOL / 4:
            mid = 0.5 * (low + high)
            if self._whole_at_least(mid).sum() + (self.partial >= mid).sum() >= r:
                low = mid
            else:
                high = mid
        return low


class SecantCuts:
    """Stage 2's cuts d_r >= f_r(a) + slope (u_r - a) on the segment [a, a + 1] of f_r, one per
    segment and region, collected and then appended to HiGHS together (in the order added)."""

    def __init__(self, m: RegionalModel, excess: np.ndarray) -> None:
        first = np.searchsorted(m.u_region, m.contested, side="left")  # u is in region order
        last = np.searchsorted(m.u_region, m.contested, side="right")
        self.useful_cols = [m.u[a:b] for a, b in zip(first, last, strict=True)]
        self.shortfall = m.shortfall
        self.excess = excess
        self.placed: list[set[int]] = [set() for _ in self.useful_cols]
        self.pending: list[tuple[np.ndarray, np.ndarray, float]] = []

    def add(self, j: int, u: float) -> None:
        """The cut of region j's segment containing u (nothing if it is already placed)."""
        e = float(self.excess[j])
        a = min(math.floor(u + 1e-9), math.ceil(e) - 1)
        a = max(a, 0)
        if a in self.placed[j]:
            return
        self.placed[j].add(a)
        b = min(a + 1.0, e)
        fa, fb = (e - a) ** 2 / e, (e - b) ** 2 / e
        slope = (fb - fa) / (b - a)
        cols = np.append(self.useful_cols[j], self.shortfall[j])  # d_r - slope * u_r >= ...
        coefs = np.append(np.full(len(self.useful_cols[j]), -slope), 1.0)
        order = np.argsort(cols, kind="stable")
        keep = coefs[order] != 0.0
        self.pending.append((cols[order][keep], coefs[order][keep], fa - slope * a))

    def flush(self, highs: MatrixHighsModel) -> list[int]:
        """Append the pending cuts; their row indices."""
        if not self.pending:
            return []
        sizes = [len(c) for c, _, _ in self.pending]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rows = highs.add_rows_arrays(
            starts,
            np.concatenate([c for c, _, _ in self.pending]),
            np.concatenate([v for _, v, _ in self.pending]),
            np.array([lo for _, _, lo in self.pending]),
            np.full(len(self.pending), math.inf),
        )
        self.pending.clear()
        return rows.tolist()
