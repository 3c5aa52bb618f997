"""Lifting a whole plan toward the LP bound one unit at a time, guided by the repair LP's duals.

The LP relaxation of the planner is degenerate: many optimal vertices, of which some round to a
plan at the bound and others to one a few lives short (BENCHMARKS.md, "growth4"; a different
start or entering count reaches a different vertex). The lives such a plan lacks are units in
the wrong place: the repair LP (ColumnGeneration.repair, every movement fixed at the plan's
whole values) prices each unit on hand by its dual y_{r,d} on the units-on-hand row of region r
and day d (the lives one more unit arriving there saves). `lift` moves whole units where those
duals say a unit saves more:

- a batch more from a depot's unused stock (`ship_add`; stock left on every later day),
- a batch shipped to another region, the same day or later, from the same depot (`ship_swap`:
  the depot's stock on every day stays what it was or grows),
- a unit more on a transfer lane from a region holding one above donor protection and its
  patients' units on every later day (`transfer_add`), or a unit fewer where the receiver can
  spare it (`transfer_drop`),

at most one move per region (and per depot's stock or shipment count) in a step, the moves of
highest estimated gain first. The repair LP of the moved plan decides: a step is kept only when
its plan is feasible (the repair LP optimal: the model's own rows, so every rule check-plan
replays) and saves more lives; else the step is retried with the better half of its moves, down
to one. It stops once the plan is within the gap tolerance of the bound, when no move is
estimated to gain, or after MAX_STEPS repair LPs. Deterministic: the moves are ordered by gain,
then by column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.multiperiod import PlanModel
from optimiser.multiperiod.colgen import LpResult
from optimiser.multiperiod.methods.whole import units_on_hand
from optimiser.solver import SolveStatus

MAX_STEPS = 12  # repair LPs one lift may run
FIRST_BATCH = 64  # moves tried in the first step (halved on a step that does not gain)
MIN_GAIN = 1e-6  # a move's estimated lives gain, below which it is not tried
GAIN_TOL = 1e-9  # a step is kept when the repair LP's objective rises by more
TRACE = False


@dataclass(frozen=True)
class Move:
    gain: float  # estimated from the duals
    changes: tuple[tuple[int, int], ...]  # (full-model column, +1 / -1)
    keys: tuple[tuple[int, ...], ...]  # resources it touches (one move per key in a step)


@dataclass(frozen=True)
class Lifted:
    values: np.ndarray
    objective: float
    steps: int  # repair LPs run
    seconds: float


def candidate_moves(p: PlanModel, cost: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[Move]:
    """Single-unit moves of the whole plan `x` (full-length) estimated by the repair LP's row
    duals `y` to gain lives, best first (see the module's docstring)."""
    d = p.data
    T, B = d.days, float(d.batch_size)
    yh = y[p.hand_rows]  # (n, T): lives one more unit arriving in region r on day d saves
    sk, sr, sd = p.ship.depot, p.ship.region, p.ship.day
    ta, td = p.transfer.lane, p.transfer.day
    rs = np.rint(x[p.ship.cols])
    rt = np.rint(x[p.transfer.cols])
    moves: list[Move] = []
    # idle[r, d]: units region r holds on every day from d on beyond its patients' units and
    # donor protection (one of them given away changes no patient of the plan: no loss)
    hands = units_on_hand(p, d, rs, rt)
    keep = np.maximum(d.donor_share * d.own, d.held_units())
    need = np.maximum(np.rint(x[p.occ] * 1e6) / 1e6, keep)
    idle = np.minimum.accumulate((hands - need)[:, ::-1], axis=1)[:, ::-1]
    # ---- shipments: one batch more from stock nobody uses, or one batch elsewhere
    arrive = sd + d.ship_lead[sk, sr]
    g = cost[p.ship.cols] + B * yh[sr, arrive]
    K = len(d.depots)
    shipped = np.zeros((K, T))
    np.add.at(shipped, (sk, sd), B * rs)
    stock = np.cumsum(d.deliveries - shipped, axis=1)
    spare = np.minimum.accumulate(stock[:, ::-1], axis=1)[:, ::-1]  # left on every later day
    count = np.zeros((K, T))
    limit = d.max_shipments_per_day
    if limit is not None:
        np.add.at(count, (sk, sd), rs > 0)
    opens = (rs == 0) & (count[sk, sd] >= limit) if limit is not None else np.zeros(len(sk), bool)
    add = np.nonzero((spare[sk, sd] >= B - 1e-9) & ~opens & (g > MIN_GAIN))[0]
    for k in range(K):  # the best adds, one a region, that the depot's stock allows together
        mine = add[sk[add] == k]
        left, seen = stock[k].copy(), set[int]()
        for j in mine[np.lexsort((mine, -g[mine]))]:
            if len(seen) >= FIRST_BATCH:
                break
            r, day = int(sr[j]), int(sd[j])
            if r in seen or left[day:].min() < B - 1e-9:
                continue
            seen.add(r)
            left[day:] -= B
            moves.append(Move(float(g[j]), ((int(p.ship.cols[j]), 1),), ((0, r), (2, k, day))))
    # swaps: per depot and day, the best lane to send to; a batch shipped that day or before
    # to a region where it idles is taken off (the depot's stock on every day stays or grows)
    sent = np.nonzero((rs > 0) & (idle[sr, np.minimum(arrive, T - 1)] >= B - 1e-9))[0]
    lost = -cost[p.ship.cols]  # the lives a batch idle from its arrival on saves: none
    for k in range(K):
        lanes = np.nonzero((sk == k) & ~opens)[0]
        gone = sent[sk[sent] == k]
        if not len(lanes) or not len(gone):
            continue
        best_b = np.full(T, -1, dtype=np.int64)
        order = lanes[np.lexsort((lanes, -g[lanes]))]
        days = sd[order]
        _, first = np.unique(days, return_index=True)
        best_b[days[first]] = order[first]
        worst_a = np.full(T, -1, dtype=np.int64)
        order = gone[np.lexsort((gone, -lost[gone]))]
        days = sd[order]
        _, first = np.unique(days, return_index=True)
        worst_a[days[first]] = order[first]
        low, low_j = np.inf, -1
        for day in range(T):
            a = worst_a[day]
            if a >= 0 and -lost[a] < low:
                low, low_j = float(-lost[a]), int(a)
            b = best_b[day]
            if b < 0 or low_j < 0 or sr[b] == sr[low_j]:
                continue
            gain = float(g[b]) - low
            if gain > MIN_GAIN:
                keys = ((0, int(sr[b])), (0, int(sr[low_j])), (1, low_j), (3, k, day))
                changes = ((int(p.ship.cols[b]), 1), (int(p.ship.cols[low_j]), -1))
                moves.append(Move(gain, changes, keys))
    # ---- transfers: a unit more from a region where it idles, a unit fewer where it idles
    if len(ta):
        src, dst = d.arc_src[ta], d.arc_dst[ta]
        land = np.minimum(td + d.arc_lead[ta], T - 1)
        c = cost[p.transfer.cols]
        more_gain = c + yh[dst, land]
        fewer_gain = -c + yh[src, td]
        more = np.nonzero((idle[src, td] >= 1 - 1e-9) & (more_gain > MIN_GAIN))[0]
        fewer = np.nonzero((rt > 0) & (idle[dst, land] >= 1 - 1e-9) & (fewer_gain > MIN_GAIN))[0]
        for idx, gains, sign in ((more, more_gain, 1), (fewer, fewer_gain, -1)):
            order = idx[np.lexsort((idx, -gains[idx]))][: 4 * FIRST_BATCH]
            for j in order:
                ends = ((0, int(src[j])), (0, int(dst[j])))
                moves.append(Move(float(gains[j]), ((int(p.transfer.cols[j]), sign),), ends))
    moves.sort(key=lambda m: (-m.gain, m.changes))
    return moves


def lift(
    p: PlanModel,
    cost: np.ndarray,
    plan: np.ndarray,
    duals: np.ndarray,
    repair: Callable[[np.ndarray], LpResult],
    settled: Callable[[float], bool],
    expired: Callable[[], bool],
) -> Lifted | None:
    """A better whole plan than `plan` (a repair LP's solution, full-length, whose row duals are
    `duals`), by whole-unit moves checked by `repair` (the repair LP of whole movements,
    returning its solution and duals), or None when no move gained. `settled(objective)`: the
    plan is within the gap tolerance of the bound (stop); `expired()`: out of time (stop)."""
    x, objective, y = plan, float(cost @ plan), duals
    steps, seconds = 0, 0.0
    improved = False
    size = FIRST_BATCH
    moves = candidate_moves(p, cost, x, y)
    while moves and steps < MAX_STEPS and not settled(objective) and not expired():
        batch = _batch(moves, size)
        trial = x.copy()
        for move in batch:
            for col, delta in move.changes:
                trial[col] += delta
        if len(p.uses):
            trial[p.uses] = (trial[p.ship.cols] > 0).astype(float)
        run = repair(trial)
        steps += 1
        seconds += run.seconds
        if TRACE:
            got = None if run.values is None else float(cost @ run.values)
            print(f"    lift step {steps}: {len(batch)} moves, {objective} -> {got}")
        if (
            run.status is SolveStatus.OPTIMAL
            and run.values is not None
            and run.duals is not None
            and float(cost @ run.values) > objective + GAIN_TOL
        ):
            x, objective, y = run.values, float(cost @ run.values), run.duals
            improved = True
            size = FIRST_BATCH
            moves = candidate_moves(p, cost, x, y)
        elif len(batch) > 1:
            size = len(batch) // 2  # the better half of the same moves
        else:
            moves.remove(batch[0])  # this move does not gain: the next one alone
    if not improved:
        return None
    return Lifted(x, objective, steps, seconds)


def _batch(moves: list[Move], size: int) -> list[Move]:
    """The first `size` moves (best first) touching no resource an earlier one touched."""
    used: set[tuple[int, ...]] = set()
    out: list[Move] = []
    for move in moves:
        if len(out) >= size:
            break
        if any(key in used for key in move.keys):
            continue
        used.update(move.keys)
        out.append(move)
    return out
