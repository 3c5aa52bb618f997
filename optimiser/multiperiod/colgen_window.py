"""The column generation's first movement columns from a rolling horizon of small LPs (issue 12,
track window).

The planner's first LP (lives less CLEANUP_COST x logistics) costs, at 1,000 x 90, what its
seeded master is below the LP optimum: seeded with an optimal plan's movements it takes 4 rounds,
with the greedy plan's (2.81% below) 11 (BENCHMARKS.md, "seed2"). `window_plan` predicts a
near-optimal whole plan by time: the same model (PlanModel) cut into windows of days, each
solved as an LP of its own, earlier days fixed at what the windows before it chose:

- every column and row has a day (`column_days`, `row_days`): a shipment or transfer its
  dispatch day (and its arrival day), a stock, hand or occupancy column its own, an admission
  its admission day; a row the latest day of its columns (a cohort row, a limit over a
  group's admission days, belongs to every window those days meet);
- the window [a, e) holds the rows of days a..e-1 and the columns of those days (movements
  that also arrive before e); the columns of earlier days are fixed (their part moves to the
  rows' bounds), later ones are 0; a patient admitted near e counts whole (their stay's end
  lies beyond the window's rows);
- it is solved by column generation of its own over its movement candidates (`_solve_window`;
  movements priced in that sit at 0 with a clearly negative reduced cost leave its master
  again, `_retire`: track warmwin), and its first STEP days are kept: the next window starts
  there.

The kept days make one plan of the whole LP (feasible: every row is met by the window holding
it, given the days before), whose nonzero movements seed the full master (`seed_columns`).
Seeding changes only where the full column generation starts: it still prices every candidate
until none improves, so the LP optimum is unchanged (tests/test_window_*).

The windows maximise lives less CLEANUP_COST x logistics, unweighted and without fairness rows
(a seed only: the full LP, with its own objective and rows, decides). Deterministic: HiGHS with
the planner's options (fixed seed, one thread) on the same data, and used only without a time
limit (`applies`): a budget's share for the windows would make the seed, and so which optimal
plan is returned, depend on the machine's load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from models.multiperiod import PlanModel
from optimiser.highs_model import configured_highs
from optimiser.multiperiod.methods.base import CLEANUP_COST
from optimiser.solver_status import SolverOptions

WINDOW = 30  # days of each window LP
STEP = 15  # days of each window kept (the rest is lookahead, re-solved by the next window)
PRICE_TOL = 1e-7
MAX_ENTERING = 20_000  # window candidates added per round
MAX_ROUNDS = 50
# A priced-in movement at 0, nonbasic at its lower bound 0, whose reduced cost is below
# -RETIRE_TOL leaves the window's master (`_retire`; as colgen_manage does for the planner's):
# HiGHS 1.15's primal simplex scans every column at each pivot, so the rounds' pivots cost in
# proportion to the master. Each column at most once a window; priced again every round.
RETIRE_TOL = 1e-6
# The window seed only for models with at least this many movement candidates (below it the
# greedy seed alone, colgen_seed's, is the faster start: at 200 / 300 x 90 and 100 x 365 the
# window LPs cost more than the rounds they save, at 400 x 90 they tie; BENCHMARKS.md,
# "window2"). 800 x 90 has 924,000 candidates, 1,000 x 90 1.15 million.
MIN_CANDIDATES = 700_000
# The column generation's first LP starts from a basis crossed over from the window plan
# (colgen.ColumnGeneration.start_from; tracks growth4, roundfix).
CROSSOVER = True


@dataclass(frozen=True)
class WindowStats:
    """What `window_plan` did: windows, LP rounds in all, and the plan's objective."""

    windows: int
    rounds: int
    objective: float
    complete: bool  # every window reached its optimum


def column_days(p: PlanModel) -> tuple[np.ndarray, np.ndarray]:
    """(day, last) of every column: the day it belongs to (a movement's dispatch day) and the
    last day of the rows it must meet inside a window (a movement's arrival). Columns of no day
    (the fairness families') get the horizon's length: no window holds them."""
    d = p.data
    T = d.days
    N = p.shape[1]
    day = np.full(N, T, dtype=np.int64)
    grid = np.arange(T)
    for cols in (p.stock, p.hand, p.occ):
        if cols.size:
            day[cols.ravel()] = np.broadcast_to(grid, cols.shape).ravel()
    for fam in (p.admit, p.send):
        day[fam.cols] = fam.day
    day[p.ptransfer.cols] = p.ptransfer.day
    s, t = p.ship, p.transfer
    day[s.cols] = s.day
    if len(p.uses):
        day[p.uses] = s.day
    day[t.cols] = t.day
    last = day.copy()
    last[s.cols] = s.day + d.ship_lead[s.depot, s.region]
    last[t.cols] = t.day + d.arc_lead[t.lane]
    if len(p.ptransfer.cols):
        last[p.ptransfer.cols] = p.ptransfer.day + d.pt_lead[p.ptransfer.lane]
    return day, last


def row_days(
    p: PlanModel, day: np.ndarray, csr: sp.csr_matrix | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(latest, earliest) day of every row's columns. A balance row of day d holds day d's
    columns and earlier ones: it is in the window of its latest day. A cohort row (a limit on
    one group's admissions over its days) is in every window its days meet: earlier days
    fixed, later ones 0 keep it met. Fairness rows, and empty rows, get -1: in no window.
    `csr`: p.matrix in CSR form, when the caller has it (converted once: track pyrest2)."""
    if csr is None:
        csr = p.matrix.tocsr()
    days = day[csr.indices]
    rows = p.shape[0]
    latest = np.full(rows, -1, dtype=np.int64)
    earliest = np.full(rows, -1, dtype=np.int64)
    filled = np.flatnonzero(np.diff(csr.indptr))
    if len(filled):
        starts = csr.indptr[filled]
        latest[filled] = np.maximum.reduceat(days, starts)
        earliest[filled] = np.minimum.reduceat(days, starts)
    for family in p.fairness.values():
        latest[family.rows] = -1
        latest[family.cut_rows] = -1
    latest[latest >= p.data.days] = -1
    earliest[latest < 0] = -1
    return latest, earliest


def _solve_window(
    matrix: sp.csc_matrix,
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    priced: np.ndarray,
    start: np.ndarray,
    options: SolverOptions,
    time_limit: float | None = None,
) -> tuple[np.ndarray | None, int]:
    """Maximise cost . x over the window's LP (columns of `matrix`), by column generation over
    the columns flagged `priced` (the master starts with every other one and `start`). The
    optimal x (None: no optimum) and the rounds it took."""
    n = matrix.shape[1]
    inside = ~priced
    inside[start] = True
    members = np.flatnonzero(inside)
    h = configured_highs(options)
    sub = matrix[:, members]
    h.passModel(
        len(members),
        matrix.shape[0],
        int(sub.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize),
        0.0,
        cost[members],
        lower[members],
        upper[members],
        row_lower,
        row_upper,
        sub.indptr.astype(np.int32),
        sub.indices.astype(np.int32),
        sub.data.astype(float),
        np.zeros(len(members), dtype=np.int32),
    )
    transposed = matrix.T.tocsr()
    pool = np.flatnonzero(priced)
    retired = np.zeros(n, dtype=bool)
    rounds = 0
    strategy = 1  # the dual simplex first, the primal after columns are added
    clock = time.perf_counter()
    while True:
        h.setOptionValue("simplex_strategy", strategy)
        if time_limit is not None:
            h.setOptionValue("time_limit", max(0.01, time_limit - (time.perf_counter() - clock)))
        h.run()
        rounds += 1
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None, rounds
        solution = h.getSolution()
        y = _array(solution.row_dual)
        # every column's reduced cost in one product: the same sums, row by row, as the
        # candidates' rows sliced out of A^T first (a copy per round; track pyrest)
        reduced = cost - transposed @ y
        open_ = pool[~inside[pool]]
        gain = reduced[open_]
        improving = open_[gain > PRICE_TOL]
        if not len(improving) or rounds >= MAX_ROUNDS:
            x = np.zeros(n)
            x[members] = _array(solution.col_value)
            return x, rounds
        if len(improving) > MAX_ENTERING:  # the most improving (ties: the lower index)
            best = np.argsort(-gain[gain > PRICE_TOL], kind="stable")[:MAX_ENTERING]
            improving = np.sort(improving[best])
        members = _retire(
            h, members, inside, retired, priced, lower, reduced, _array(solution.col_value)
        )
        block = matrix[:, improving]
        h.addCols(
            len(improving),
            cost[improving],
            lower[improving],
            upper[improving],
            int(block.nnz),
            block.indptr.astype(np.int32),
            block.indices.astype(np.int32),
            block.data.astype(float),
        )
        inside[improving] = True
        members = np.concatenate([members, improving])
        strategy = 4


def _array(values: list[float]) -> np.ndarray:
    """A HiGHS solution vector (a list of floats in highspy) as floats: np.fromiter, 40% less
    CPU than np.asarray's type discovery, the same values (track pyrest2)."""
    return np.fromiter(values, dtype=np.float64, count=len(values))


def _retire(
    h: highspy.Highs,
    members: np.ndarray,
    inside: np.ndarray,
    retired: np.ndarray,
    priced: np.ndarray,
    lower: np.ndarray,
    reduced: np.ndarray,
    solution: np.ndarray,
) -> np.ndarray:
    """Delete from `h` (whose columns are `members`, in order) the priced columns at 0 with
    lower bound 0 and a reduced cost (`reduced`, of every column) below -RETIRE_TOL (nonbasic:
    a basic column's is 0), at 0 in `solution` (the master's values, in `members`' order),
    never retired before; `inside` and `retired` follow. The members left, in order. The LP
    optimum is unchanged: a retired column is priced like any outside the master and re-enters
    when it improves; retired once at most, so the rounds still end."""
    at = np.flatnonzero(priced[members] & ~retired[members])
    held = members[at]
    values = solution[at]
    gain = reduced[held]
    out = at[(gain < -RETIRE_TOL) & (values == 0.0) & (lower[held] == 0.0)]
    if not len(out):
        return members
    h.deleteCols(len(out), out.astype(np.int32))
    inside[members[out]] = False
    retired[members[out]] = True
    return np.delete(members, out)


def window_plan(
    p: PlanModel,
    options: SolverOptions | None = None,
    *,
    window: int = WINDOW,
    step: int = STEP,
    start: np.ndarray | None = None,
    time_limit: float | None = None,
) -> tuple[np.ndarray, WindowStats]:
    """A whole plan of the planner's first LP (full-length values), from a rolling horizon of
    window LPs of `window` days, each keeping its first `step` days (module docstring).
    `start`: full-model movement columns each window's master starts with (those in it).
    A window without an optimum (out of `time_limit` seconds) ends the plan there: the days
    after it stay 0 (`WindowStats.complete` False)."""
    options = options or SolverOptions()
    T = p.data.days
    cost = p.lives - CLEANUP_COST * p.logistics
    day, last = column_days(p)
    matrix = p.matrix.tocsr()
    latest, earliest = row_days(p, day, matrix)
    limit = np.zeros(p.shape[0], dtype=bool)
    limit[p.cohort_rows] = True
    limit &= latest >= 0
    movement = np.zeros(p.shape[1], dtype=bool)
    movement[p.ship.cols] = True
    movement[p.transfer.cols] = True
    if len(p.uses):  # a shipment's binary goes with it
        movement[p.uses] = True
    seeded = np.zeros(p.shape[1], dtype=bool)
    if start is not None:
        seeded[np.asarray(start, dtype=np.int64)] = True
    x = np.zeros(p.shape[1])
    a = 0  # (before today no movement exists: those windows only settle the patients)
    windows = rounds = 0
    clock = time.perf_counter()
    while a < T:
        e = min(T, a + window)
        keep = e if e == T else min(e, a + step)
        rows = np.flatnonzero(
            ((latest >= a) & (latest < e)) | (limit & (earliest < e) & (latest >= a))
        )
        cols = np.flatnonzero((day >= a) & (day < e) & (last < e))
        block = matrix[rows]
        fixed = block @ x  # the days before a, as the windows before chose them
        sub = block[:, cols].tocsc()
        values, r = _solve_window(
            sub,
            cost[cols],
            p.col_lower[cols],
            p.col_upper[cols],
            p.row_lower[rows] - fixed,
            p.row_upper[rows] - fixed,
            movement[cols],
            np.flatnonzero(seeded[cols]),
            options,
            None if time_limit is None else time_limit - (time.perf_counter() - clock),
        )
        windows += 1
        rounds += r
        if values is None:
            return x, WindowStats(windows, rounds, float(cost @ x), False)
        kept = day[cols] < keep
        x[cols[kept]] = values[kept]
        # the lookahead's movements start the next window's master (it re-solves those days)
        ahead = cols[~kept & movement[cols] & (np.abs(values) > 1e-9)]
        seeded[ahead] = True
        a = keep
    return x, WindowStats(windows, rounds, float(cost @ x), True)


def applies(options: SolverOptions) -> bool:
    """Whether the engine seeds by `seed_columns` (where colgen_seed's greedy seed applies):
    only without a time limit. The window LPs cost tens of seconds at 1,000 x 90 (22-35 CPU-s;
    BENCHMARKS.md, "window"); cut by a share of a budget they would end at a load-dependent
    window, and the seed (hence which of several optimal plans is returned) with them. Under a
    time limit the greedy seed, whose 0.1-0.3 s the planner's reserves were sized with."""
    return options.time_limit is None


def seed_columns(
    p: PlanModel,
    options: SolverOptions | None = None,
    *,
    window: int = WINDOW,
    step: int = STEP,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Full-model movement columns nonzero in `window_plan`'s plan (each window started
    with the `start` columns in it), to start the column generation's master with. A plan the
    windows do not complete (a window LP without an optimum) gives `start` itself (the greedy
    seed, as without this module), and so does a model below MIN_CANDIDATES movement
    candidates. No time limit of its own: see `applies`."""
    return seed_plan(p, options, window=window, step=step, start=start)[0]


def seed_plan(
    p: PlanModel,
    options: SolverOptions | None = None,
    *,
    window: int = WINDOW,
    step: int = STEP,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """`seed_columns` and the whole plan they come from (full-length values, feasible in the
    LP; None where the seed is `start`): the column generation's first LP starts from a basis
    crossed over from it (colgen.ColumnGeneration.start_from, track growth4)."""
    if len(p.ship.cols) + len(p.transfer.cols) < MIN_CANDIDATES:
        none = np.zeros(0, dtype=np.int64) if start is None else np.asarray(start, np.int64)
        return none, None
    x, stats = window_plan(
        p,
        options,
        window=window,
        step=step,
        start=start,
    )
    if not stats.complete:
        none = np.zeros(0, dtype=np.int64) if start is None else np.asarray(start, np.int64)
        return none, None
    moves = p.movements
    return np.sort(moves[np.abs(x[moves]) > 1e-9]), x
