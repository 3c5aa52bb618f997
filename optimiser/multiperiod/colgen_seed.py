"""The column generation's first movement columns, from a greedy plan (issue 12, track
seed1000).

The planner's first LP (methods/rounding.py: lives less CLEANUP_COST x logistics, by column
generation from a master without any movement column) spends most of its time in late rounds
of warm primal simplex on a large master (HiGHS 1.15 scans every master column per pivot:
BENCHMARKS.md, "Planner growth 2"). Started with the movement columns of its final optimum,
the same LP took 11.4 CPU-s instead of 93.4 at 1,000 x 90 (BENCHMARKS.md, "seed1000").

`seed_columns` predicts such columns cheaply (`greedy_moves`): each region's shortfall, day by
day, met by the cheapest depot or neighbour able to deliver it in time. Seeding changes only the
master the column generation starts from: it still prices every candidate until none improves,
so the LP optimum is unchanged (tests/test_seed1000_*).

Deterministic: the plan depends on the data alone.
"""

from __future__ import annotations

import numpy as np

from models.multiperiod import MultiPeriodData, PlanModel

# Seed only models with at least this many movement candidates: 100 x 90 has 115,000, 200 x 90
# 231,000, 300 x 90 347,000, 400 x 90 462,000, 100 x 365 473,000, 800 x 90 924,000, 1,000 x 90
# 1.15 million. The greedy seed's start was measured faster than none at every one of those
# (BENCHMARKS.md, "seed1000" from 800 x 90 up, "window2" below it); smaller models are not seeded
# (not measured there: us-states-apr2020, 108,780 candidates on all-pairs lanes, is one of them).
# colgen_window's own threshold keeps its window seed to the largest (and to models without
# patient transfers: its window LPs hold no patient-move column).
MIN_CANDIDATES = 110_000


def applies(data: MultiPeriodData, program: PlanModel) -> bool:
    """Whether `seed_columns` is tried: a large model (with or without patient transfers: the
    seed is movement columns only; waiting + patient transfers on 300 x 90 0.74-0.77x in
    interleaved pairs, BENCHMARKS.md "pseed")."""
    candidates = len(program.ship.cols) + len(program.transfer.cols)
    return candidates >= MIN_CANDIDATES


def greedy_moves(data: MultiPeriodData) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """A feasible-looking plan of unit movements, greedily: each region's shortfall on each day
    (patients needing a unit, up to its staff, beyond its own units), day by day and the
    largest gain first, met by the cheapest source (a depot's stock, a neighbour's spare units
    on every later day) that can deliver by then. Returns the shipments (depot, region, day)
    and transfers (lane, day) used."""
    n, T, K = data.n, data.days, len(data.depots)
    own = data.own
    treatable = np.minimum(data.need, own + np.where(np.isfinite(data.staff), data.staff, np.inf))
    deficit = np.maximum(treatable - own, 0.0)
    # sources: depots 0..K-1 (stock after shipments), regions K.. (units beyond own needs)
    avail = np.zeros((K + n, T))
    avail[:K] = np.cumsum(data.deliveries, axis=1) / max(data.batch_size, 1)
    avail[K:] = own - np.maximum(data.need, data.donor_share * own)
    lanes_in: list[list[tuple[float, int, int, int]]] = [[] for _ in range(n)]
    for k in range(K):
        for r in range(n):
            lead = int(data.ship_lead[k, r])
            lanes_in[r].append((float(data.batch_size) * (1.0 + lead), k, lead, -1))
    for a in range(len(data.arc_src)):
        lead = int(data.arc_lead[a])
        lanes_in[int(data.arc_dst[a])].append((2.0 + lead, K + int(data.arc_src[a]), lead, a))
    for options in lanes_in:
        options.sort()
    ships: list[tuple[int, int, int]] = []
    transfers: list[tuple[int, int]] = []
    order = np.argsort(-data.gain, kind="stable")
    for d in range(T):
        short = order[deficit[order, d] > 1e-9]
        for r in short:
            want = deficit[r, d]
            for _, src, lead, lane in lanes_in[r]:
                s = d - lead
                if s < data.first_day:
                    continue
                spare = avail[src, s:].min()
                if spare <= 1e-9:
                    continue
                x = min(want, spare)
                avail[src, s:] -= x
                if lane < 0:
                    ships.append((src, int(r), s))
                else:
                    transfers.append((lane, s))
                want -= x
                if want <= 1e-9:
                    break
            got = deficit[r, d] - want
            if got > 0:
                deficit[r, d:] = np.maximum(deficit[r, d:] - got, 0.0)
    return ships, transfers


def seed_columns(program: PlanModel, data: MultiPeriodData) -> np.ndarray:
    """Full-model movement columns (shipments, transfers) of `greedy_moves`'s plan, to start
    the column generation's master with."""
    ships, transfers = greedy_moves(data)
    K, n, T = len(data.depots), data.n, data.days
    out: list[np.ndarray] = []
    s = program.ship
    if ships and len(s.cols):
        at = np.full(K * n * T, -1, dtype=np.int64)
        at[(s.depot * n + s.region) * T + s.day] = s.cols
        k, r, d = np.asarray(ships, dtype=np.int64).T
        got = at[(k * n + r) * T + d]
        out.append(got[got >= 0])
    t = program.transfer
    if transfers and len(t.cols):
        at = np.full(len(data.arc_src) * T, -1, dtype=np.int64)
        at[t.lane * T + t.day] = t.cols
        a, d = np.asarray(transfers, dtype=np.int64).T
        got = at[a * T + d]
        out.append(got[got >= 0])
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)
