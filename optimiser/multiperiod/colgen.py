"""Large instances: the LP relaxation by column generation, then rounding and a repair LP.

The model has one integer column per lane and day (ship, transfer) and one patient-move column
per patient lane and day, but an optimal plan uses few of them. The restricted master holds
every other column and the movement columns priced in so far; after each LP solve the reduced
cost c_j - A_j^T y of every movement column is computed at once (one sparse product) and the
improving ones are added (primal simplex then re-optimises from the current basis). When none
improves, the LP optimum of the full model is reached: U, an upper bound on the lives of any
plan. The planner's (`movements_first`) prices the unit movements alone until none improves,
then every candidate: a patient move and the patients sent on it price in only together, and
sent early they crowd the rounds (300 x 90, waiting 2 days and patient transfers: the two LPs
15.7-20.8 CPU-s -> 12.1-16.4; BENCHMARKS.md, "Waiting and patient transfers 2"). An LP whose
costs alone changed since the last one (`warm`) re-starts from that LP's basis with the primal
simplex (still primal feasible); side solves (`repair`) put that basis back.

A plan is then made whole (methods/whole.py) and `repair` re-optimises the patients with those
movements fixed: its lives L are those of a feasible plan, so the gap (U - L) / U is proved.
When that gap is above the tolerance, methods/polish.py searches near it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import highspy
import numpy as np
import scipy.sparse as sp

from models.multiperiod import MultiPeriodData, PlanModel
from optimiser.multiperiod import colgen_manage
from optimiser.solver import (
    MatrixHighsModel,
    SolverOptions,
    SolverRun,
    SolveStatus,
    note_limit,
)

PRICE_TOL = 1e-7  # a column enters when its reduced cost improves the objective by more
MAX_ENTERING = 20_000  # columns added per round (the most improving first)
# ... and, for the planner (engine.py passes it), in a round with more improving columns than
# that, at most this many per receiving row (the units-on-hand row of the region and day a
# movement arrives in): the most improving columns of a round crowd into the same few rows
# (the same arrival reached from several depots and days), of which one is used. In both
# stages of `movements_first`. BENCHMARKS.md, "Planner growth 2" and "Per-row cap after the
# cliff fix". (Not measured on the stochastic compact master: its callers keep the plain
# policy.)
MAX_ENTERING_PER_ROW = 5
RECEIVING_BLOCK = 100_000  # candidates whose receiving rows are found at once
MAX_ROUNDS = 200
REPAIR_BASES = 4  # repair LPs' bases remembered (a rounded branch repairs two plans)
SIMPLEX_DUAL = 1
SIMPLEX_PRIMAL = 4
TRACE = False


@dataclass(frozen=True)
class LpResult:
    status: SolveStatus
    objective: float | None
    values: np.ndarray | None  # full-length
    seconds: float
    rounds: int
    duals: np.ndarray | None = None  # row duals (`repair` with `duals`: methods/lift.py)


class ColumnGeneration:
    """The restricted master of the planner's model (PlanModel) in HiGHS, grown by pricing
    movement columns.

    `members[i]` is the full-model column of master column i (-1: a phase-1 slack).
    """

    def __init__(
        self,
        program: PlanModel,
        data: MultiPeriodData,
        options: SolverOptions,
        *,
        movements_first: bool = False,
        max_per_row: int | None = None,
    ) -> None:
        p = program
        self.program, self.data = p, data
        N = p.shape[1]
        # Priced columns: shipments and transfers (integer), patient moves and the patients
        # sent on them (continuous): an optimal plan uses few of each (a patient sent is of use
        # only with a move priced in; 300 x 90, waiting 2 days: the LP 25 s -> 16 s, BENCHMARKS.md
        # "Waiting and patient transfers at scale"). Everything else stays in the master.
        self.candidates = np.concatenate(
            [p.ship.cols, p.transfer.cols, p.ptransfer.cols, p.send.cols]
        )
        self.partner = np.full(N, -1, dtype=np.int64)  # ship column -> its 'uses' binary
        if len(p.uses):
            self.partner[p.ship.cols] = p.uses
        held = np.ones(N, dtype=bool)
        held[self.candidates] = False
        held[p.uses] = False
        base = np.nonzero(held)[0]
        # integer columns always in the master: max_coverage_gap's binary z (fixed per branch
        # by the engine, fixed in the repair LP, integer in polish)
        self.base_integer = base[p.integrality[base] == 1]
        self.lower, self.upper = p.col_lower.copy(), p.col_upper.copy()  # current bounds
        self.matrix = p.matrix.tocsc()
        # reduced costs c_j - A_j^T y from A^T (a CSR view of the CSC matrix: no copy of the
        # candidates' columns, 20 MB on 300 x 90 with waiting and patient transfers)
        self.transposed = self.matrix.T
        # the continuous candidates (patient moves): priced into a repair LP too (`repair`)
        self.continuous = np.nonzero(p.integrality[self.candidates] == 0)[0]
        self.position = np.full(N, -1, dtype=np.int64)
        self.position[base] = np.arange(len(base))
        self.members = base.copy()
        self.max_entering = MAX_ENTERING  # columns added per round (a caller may change it)
        # column management (colgen_manage.retire; the planner's engine turns it on): priced-in
        # candidates at 0 with a clearly non-improving reduced cost leave the master, once each
        self.retire_columns = False
        self.retired = np.zeros(N, dtype=bool)
        # `movements_first`: each LP prices the unit movements alone until none improves, then
        # every candidate (patient moves, patients sent) on the same duals (`_generate`)
        self.first_stage = np.ones(len(self.candidates), dtype=bool)
        if movements_first:
            self.first_stage[len(p.ship.cols) + len(p.transfer.cols) :] = False
        self.max_per_row = max_per_row  # ... and per receiving row (None: no such cap)
        self.highs = MatrixHighsModel(
            p.col_lower[base],
            p.col_upper[base],
            self.matrix[:, base],
            p.row_lower,
            p.row_upper,
            np.zeros(len(base), dtype=np.int8),
            options,
        )
        self.translate_seconds = self.highs.translate_seconds
        # the optimal bases of the last repair LPs, by the whole values they fixed (`repair`)
        self.repaired: list[tuple[np.ndarray, np.ndarray, highspy.HighsBasis]] = []
        self.rows = p.shape[0]
        # Phase-1 slacks: one per fairness row (+1 on >= rows, -1 on <= rows), fixed at 0
        # except while looking for a feasible master.
        families = [f.rows for f in p.fairness.values()] + [f.cut_rows for f in p.fairness.values()]
        rows = np.concatenate(families) if families else np.zeros(0)
        self.slack_rows = rows.astype(np.int64)
        sign = np.where(np.isfinite(p.row_lower[self.slack_rows]), 1.0, -1.0)
        k = len(self.slack_rows)
        block = sp.csc_matrix((sign, (self.slack_rows, np.arange(k))), shape=(self.rows, k))
        self.slack = self.highs.add_columns(np.zeros(k), np.zeros(k), np.zeros(k), block)
        self.members = np.concatenate([self.members, np.full(k, -1, dtype=np.int64)])
        self.start: np.ndarray | None = None  # `start_from`'s plan, for the next LP

    # ---- columns
    def include(self, cols: np.ndarray) -> None:
        """Add full-model columns (and their partners) that are not in the master yet."""
        cols = np.asarray(cols, dtype=np.int64)
        partners = self.partner[cols]
        cols = np.unique(np.concatenate([cols, partners[partners >= 0]]))
        cols = cols[self.position[cols] < 0]
        if not len(cols):
            return
        p = self.program
        added = self.highs.add_columns(
            np.zeros(len(cols)), p.col_lower[cols], p.col_upper[cols], self.matrix[:, cols]
        )
        self.position[cols] = added
        self.members = np.concatenate([self.members, cols])

    def full(self, values: np.ndarray) -> np.ndarray:
        """Full-model values of a master solution (slacks dropped)."""
        x = np.zeros(self.program.shape[1])
        real = self.members >= 0
        x[self.members[real]] = values[: len(self.members)][real]
        return x

    def master(self, values: np.ndarray) -> np.ndarray:
        """Master values of a full-model vector (slacks 0)."""
        return np.where(self.members >= 0, values[np.maximum(self.members, 0)], 0.0)

    def set_cost(self, cost: np.ndarray, maximize: bool, slack_cost: float = 0.0) -> None:
        self.highs.set_cost(
            np.where(self.members >= 0, cost[np.maximum(self.members, 0)], slack_cost), maximize
        )

    # ---- the LP by column generation
    def solve_lp(
        self,
        cost: np.ndarray,
        maximize: bool,
        time_limit: float | None,
        active_rows: np.ndarray | None = None,
        *,
        warm: bool = False,
    ) -> LpResult:
        """The full model's LP optimum. With fairness rows on (`active_rows`), a phase 1 first
        looks for a feasible master: slacks on those rows, their sum minimised while columns
        are priced in; if it cannot reach zero, the full LP (so the model) is infeasible.

        `warm`: only the costs changed since the last LP (same bounds, rows, active rows; a
        `repair` between them restores its basis), so the basis HiGHS holds is still primal
        feasible and the primal simplex re-optimises from it. The dual simplex, HiGHS's choice
        after bounds change, took 26,352 iterations (5.3 s) where the primal took 2,378
        (2.8 s) on 400 x 90 (BENCHMARKS.md, "Planner growth"). Any basis gives the same
        optimum: `warm` is about speed only."""
        start = time.perf_counter()
        h = self.highs
        h.set_integrality(np.arange(len(self.members)), False)
        rounds = 0
        on = (
            np.isin(self.slack_rows, active_rows)
            if active_rows is not None
            else np.zeros(len(self.slack), bool)
        )
        slacks = self.slack[on]
        begin, self.start = self.start, None
        if begin is not None and not len(slacks) and not warm:
            warm = self._cross_over(begin, cost, maximize)
        if len(slacks):
            h.set_col_bounds_arrays(slacks, np.zeros(len(slacks)), np.full(len(slacks), np.inf))
            try:
                first = self._generate(
                    np.zeros_like(cost), True, time_limit, start, slack_cost=-1.0, warm=warm
                )
            finally:
                h.set_col_bounds_arrays(slacks, np.zeros(len(slacks)), np.zeros(len(slacks)))
            rounds += first.rounds
            if first.status is not SolveStatus.OPTIMAL or first.objective is None:
                return LpResult(first.status, None, None, time.perf_counter() - start, rounds)
            if first.objective < -1e-6:
                return LpResult(
                    SolveStatus.INFEASIBLE, None, None, time.perf_counter() - start, rounds
                )
        out = self._generate(cost, maximize, time_limit, start, warm=warm and not len(slacks))
        return LpResult(
            out.status, out.objective, out.values, time.perf_counter() - start, rounds + out.rounds
        )

    def _generate(
        self,
        cost: np.ndarray,
        maximize: bool,
        time_limit: float | None,
        start: float,
        slack_cost: float = 0.0,
        warm: bool = False,
    ) -> LpResult:
        h = self.highs
        rounds = 0
        # The dual simplex first (bounds or rows changed since the last basis), the primal
        # when only costs did (`warm`); once columns are added to an optimal basis (still
        # primal feasible), the primal.
        strategy = SIMPLEX_PRIMAL if warm else SIMPLEX_DUAL
        staged = not self.first_stage.all()  # movements priced alone first (`__init__`)
        while True:
            self.set_cost(cost, maximize, slack_cost)
            h.set_option("simplex_strategy", strategy)
            left = (
                None
                if time_limit is None
                else max(0.05, time_limit - (time.perf_counter() - start))
            )
            tick = time.perf_counter()
            run = h.solve(left)
            rounds += 1
            if TRACE:
                print(
                    f"    LP round {rounds}: {time.perf_counter() - tick:.2f}s, "
                    f"{len(self.members)} columns"
                )
            if run.values is None or run.status is not SolveStatus.OPTIMAL:
                values = None if run.values is None else self.full(run.values)
                # HiGHS finding the restricted master infeasible proves nothing of the full
                # model (columns not priced in yet; and every fairness row has its phase-1
                # slack): only phase 1 ending above zero does (solve_lp)
                status = SolveStatus.ERROR if run.status is SolveStatus.INFEASIBLE else run.status
                return LpResult(status, run.objective, values, time.perf_counter() - start, rounds)
            y = h.row_duals()[: self.rows]
            reduced = cost[self.candidates] - (self.transposed @ y)[self.candidates]
            gain = reduced if maximize else -reduced
            open_ = (gain > PRICE_TOL) & (self.position[self.candidates] < 0)
            improving = np.nonzero(open_ & self.first_stage if staged else open_)[0]
            if staged and not len(improving):
                # no movement improves: every candidate is priced from here on (the LP optimum
                # is reached only when none of them improves)
                staged = False
                improving = np.nonzero(open_)[0]
            if not len(improving) or rounds >= MAX_ROUNDS:
                # columns still price out after MAX_ROUNDS: the method's own limit, not time
                status = SolveStatus.OPTIMAL
                if len(improving):
                    status = SolveStatus.ITERATION_LIMIT
                    note_limit(
                        f"column generation's round limit ({MAX_ROUNDS:,} round"
                        + ("s)" if MAX_ROUNDS != 1 else ")")
                    )
                return LpResult(
                    status,
                    run.objective,
                    self.full(run.values),
                    time.perf_counter() - start,
                    rounds,
                )
            if time_limit is not None and time.perf_counter() - start >= time_limit:
                # out of time: the restricted master's optimum is a plan of the LP, not its
                # optimum (no new round: it would start past the deadline)
                return LpResult(
                    SolveStatus.TIME_LIMIT,
                    run.objective,
                    self.full(run.values),
                    time.perf_counter() - start,
                    rounds,
                )
            entering = self.entering(improving, gain[improving])
            if self.retire_columns:
                colgen_manage.retire(self, gain, run.values)
            self.include(self.candidates[entering])
            strategy = SIMPLEX_PRIMAL  # the basis stays primal feasible: re-optimise from it

    def start_from(self, values: np.ndarray) -> None:
        """Start the next LP (`solve_lp`, without fairness rows on and not `warm`) from a
        basis crossed over from `values`, a whole plan feasible in the master (full-length:
        colgen_window's window plan, whose movements the master holds). HiGHS's crossover
        pushes it to a vertex (0.7 CPU-s at 800 x 90) and the primal simplex goes on from
        there, instead of the dual simplex from nothing (56,019 iterations, 9.7-11 CPU-s at
        1,600 x 90; BENCHMARKS.md, "growth4"). About speed only: every candidate is still
        priced until none improves, so the LP optimum is the same."""
        self.start = np.asarray(values, dtype=float)

    def _cross_over(self, values: np.ndarray, cost: np.ndarray, maximize: bool) -> bool:
        """HiGHS's crossover on the master from `values` (full-length), the LP's costs set:
        True when it leaves a valid basis (the primal simplex starts there), else the solver
        is cleared (the dual simplex from nothing, as without a start)."""
        h = self.highs
        self.set_cost(cost, maximize)
        solution = highspy.HighsSolution()
        solution.col_value = np.concatenate(
            [self.master(values), np.zeros(h.num_cols - len(self.members))]
        ).tolist()
        status = h.highs.crossover(solution)
        if status is not highspy.HighsStatus.kError and h.highs.getBasis().valid:
            return True
        h.highs.clearSolver()
        return False

    @cached_property
    def receiving(self) -> np.ndarray:
        """The receiving row of each candidate (`receiving_rows`), for the cap per row: from
        the rows of A^T, a block of candidates at a time (no copy of every candidate's column
        at once: `transposed`)."""
        parts = [
            receiving_rows(self.transposed[self.candidates[i : i + RECEIVING_BLOCK]])
            for i in range(0, len(self.candidates), RECEIVING_BLOCK)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def entering(self, improving: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """The candidates (indices into `candidates`, sorted) of a round: every `improving`
        one when they fit in the round (`max_entering`); else, of those (with their `gain`),
        the `max_per_row` most improving into each receiving row (when set), then the
        `max_entering` most improving of those (ties: the lower index first). The cap only
        chooses which columns a round that must be cut takes: a round they all fit in takes
        them all, as without it (capped there too, plain 300 x 90 reached a vertex whose
        rounding needed the transfer step, 7.5 CPU-s; BENCHMARKS.md, "Per-row cap after the
        cliff fix")."""
        if len(improving) <= self.max_entering:
            return np.sort(improving)
        ranked = improving[np.argsort(-gain, kind="stable")]
        if self.max_per_row is not None:
            rows = self.receiving[ranked]
            by_row = np.argsort(rows, kind="stable")  # within a row, the most improving first
            sorted_rows = rows[by_row]
            starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
            sizes = np.diff(np.r_[starts, len(sorted_rows)])
            rank = np.arange(len(sorted_rows)) - np.repeat(starts, sizes)
            kept = np.zeros(len(ranked), dtype=bool)
            kept[by_row[rank < self.max_per_row]] = True
            ranked = ranked[kept]
        return np.sort(ranked[: self.max_entering])

    # ---- the LP basis kept across a side solve
    def save_basis(self) -> highspy.HighsBasis | None:
        """HiGHS's current basis (None: none valid), for `restore_basis` after a side solve."""
        basis = self.highs.highs.getBasis()
        return basis if basis.valid else None

    def restore_basis(self, basis: highspy.HighsBasis | None) -> bool:
        """Put back a basis saved by `save_basis`, the bounds and rows being those it was
        saved with: the next LP re-starts from it, not from the side solve's (a repair LP's
        basis has every movement fixed at a whole value). Columns added since are non-basic
        at their lower bound (every priced column's is finite: 0). False: not put back (none,
        or the model's rows changed since)."""
        if basis is None:
            return False
        # HiGHS checks a basis's sizes (and its count of basic entries) and keeps its own when
        # they do not fit: the basis saved fits when no column was added since, and is then put
        # back without reading its statuses into Python (a list of 0.8 million entries at 1,600
        # x 90, 0.2 s a call; BENCHMARKS.md, "growth4")
        if self.highs.highs.setBasis(basis) == highspy.HighsStatus.kOk:
            return True
        extra = self.highs.num_cols - len(basis.col_status)
        if extra < 0 or len(basis.row_status) != self.highs.num_rows:
            return False
        if extra:
            basis.col_status = list(basis.col_status) + [highspy.HighsBasisStatus.kLower] * extra
        self.highs.highs.setBasis(basis)
        return True

    # ---- rounding and repair
    def integer_columns(self) -> np.ndarray:
        """The integer columns in the master: movements, `uses` binaries, z."""
        p = self.program
        cols = np.concatenate([p.movements, p.uses])
        return np.concatenate([cols[self.position[cols] >= 0], self.base_integer])

    def fix_columns(self, cols: np.ndarray, values: np.ndarray | None) -> None:
        """Fix full-model columns held in the master at `values` (None: their own bounds)."""
        p = self.program
        if values is None:
            self.bound_columns(cols, p.col_lower[cols], p.col_upper[cols])
        else:
            self.bound_columns(cols, values, values)

    def bound_columns(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set the bounds of full-model columns held in the master (a branch of the caller's:
        repair and neighbourhood restore these, not the model's own bounds)."""
        cols = np.asarray(cols, dtype=np.int64)
        self.lower[cols], self.upper[cols] = lower, upper
        self.highs.set_col_bounds_arrays(self.position[cols], self.lower[cols], self.upper[cols])

    def repair(
        self,
        movements: np.ndarray,
        cost: np.ndarray,
        maximize: bool,
        time_limit: float | None,
        *,
        duals: bool | Callable[[float], bool] = False,
    ) -> LpResult:
        """Fix the integer columns (movements, and z of max_coverage_gap) at `movements`
        (full-length, whole) and re-optimise the rest, pricing in patient moves (continuous
        candidates) until none improves: the master holds those of the LP optimum, and whole
        movements may want others (300 x 90, waiting 2 days and patient transfers: 15.8 lives
        short of the LP bound in the master, none short with them priced in; BENCHMARKS.md,
        "Waiting and patient transfers at scale"). The bounds, and the basis of the LP before
        it, are restored afterwards. `duals`: the repair LP's row duals too (methods/lift.py); a
        callable: only when it is true of the repair LP's objective (a plan short of the bound)."""
        start = time.perf_counter()
        h = self.highs
        # the plan's movements enter first: HiGHS keeps its basis valid across added columns
        # (nonbasic at their lower bound, 0), so the basis saved has the master's size and is
        # put back cheaply (`restore_basis`)
        nonzero = self.candidates[np.nonzero(movements[self.candidates])[0]]
        self.include(nonzero)
        basis = self.save_basis()
        if len(self.continuous):
            # a repair that prices patient moves in starts on a fresh copy of the master, its
            # basis put back: the column generation's growth leaves HiGHS holding memory the
            # repair's own growth then adds to (300 x 90, waiting 2 days and patient transfers:
            # the plan's peak 15-30 MB lower; BENCHMARKS.md, "mem5")
            h.renew()
            self.restore_basis(basis)
        cols = self.integer_columns()
        pos = self.position[cols]
        h.set_col_bounds_arrays(pos, movements[cols], movements[cols])
        self.set_cost(cost, maximize)
        h.set_option("simplex_strategy", SIMPLEX_DUAL)
        y = None
        try:
            run, rounds = self._price_continuous(cost, maximize, time_limit, start)
            if run.status is SolveStatus.OPTIMAL:
                self._keep_repaired(cols, movements[cols])
                if duals is True or (
                    callable(duals) and run.objective is not None and duals(run.objective)
                ):
                    y = h.row_duals()[: self.rows]
        finally:
            h.set_col_bounds_arrays(pos, self.lower[cols], self.upper[cols])
            self.restore_basis(basis)
        values = None if run.values is None else self.full(run.values)
        if values is not None:
            values[cols] = movements[cols]
        return LpResult(run.status, run.objective, values, time.perf_counter() - start, rounds, y)

    def _keep_repaired(self, cols: np.ndarray, values: np.ndarray) -> None:
        """Remember the basis HiGHS holds (a repair LP's optimum) for `repair_basis`."""
        basis = self.save_basis()
        if basis is not None:
            self.repaired = [*self.repaired[-(REPAIR_BASES - 1) :], (cols, values.copy(), basis)]

    def repair_basis(self, values: np.ndarray) -> highspy.HighsBasis | None:
        """The optimal basis of the last repair LP whose integer columns were fixed where
        `values` (full-length) has them, or None. A plan's patient flow settled for its
        movements (methods/settle.py) is that LP again: from this basis it is re-solved in a
        few primal pivots instead of 1.3-2 s of dual simplex from the LP's (300 x 90, waiting 2
        days and patient transfers). Any basis gives the same optimum: about speed only."""
        for cols, fixed, basis in reversed(self.repaired):
            if np.array_equal(values[cols], fixed):
                return basis
        return None

    def _price_continuous(
        self, cost: np.ndarray, maximize: bool, time_limit: float | None, start: float
    ) -> tuple[SolverRun, int]:
        """Solve the master (its integer columns fixed by the caller), adding the continuous
        candidates that improve it until none does (the primal simplex from the basis after
        each addition); the last run and the number of runs."""
        h = self.highs
        pool = self.candidates[self.continuous]
        rounds = 0
        while True:
            spent = time.perf_counter() - start
            run = h.solve(None if time_limit is None else max(0.05, time_limit - spent))
            rounds += 1
            if run.values is None or run.status is not SolveStatus.OPTIMAL or not len(pool):
                return run, rounds
            y = h.row_duals()[: self.rows]
            reduced = cost[pool] - (self.transposed @ y)[pool]
            gain = reduced if maximize else -reduced
            improving = np.nonzero((gain > PRICE_TOL) & (self.position[pool] < 0))[0]
            late = time_limit is not None and time.perf_counter() - start >= time_limit
            if not len(improving) or rounds >= MAX_ROUNDS or late:
                return run, rounds
            self.include(pool[improving])
            self.set_cost(cost, maximize)
            h.set_option("simplex_strategy", SIMPLEX_PRIMAL)


def receiving_rows(priced: sp.csr_matrix) -> np.ndarray:
    """For each priced column (a row of `priced`, candidates x model rows), the row it
    delivers into: that of its most negative coefficient (a shipment's or transfer's
    units-on-hand row on arrival; a patient move's first such row), -1 for an empty column."""
    out = np.full(priced.shape[0], -1, dtype=np.int64)
    m = priced.tocsr(copy=True)
    m.sort_indices()
    lengths = np.diff(m.indptr)
    filled = np.flatnonzero(lengths)
    if not len(filled):
        return out
    owner = np.repeat(np.arange(m.shape[0]), lengths)
    least = np.minimum.reduceat(m.data, m.indptr[filled])
    lowest = np.full(m.shape[0], np.inf)
    lowest[filled] = least
    hit = np.flatnonzero(m.data == lowest[owner])
    first = np.r_[True, owner[hit][1:] != owner[hit][:-1]]
    out[owner[hit][first]] = m.indices[hit][first]
    return out
