"""Large instances: the LP relaxation by column generation, then rounding and a repair LP.

The model has one integer column per lane and day (ship, transfer) and one patient-move column
per patient lane and day, but an optimal plan uses few of them. The restricted master holds
every other column and the movement columns priced in so far; after each LP solve the reduced
cost c_j - A_j^T y of every movement column is computed at once (one sparse product) and the
improving ones are added (primal simplex then re-optimises from the current basis). When none
improves, the LP optimum of the full model is reached: U, an upper bound on the lives of any
plan.

A plan is then made whole: shipments and transfers are rounded lane by lane on their
cumulative totals (so each lane ships within half a unit of the LP all along), walked through
the days so that no depot or region ever sends units it does not have (nor below donor
protection), at most M shipments a day kept; the repair LP re-optimises the patients with those
movements fixed. Its lives L are those of a feasible plan, so the gap (U - L) / U is proved.
When that gap is above the tolerance, `neighbourhood` runs branch-and-bound on the few
movement columns where the rounded plan and the LP disagree (every other one fixed: a small
MIP, seconds), before `polish` (branch-and-bound on the whole restricted master) is tried.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.multiperiod import MultiPeriodData
from optimiser.multiperiod.fastpath import LinearProgram
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

PRICE_TOL = 1e-7  # a column enters when its reduced cost improves the objective by more
MAX_ENTERING = 20_000  # columns added per round (the most improving first)
MAX_ROUNDS = 200
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


class ColumnGeneration:
    """The restricted master of a LinearProgram in HiGHS, grown by pricing movement columns.

    `members[i]` is the full-model column of master column i (-1: a phase-1 slack).
    """

    def __init__(
        self, program: LinearProgram, data: MultiPeriodData, options: SolverOptions
    ) -> None:
        p = program
        self.program, self.data = p, data
        N = p.shape[1]
        # Priced columns: shipments and transfers (integer) and patient moves (continuous): an
        # optimal plan uses few of each. Everything else stays in the master from the start.
        self.candidates = np.concatenate([p.cols["ship"], p.cols["transfer"], p.cols["ptransfer"]])
        self.partner = np.full(N, -1, dtype=np.int64)  # ship column -> its 'uses' binary
        if "uses" in p.cols:
            self.partner[p.cols["ship"]] = p.cols["uses"]
        held = np.ones(N, dtype=bool)
        held[self.candidates] = False
        if "uses" in p.cols:
            held[p.cols["uses"]] = False
        base = np.nonzero(held)[0]
        # integer columns always in the master: max_coverage_gap's binary z (fixed per branch
        # by the engine, fixed in the repair LP, integer in polish)
        self.base_integer = base[p.integrality[base] == 1]
        self.lower, self.upper = p.col_lower.copy(), p.col_upper.copy()  # current bounds
        self.matrix = p.matrix.tocsc()
        self.priced = self.matrix[:, self.candidates].T.tocsr()
        self.position = np.full(N, -1, dtype=np.int64)
        self.position[base] = np.arange(len(base))
        self.members = base.copy()
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
        self.rows = p.shape[0]
        # Phase-1 slacks: one per fairness row (+1 on >= rows, -1 on <= rows), fixed at 0
        # except while looking for a feasible master.
        families = [*p.fairness_rows.values(), *p.cut_rows.values()]
        rows = np.concatenate(families) if families else np.zeros(0)
        self.slack_rows = rows.astype(np.int64)
        sign = np.where(np.isfinite(p.row_lower[self.slack_rows]), 1.0, -1.0)
        k = len(self.slack_rows)
        block = sp.csc_matrix((sign, (self.slack_rows, np.arange(k))), shape=(self.rows, k))
        self.slack = self.highs.add_columns(np.zeros(k), np.zeros(k), np.zeros(k), block)
        self.members = np.concatenate([self.members, np.full(k, -1, dtype=np.int64)])

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
    ) -> LpResult:
        """The full model's LP optimum. With fairness rows on (`active_rows`), a phase 1 first
        looks for a feasible master: slacks on those rows, their sum minimised while columns
        are priced in; if it cannot reach zero, the full LP (so the model) is infeasible."""
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
        if len(slacks):
            h.set_col_bounds_arrays(slacks, np.zeros(len(slacks)), np.full(len(slacks), np.inf))
            try:
                first = self._generate(
                    np.zeros_like(cost), True, time_limit, start, slack_cost=-1.0
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
        out = self._generate(cost, maximize, time_limit, start)
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
    ) -> LpResult:
        h = self.highs
        rounds = 0
        # The dual simplex first (bounds, rows or costs changed since the last basis), then,
        # once columns are added to an optimal basis (still primal feasible), the primal.
        strategy = SIMPLEX_DUAL
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
                return LpResult(
                    run.status, run.objective, values, time.perf_counter() - start, rounds
                )
            y = h.row_duals()[: self.rows]
            reduced = cost[self.candidates] - self.priced @ y
            gain = reduced if maximize else -reduced
            improving = np.nonzero((gain > PRICE_TOL) & (self.position[self.candidates] < 0))[0]
            if not len(improving) or rounds >= MAX_ROUNDS:
                status = SolveStatus.OPTIMAL if not len(improving) else SolveStatus.TIME_LIMIT
                return LpResult(
                    status,
                    run.objective,
                    self.full(run.values),
                    time.perf_counter() - start,
                    rounds,
                )
            if len(improving) > MAX_ENTERING:
                improving = improving[np.argsort(-gain[improving], kind="stable")[:MAX_ENTERING]]
            self.include(self.candidates[np.sort(improving)])
            strategy = SIMPLEX_PRIMAL  # the basis stays primal feasible: re-optimise from it

    # ---- rounding and repair
    def _integer_columns(self) -> np.ndarray:
        """The integer columns in the master: movements, `uses` binaries, z."""
        p = self.program
        movements = np.concatenate([p.cols["ship"], p.cols["transfer"]])
        cols = np.concatenate([movements, p.cols["uses"]]) if "uses" in p.cols else movements
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
        self, movements: np.ndarray, cost: np.ndarray, maximize: bool, time_limit: float | None
    ) -> LpResult:
        """Fix the integer columns (movements, and z of max_coverage_gap) at `movements`
        (full-length, whole) and re-optimise the rest; the bounds are restored afterwards."""
        start = time.perf_counter()
        h = self.highs
        nonzero = self.candidates[np.nonzero(movements[self.candidates])[0]]
        self.include(nonzero)
        cols = self._integer_columns()
        pos = self.position[cols]
        h.set_col_bounds_arrays(pos, movements[cols], movements[cols])
        self.set_cost(cost, maximize)
        h.set_option("simplex_strategy", SIMPLEX_DUAL)
        try:
            run = h.solve(time_limit)
        finally:
            h.set_col_bounds_arrays(pos, self.lower[cols], self.upper[cols])
        values = None if run.values is None else self.full(run.values)
        if values is not None:
            values[cols] = movements[cols]
        return LpResult(run.status, run.objective, values, time.perf_counter() - start, 1)

    def neighbourhood(
        self, cost: np.ndarray, plan: np.ndarray, lp: np.ndarray, time_limit: float | None
    ) -> LpResult:
        """Branch-and-bound on the integer columns where the whole `plan` and the `lp`
        solution differ (relaxation-induced neighbourhood search): every integer column on
        which they agree is fixed there, so the MIP is small; starts from `plan`."""
        t0 = time.perf_counter()
        h = self.highs
        self.include(self.candidates[np.nonzero(plan[self.candidates])[0]])
        cols = self._integer_columns()
        movements = cols[~np.isin(cols, self.base_integer)]  # z stays as its caller set it
        agree = movements[np.abs(plan[movements] - lp[movements]) <= 1e-6]
        pos = self.position[cols]
        h.set_col_bounds_arrays(self.position[agree], plan[agree], plan[agree])
        h.set_integrality(pos, True)
        self.set_cost(cost, True)
        h.set_start(self.master(plan))
        h.set_option("simplex_strategy", SIMPLEX_DUAL)
        try:
            run = h.solve(time_limit)
        finally:
            h.set_integrality(pos, False)
            h.set_col_bounds_arrays(self.position[agree], self.lower[agree], self.upper[agree])
        values = None if run.values is None else self.full(run.values)
        return LpResult(run.status, run.objective, values, time.perf_counter() - t0, 1)

    def polish(self, cost: np.ndarray, start_values: np.ndarray, time_limit: float) -> LpResult:
        """HiGHS branch-and-bound on the restricted master from a known plan (a last resort
        when rounding leaves a gap above the tolerance)."""
        t0 = time.perf_counter()
        h = self.highs
        pos = self.position[self._integer_columns()]
        h.set_integrality(pos, True)
        self.set_cost(cost, True)
        h.set_start(self.master(start_values))
        h.set_option("simplex_strategy", SIMPLEX_DUAL)
        try:
            run = h.solve(time_limit)
        finally:
            h.set_integrality(pos, False)
        values = None if run.values is None else self.full(run.values)
        return LpResult(run.status, run.objective, values, time.perf_counter() - t0, 1)


def round_movements(
    program: LinearProgram,
    data: MultiPeriodData,
    x: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray:
    """Whole shipments and transfers near an LP solution that no depot or region could refuse.

    Lane by lane, the cumulative total is rounded to the nearest whole number (so a lane ships
    within half a unit of the LP at every day). Then, day by day: a depot ships at most what it
    holds and at most M shipments (the largest kept); a region sends at most what it holds above
    donor protection (cuts go first where rounding went up most). Last, the units each region
    receives net by the last day, X_r, are brought within the fairness limits
    lower_r <= X_r <= upper_r (-inf / +inf: no limit; docs/multiperiod.md, "Fairness over the
    horizon"): a region below `lower` gets the missing units (`_top_up`), a region above `upper`
    gives back units it was sent (`_trim`).
    """
    p, d = program, data
    out = np.zeros(p.shape[1])
    sk, sr, sd = p.ship
    ta, td = p.transfer
    n, T, K, B = d.n, d.days, len(d.depots), d.batch_size
    xs = np.maximum(x[p.cols["ship"]], 0.0)
    xt = np.maximum(x[p.cols["transfer"]], 0.0)
    rs = _cumulative_round(xs, sk * n + sr, sd)
    rt = _cumulative_round(xt, ta, td)
    own = d.own
    inflow = d.inflow if d.inflow is not None else np.zeros((n, T))
    arriving = np.zeros((n, T))
    stock = np.zeros(K)
    hand = np.zeros(n)
    ship_days = _by_day(sd, T)
    transfer_days = _by_day(td, T)
    src_all = d.arc_src[ta] if len(ta) else np.zeros(0, dtype=np.int64)
    for day in range(T):
        stock += d.deliveries[:, day]
        idx = ship_days[day]
        if len(idx):
            for k in np.unique(sk[idx]):
                sel = idx[sk[idx] == k]
                if d.max_shipments_per_day is not None:
                    keep = sel[np.argsort(-rs[sel], kind="stable")][: d.max_shipments_per_day]
                    drop = np.setdiff1d(sel, keep)
                    rs[drop] = 0.0
                excess = B * rs[sel].sum() - stock[k]
                if excess > 1e-9:
                    _cut(rs, xs, sel, excess / B)
                stock[k] -= B * rs[sel].sum()
            np.add.at(arriving, (sr[idx], day + d.ship_lead[sk[idx], sr[idx]]), B * rs[idx])
        hand += own[:, day] - (own[:, day - 1] if day else 0.0) + inflow[:, day] + arriving[:, day]
        idx = transfer_days[day]
        if len(idx):
            sent = np.zeros(n)
            np.add.at(sent, src_all[idx], rt[idx])
            keep = np.maximum(d.donor_share * own[:, day], d.held_units()[:, day])
            over = sent - (hand - keep)
            for r in np.nonzero(over > 1e-9)[0]:
                sel = idx[src_all[idx] == r]
                _cut(rt, xt, sel, over[r])
            sent = np.zeros(n)
            np.add.at(sent, src_all[idx], rt[idx])
            hand -= sent
            dst = d.arc_dst[ta[idx]]
            np.add.at(arriving, (dst, day + d.arc_lead[ta[idx]]), rt[idx])
    low = np.full(n, -np.inf) if lower is None else lower
    high = np.full(n, np.inf) if upper is None else upper
    if np.any(np.isfinite(high)):
        _trim(p, d, rs, rt, low, high)
        hand = units_on_hand(p, d, rs, rt)[:, T - 1]
    if np.any(np.isfinite(low)):
        _top_up(p, d, rs, rt, hand, low)
    out[p.cols["ship"]] = rs
    out[p.cols["transfer"]] = rt
    if "uses" in p.cols:
        out[p.cols["uses"]] = (rs > 0).astype(float)
    return out


def units_on_hand(
    p: LinearProgram, d: MultiPeriodData, rs: np.ndarray, rt: np.ndarray
) -> np.ndarray:
    """Units on hand per region and day for whole movements."""
    n = d.n
    sk, sr, sd = p.ship
    ta, td = p.transfer
    change = d.own - np.concatenate([np.zeros((n, 1)), d.own[:, :-1]], axis=1)
    if d.inflow is not None:
        change = change + d.inflow
    np.add.at(change, (sr, sd + d.ship_lead[sk, sr]), d.batch_size * rs)
    if len(ta):
        np.add.at(change, (d.arc_dst[ta], td + d.arc_lead[ta]), rt)
        np.add.at(change, (d.arc_src[ta], td), -rt)
    return np.cumsum(change, axis=1)


def _trim(
    p: LinearProgram,
    d: MultiPeriodData,
    rs: np.ndarray,
    rt: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> None:
    """Regions receiving more than `upper` net by the last day give back units they were sent:
    their latest depot shipments first (the units stay in the depot), then transfers into them
    (the donor keeps its units, if that keeps the donor within its own `upper`), never below
    `lower` nor below donor protection on any later day."""
    sk, sr, sd = p.ship
    ta, td = p.transfer
    T, B = d.days, d.batch_size
    hands = units_on_hand(p, d, rs, rt)
    X = hands[:, T - 1] - d.own[:, T - 1]
    # the least a region holds: donor protection, and the units of patients on them since
    # the start
    keep = np.maximum(d.donor_share * d.own, d.held_units())
    for r in np.nonzero(X - upper > 1e-9)[0]:
        ships = np.nonzero((sr == r) & (rs > 0))[0]
        arrive = sd[ships] + d.ship_lead[sk[ships], r]
        order = np.argsort(-arrive, kind="stable")
        for i, a in zip(ships[order], arrive[order], strict=True):
            while rs[i] > 0 and X[r] - upper[r] > 1e-9 and X[r] - B >= lower[r] - 1e-9:
                if np.any(hands[r, a:] - B < keep[r, a:] - 1e-9):
                    break
                rs[i] -= 1
                hands[r, a:] -= B
                X[r] -= B
        if not len(ta):
            continue
        ins = np.nonzero((d.arc_dst[ta] == r) & (rt > 0))[0]
        arrive = td[ins] + d.arc_lead[ta[ins]]
        order = np.argsort(-arrive, kind="stable")
        for i, a in zip(ins[order], arrive[order], strict=True):
            q = int(d.arc_src[ta[i]])
            while (
                rt[i] > 0
                and X[r] - upper[r] > 1e-9
                and X[r] - 1 >= lower[r] - 1e-9
                and X[q] + 1 <= upper[q] + 1e-9
            ):
                if np.any(hands[r, a:] - 1 < keep[r, a:] - 1e-9):
                    break
                rt[i] -= 1
                hands[r, a:] -= 1
                hands[q, td[i] :] += 1
                X[r] -= 1
                X[q] += 1


def _top_up(
    p: LinearProgram,
    d: MultiPeriodData,
    rs: np.ndarray,
    rt: np.ndarray,
    hand: np.ndarray,
    floors: np.ndarray,
) -> None:
    """Regions below their fairness lower limits after rounding (`floors`, -inf where there is
    none: a region without a floor may give units away) get the missing units: first from
    depot stock nobody uses (dispatched as late as still arrives in time), then by moving a
    batch from a region above its limit that can spare it to the same or a later day."""
    sk, sr, sd = p.ship
    T, B = d.days, d.batch_size
    lane = {
        (int(k), int(r), int(day)): i for i, (k, r, day) in enumerate(zip(sk, sr, sd, strict=True))
    }

    def stock_now() -> np.ndarray:
        shipped = np.zeros((len(d.depots), T))
        np.add.at(shipped, (sk, sd), B * rs)
        return np.cumsum(d.deliveries - shipped, axis=1)

    stock = stock_now()
    missing = floors - (hand - d.own[:, T - 1])
    for r in np.nonzero(missing > 1e-9)[0]:
        for k in np.argsort(d.ship_lead[:, r], kind="stable"):
            day = T - 1 - int(d.ship_lead[k, r])
            i = lane.get((int(k), int(r), day))
            if i is None or missing[r] <= 1e-9:
                continue
            spare = math.floor(stock[k, day:].min() / B + 1e-9)
            batches = min(spare, math.ceil(missing[r] / B - 1e-9))
            if batches > 0:
                rs[i] += batches
                stock[k, day:] -= B * batches
                missing[r] -= B * batches
    if not np.any(missing > 1e-9):
        return
    hands = units_on_hand(p, d, rs, rt)
    surplus = (hands[:, T - 1] - d.own[:, T - 1]) - floors
    for r in np.nonzero(missing > 1e-9)[0]:
        for i in np.argsort(-rs, kind="stable"):
            if missing[r] <= 1e-9 or rs[i] <= 0:
                break
            k, q, day = int(sk[i]), int(sr[i]), int(sd[i])
            if q == r or surplus[q] < B:
                continue
            arrive = day + int(d.ship_lead[k, q])
            keep = np.maximum(d.donor_share * d.own[q, arrive:], d.held_units()[q, arrive:])
            if np.any(hands[q, arrive:] - B < keep - 1e-9):
                continue
            later = [lane.get((k, int(r), t)) for t in range(day, T - int(d.ship_lead[k, r]))]
            later = [j for j in later if j is not None]
            if not later:
                continue
            j = later[0]
            rs[i] -= 1
            rs[j] += 1
            hands[q, arrive:] -= B
            hands[r, int(sd[j]) + int(d.ship_lead[k, r]) :] += B
            surplus[q] -= B
            missing[r] -= B


def _by_day(days: np.ndarray, T: int) -> list[np.ndarray]:
    order = np.argsort(days, kind="stable")
    bounds = np.searchsorted(days[order], np.arange(T + 1))
    return [order[bounds[t] : bounds[t + 1]] for t in range(T)]


def _cumulative_round(values: np.ndarray, lane: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Per lane: whole numbers whose running total is the LP's running total rounded."""
    if not len(values):
        return values.copy()
    order = np.lexsort((day, lane))
    v, ln = values[order], lane[order]
    starts = np.r_[True, ln[1:] != ln[:-1]]
    group = np.cumsum(starts) - 1
    total = np.cumsum(v)
    first = np.nonzero(starts)[0]
    before = np.r_[0.0, total[first[1:] - 1]]
    running = total - before[group]
    rounded = np.floor(running + 0.5 + 1e-9)
    previous = np.r_[0.0, rounded[:-1]]
    previous[starts] = 0.0
    out = np.empty_like(values)
    out[order] = np.maximum(rounded - previous, 0.0)
    return out


def _cut(rounded: np.ndarray, lp: np.ndarray, sel: np.ndarray, excess: float) -> None:
    """Remove `excess` whole units from `rounded[sel]`, where rounding went up most first."""
    need = math.ceil(excess - 1e-9)
    for j in sel[np.argsort(-(rounded[sel] - lp[sel]), kind="stable")]:
        if need <= 0:
            break
        take = min(rounded[j], need)
        rounded[j] -= take
        need -= take
