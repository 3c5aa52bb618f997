"""Polishing a rounded plan: branch-and-bound near it, then on the whole restricted master.

When the rounding method's best whole plan is not within the gap tolerance of the LP bound,
`neighbourhood` runs branch-and-bound on the few movement columns where the plan and the LP
disagree (every other integer column fixed there: a small MIP, seconds; relaxation-induced
neighbourhood search). If the best plan still leaves a gap, `transfer_neighbourhood` keeps its
shipments, re-solves the master's LP over the transfers and the patients, and runs the same
small MIP around that LP: units are worth the same wherever free transfers can take them, so
a plan a few tenths of a life short usually ships right and moves wrong (BENCHMARKS.md,
"Polish without the cliff"). Only then does `polish` run branch-and-bound on the whole
restricted master of the column generation (every column priced in so far), from the best
plan known; on a small model (at most POLISH_INTEGER_LIMIT integer columns, where the exact
method follows it in the engine's auto method) that run has HiGHS's RINS and RENS off
(methods/exact.py, `from_a_plan`); on a larger one, where it is the last resort, RENS may be
what finds the better plan (BENCHMARKS.md, "Polish without the cliff"), and they stay on.
"""

from __future__ import annotations

import time

import numpy as np

from optimiser.multiperiod.colgen import SIMPLEX_DUAL, ColumnGeneration, LpResult
from optimiser.multiperiod.methods.base import POLISH_INTEGER_LIMIT
from optimiser.multiperiod.methods.exact import from_a_plan
from optimiser.solver import SolveStatus


def _whole(cg: ColumnGeneration, values: np.ndarray | None) -> np.ndarray | None:
    """Full-model values of a MIP run with its integer columns at whole numbers: HiGHS returns
    them within its integrality tolerance (1e-6), and without RINS and RENS more plans come
    from node LPs, which HiGHS does not round (a plan a few 1e-9 off a whole number, fixed as
    the next search's start, moved its lives in the ninth decimal)."""
    if values is None:
        return None
    x = cg.full(values)
    whole = cg.program.integrality == 1
    x[whole] = np.rint(x[whole])
    return x


def neighbourhood(
    cg: ColumnGeneration,
    cost: np.ndarray,
    plan: np.ndarray,
    lp: np.ndarray,
    time_limit: float | None,
    node_limit: int | None = None,
) -> LpResult:
    """Branch-and-bound on the integer columns where the whole `plan` and the `lp`
    solution differ (relaxation-induced neighbourhood search): every integer column on
    which they agree is fixed there, so the MIP is small; starts from `plan`."""
    t0 = time.perf_counter()
    h = cg.highs
    cg.include(cg.candidates[np.nonzero(plan[cg.candidates])[0]])
    cols = cg.integer_columns()
    movements = cols[~np.isin(cols, cg.base_integer)]  # z stays as its caller set it
    agree = movements[np.abs(plan[movements] - lp[movements]) <= 1e-6]
    pos = cg.position[cols]
    h.set_col_bounds_arrays(cg.position[agree], plan[agree], plan[agree])
    h.set_integrality(pos, True)
    cg.set_cost(cost, True)
    h.set_start(cg.master(plan))
    h.set_option("simplex_strategy", SIMPLEX_DUAL)
    try:
        run = h.solve(time_limit, node_limit=node_limit)
    finally:
        h.set_integrality(pos, False)
        h.set_col_bounds_arrays(cg.position[agree], cg.lower[agree], cg.upper[agree])
    values = None if run.values is None else cg.full(run.values)
    return LpResult(run.status, run.objective, values, time.perf_counter() - t0, 1)


def transfer_neighbourhood(
    cg: ColumnGeneration,
    cost: np.ndarray,
    plan: np.ndarray,
    time_limit: float | None,
    node_limit: int | None = None,
) -> LpResult:
    """`neighbourhood` around the master's LP optimum with every integer column but the
    transfers fixed at the whole `plan` (its shipments; the LP then moves units freely): the
    transfers where that LP and the plan disagree are branched on, the rest stays as in the
    plan. Starts from `plan`, so it never ends below it; no plan when the LP fails."""
    t0 = time.perf_counter()
    h = cg.highs
    cg.include(cg.candidates[np.nonzero(plan[cg.candidates])[0]])
    cols = cg.integer_columns()
    transfers = np.isin(cols, cg.program.transfer.cols)
    if not transfers.any():  # nothing moves between regions: the plan's own repair LP
        return LpResult(SolveStatus.OPTIMAL, None, None, time.perf_counter() - t0, 0)
    held = cols[~transfers]  # shipments, their 'uses' binaries, the families' integers (z)
    h.set_col_bounds_arrays(cg.position[held], plan[held], plan[held])
    cg.set_cost(cost, True)
    h.set_option("simplex_strategy", SIMPLEX_DUAL)
    h.highs.clearSolver()  # from no basis: the vertex (so the MIP) is not the history's
    try:
        run = h.solve(time_limit)
    finally:
        h.set_col_bounds_arrays(cg.position[held], cg.lower[held], cg.upper[held])
    if run.values is None or run.status is not SolveStatus.OPTIMAL:
        return LpResult(run.status, None, None, time.perf_counter() - t0, 1)
    lp = cg.full(run.values)
    left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1e-3)
    near = neighbourhood(cg, cost, plan, lp, left, node_limit)
    return LpResult(near.status, near.objective, near.values, time.perf_counter() - t0, 2)


def polish(
    cg: ColumnGeneration,
    cost: np.ndarray,
    start_values: np.ndarray,
    time_limit: float | None,
    node_limit: int | None = None,
) -> LpResult:
    """HiGHS branch-and-bound on the restricted master from a known plan (a last resort
    when rounding leaves a gap above the tolerance)."""
    t0 = time.perf_counter()
    h = cg.highs
    small = int(cg.program.integrality.sum()) <= POLISH_INTEGER_LIMIT
    pos = cg.position[cg.integer_columns()]
    h.set_integrality(pos, True)
    cg.set_cost(cost, True)
    h.set_start(cg.master(start_values))
    h.set_option("simplex_strategy", SIMPLEX_DUAL)
    try:
        with from_a_plan(h, small):
            run = h.solve(time_limit, node_limit=node_limit)
    finally:
        h.set_integrality(pos, False)
    values = _whole(cg, run.values)
    return LpResult(run.status, run.objective, values, time.perf_counter() - t0, 1)
