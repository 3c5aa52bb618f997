"""Whole plans that meet a lambda rule (the threshold rule over the horizon; lambda_search.py).

Rounding an LP solution of a lambda node near the LP's own lambda often misses the rule by a
unit: the LP holds a member at X_r = lambda w_r - s_r (fractional), whose whole limit is one
unit above, and with every depot unit already shipped there is none left to top it up (300 x 90
with every region a member: 11 of 69 members short by one unit on 100 x 90, the repair LP
infeasible, no plan, and the plan of last resort ships nothing). A slightly lower lambda
lowers every member's window: members above it give units back to the depots (`_trim`), which
the members below it then receive (`_top_up`). `rule_movements` scans lambda down from the
LP's towards the node's lower end and keeps the first whole plan whose every active fairness
row holds for some lambda of the node (`lambda_interval`, an exact check on the rows, so the
repair LP that follows is feasible).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from models.fairness import LambdaAxis
from models.multiperiod import PlanModel
from optimiser.multiperiod.methods.whole import units_on_hand

# Fractions of the way from the LP's lambda down to the node's lower end tried in turn (0: the
# LP's own lambda, as the rounding always did). Each try is a rounding in numpy (no HiGHS run).
LAMBDA_SCAN = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
ROW_TOL = 1e-9  # the rows must hold to this (HiGHS's own feasibility tolerance is 1e-7)


def with_hands(model: PlanModel, movements: np.ndarray) -> np.ndarray:
    """Whole `movements` with the units on hand they leave each region each day filled in
    (the columns the fairness rows read)."""
    p = model
    x = movements.copy()
    x[p.hand] = units_on_hand(p, p.data, movements[p.ship.cols], movements[p.transfer.cols])
    return x


def lambda_interval(
    model: PlanModel,
    rows: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    lam: int,
    values: np.ndarray,
    low: float,
    high: float,
) -> tuple[float, float] | None:
    """The lambdas in [low, high] for which every row in `rows` (bounds `row_lower`,
    `row_upper`) holds at `values` (their other columns as they are); None: none does."""
    block = model.matrix[rows]
    x = values.copy()
    x[lam] = 0.0
    base = block @ x
    coef = np.asarray(block[:, [lam]].todense()).ravel()
    lo_r, up_r = row_lower - ROW_TOL, row_upper + ROW_TOL
    flat = coef == 0
    if np.any(base[flat] < lo_r[flat]) or np.any(base[flat] > up_r[flat]):
        return None
    pos, neg = coef > 0, coef < 0
    with np.errstate(invalid="ignore", over="ignore"):
        starts = np.concatenate(
            [(lo_r[pos] - base[pos]) / coef[pos], (up_r[neg] - base[neg]) / coef[neg]]
        )
        ends = np.concatenate(
            [(up_r[pos] - base[pos]) / coef[pos], (lo_r[neg] - base[neg]) / coef[neg]]
        )
    lo = max([low, *starts[~np.isnan(starts)].tolist()])
    hi = min([high, *ends[~np.isnan(ends)].tolist()])
    return (lo, hi) if lo <= hi else None


def rule_lambdas(
    model: PlanModel,
    rows: np.ndarray,
    axes: Sequence[LambdaAxis],
    bounds: Sequence[tuple[float, float]],
    movements: np.ndarray,
) -> list[float] | None:
    """A lambda per axis (within its node `bounds`) for which every active fairness row
    (`rows`) and each axis's node rows hold for the whole `movements` (their families' own
    integer columns set), or None. Rows reading no lambda must hold as they are."""
    x = with_hands(model, movements)
    p = model
    lam_cols = [int(axis.lam[0]) for axis in axes]
    x[lam_cols] = 0.0
    chosen: list[float] = []
    taken = np.zeros(0, dtype=np.int64)
    for axis, col, (a, b) in zip(axes, lam_cols, bounds, strict=True):
        node_rows, node_lower, node_upper = axis.limit_rows(a, b)
        mine = rows[np.asarray(p.matrix[rows][:, [col]].getnnz(axis=1)).ravel() > 0]
        taken = np.concatenate([taken, mine])
        where = np.concatenate([mine, node_rows])
        interval = lambda_interval(
            p,
            where,
            np.concatenate([p.row_lower[mine], node_lower]),
            np.concatenate([p.row_upper[mine], node_upper]),
            col,
            x,
            a,
            b,
        )
        if interval is None:
            return None
        chosen.append(interval[0])
    rest = np.setdiff1d(rows, taken)
    if len(rest):
        got = p.matrix[rest] @ x
        if np.any(got < p.row_lower[rest] - ROW_TOL) or np.any(got > p.row_upper[rest] + ROW_TOL):
            return None
    return chosen


def rule_movements(
    model: PlanModel,
    rows: np.ndarray,
    axes: Sequence[LambdaAxis],
    bounds: Sequence[tuple[float, float]],
    values: np.ndarray,
    rounded: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray | None:
    """Whole movements near the LP solution `values` meeting every active fairness row for
    some lambda of the node: `rounded(trial)` rounds a copy of `values` whose lambdas are
    lowered by each fraction of LAMBDA_SCAN in turn (the first plan that meets the rule wins).
    None: no fraction gives one."""
    cols = [int(axis.lam[0]) for axis in axes]
    for fraction in LAMBDA_SCAN:
        trial = values.copy()
        for col, (a, _b) in zip(cols, bounds, strict=True):
            lam = float(values[col])
            if fraction:
                trial[col] = max(a, lam - fraction * (lam - a))
        fixed = rounded(trial)
        if rule_lambdas(model, rows, axes, bounds, fixed) is not None:
            return fixed
    return None
