"""A good allocation under threshold(tau), found without HiGHS: the feasible start of a solve
under a time limit (issue 9: under tau=0.2 on 1,500 regions HiGHS's incumbent after 10 s saved
313 lives where 56,000 are within reach, because HiGHS spends the budget in its root cut round).

For one fixed lambda the rule (models/fairness/threshold.py) is a pair of bounds on each
member's whole x_r: ceil(lambda w_r - s) <= x_r <= floor(lambda w_r + s), s = 1 - 1e-5, or, for
a member that may stop (q_r < S), q_r <= x_r <= floor(lambda w_r + s). With lambda fixed, the
most lives is a separable concave problem under one supply row: every lower bound first, then
the units left by best marginal lives (tier by tier). Scanning lambda over a grid gives a
feasible allocation of (often close to) the most lives; `RegionalEngine` completes it to every
column with one HiGHS run with x fixed, which also checks it against the model's own rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from models.fairness.registry import FLOOR_EPS, THRESHOLD_SLACK
from models.fairness.threshold import threshold_lambda_max, threshold_members
from models.regional import RegionalData

GRID = 257  # lambda values scanned (0 to lambda_max); then as many again around the best


def threshold_start(
    data: RegionalData, params: Mapping[str, Any], lower: np.ndarray | None = None
) -> np.ndarray | None:
    """Whole units per region meeting threshold(`params`) (and the lower bounds `lower`, e.g.
    floors), with the most lives found on a lambda grid; None if no grid point is feasible."""
    n = len(data.regions)
    supply = float(data.supply)
    cap = np.minimum(data.staff_cap, supply)
    base = np.zeros(n) if lower is None else np.ceil(np.asarray(lower, dtype=float) - FLOOR_EPS)
    members = np.flatnonzero(threshold_members(data, params))
    per_capita = data.excess_demand / data.population
    if len(members) <= 1 or float(per_capita[members].max()) <= 0:
        return _fill(data, base, cap, supply)
    w = per_capita[members] / float(per_capita[members].max())
    lambda_max = threshold_lambda_max(w, data.staff_cap[members], supply)
    stop = np.minimum(data.staff_cap[members], np.ceil(data.excess_demand[members] - FLOOR_EPS))
    can_stop = stop < supply
    slack = 1.0 - THRESHOLD_SLACK

    def allocation(lam: float) -> np.ndarray | None:
        high = np.floor(lam * w + slack + FLOOR_EPS)
        low = np.maximum(np.ceil(lam * w - slack - FLOOR_EPS), 0.0)
        low = np.where(can_stop & (stop <= high), np.minimum(low, stop), low)
        lo, hi = base.copy(), cap.copy()
        lo[members] = np.maximum(lo[members], low)
        hi[members] = np.minimum(hi[members], high)
        if np.any(lo > hi) or lo.sum() > supply:
            return None
        return _fill(data, lo, hi, supply)

    def best_of(grid: np.ndarray) -> tuple[float, float, np.ndarray | None]:
        best: tuple[float, float, np.ndarray | None] = (-1.0, 0.0, None)
        for lam in grid:
            units = allocation(float(lam))
            if units is not None:
                lives = float(data.lives(units).sum())
                if lives > best[0]:
                    best = (lives, float(lam), units)
        return best

    lives, lam, units = best_of(np.linspace(0.0, lambda_max, GRID))
    if units is None:
        return None
    step = lambda_max / (GRID - 1)
    finer = best_of(np.linspace(max(0.0, lam - step), min(lambda_max, lam + step), GRID))
    return finer[2] if finer[2] is not None and finer[0] > lives else units


def _fill(data: RegionalData, lo: np.ndarray, hi: np.ndarray, supply: float) -> np.ndarray | None:
    """x with lo <= x <= hi, sum x <= supply, whole, the units above lo given by best marginal
    lives per unit (tier segments, best value first); None if the lower bounds exceed supply."""
    left = supply - float(lo.sum())
    if left < 0:
        return None
    bound, gain = data.ranked_tiers
    top = np.minimum(hi, np.ceil(data.excess_demand - FLOOR_EPS))  # units past need save no one
    start = np.zeros(len(lo))
    regions, lengths, values = [], [], []
    for k in range(len(bound)):
        end = start + bound[k]
        length = np.floor(np.maximum(0.0, np.minimum(end, top) - np.maximum(start, lo)) + 1e-9)
        where = np.flatnonzero(length > 0)
        regions.append(where)
        lengths.append(length[where])
        values.append((gain[k] * data.turnover)[where])
        start = end
    region = np.concatenate(regions)
    length = np.concatenate(lengths)
    order = np.argsort(-np.concatenate(values), kind="stable")
    taken = np.minimum(
        length[order], np.maximum(0.0, left - np.cumsum(length[order]) + length[order])
    )
    units = lo.copy()
    np.add.at(units, region[order], taken)
    return np.minimum(np.floor(units + 1e-9), hi)
