"""What seeding the planner's first column-generation LP could save (issue 12, track seed1000).

One plan (`plan(instance, [], price_of_fairness=False)`, as benchmarks/planner_scale.py) per
run; the first `ColumnGeneration.solve_lp` (methods/rounding.py's LP of lives less
CLEANUP_COST x logistics) is timed (wall and CPU seconds) with its rounds.

  record    plain run; stores the first LP's final master movement columns (`members`),
            those nonzero in its optimum (`nonzero`) and those basic (`basic`) in
            /tmp/seed1000/final-NxD.npz
  seed W    the master started with a stored set W (`ColumnGeneration.include` right after
            the master is built): nonzero, basic, members, or blockB (every day of the
            B-day block of each nonzero column's lane: what a perfect B-day aggregate would
            give)
  coarse B  the master started with the columns of the lanes and blocks a time-aggregated
            LP (B-day blocks, solved by the same column generation) uses (`coarse_seed`)
  greedy    ... with the columns of a greedy plan (each shortfall met by the cheapest depot
            or neighbour in time: `greedy_seed`)
  plain     no seed (a reference beside the others)

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/seed1000_bound.py MODE N D [W|B] \
        [--base /tmp/growthm-scale]

Results: BENCHMARKS.md, "seed1000" (the planner now seeds as `greedy` does, above 700,000
movement candidates: optimiser/multiperiod/colgen_seed.py `seed_columns`; `greedy_seed` here is
its copy, kept beside `coarse_seed` for the comparison).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.multiperiod import MultiPeriodData, PlanModel, build_plan_model  # noqa: E402
from models.multiperiod_data import logistics_costs  # noqa: E402
from optimiser.multiperiod import colgen as C  # noqa: E402
from optimiser.solver import SolverOptions, SolveStatus  # noqa: E402

STORE = Path("/tmp/seed1000")


# ---- predictor 1: a time-aggregated LP
def _blocks(a: np.ndarray, block: int, how: str) -> np.ndarray:
    rows, T = a.shape
    tc = math.ceil(T / block)
    pad = tc * block - T
    if pad:
        fill = {"sum": 0.0, "min": np.inf, "max": -np.inf}[how]
        a = np.concatenate([a, np.full((rows, pad), fill)], axis=1)
    shaped = a.reshape(rows, tc, block)
    if how == "sum":
        return np.asarray(shaped.sum(axis=2))
    return np.asarray(shaped.min(axis=2) if how == "min" else shaped.max(axis=2))


def coarse_data(data: MultiPeriodData, block: int) -> MultiPeriodData:
    """Days in blocks: deliveries summed, own units and staff the block's least, needs its
    most, arrivals, stays, waits and lead times in blocks; groups alike in blocks merged."""
    stay = np.maximum(np.ceil(data.group_stay / block), 1).astype(np.int64)
    day = np.floor_divide(data.group_day, block)
    held_g = data.held
    key = np.stack([data.group_region, day, stay, (held_g > 0).astype(np.int64)], axis=1)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    occupancy = data.held_occupancy
    return replace(
        data,
        days=math.ceil(data.days / block),
        own=_blocks(data.own, block, "min"),
        staff=_blocks(data.staff, block, "min"),
        deliveries=_blocks(data.deliveries, block, "sum"),
        ship_lead=np.floor((data.ship_lead + block // 2) / block).astype(np.int64),
        arc_lead=np.floor((data.arc_lead + block // 2) / block).astype(np.int64),
        los=np.maximum(np.ceil(data.los / block), 1).astype(np.int64),
        group_region=uniq[:, 0].astype(np.int64),
        group_day=uniq[:, 1].astype(np.int64),
        group_stay=uniq[:, 2].astype(np.int64),
        group_size=np.bincount(inverse, weights=data.group_size, minlength=len(uniq)),
        group_held=None
        if data.group_held is None
        else np.bincount(inverse, weights=held_g, minlength=len(uniq)),
        need=_blocks(data.need, block, "max"),
        held_occupancy=None if occupancy is None else _blocks(occupancy, block, "max"),
        max_wait=math.ceil(data.max_wait / block),
        delivered=None,
    )


def _lane_blocks(
    key: np.ndarray, day: np.ndarray, used_key: np.ndarray, used_block: np.ndarray, block: int
) -> np.ndarray:
    if not len(used_key):
        return np.zeros(len(key), dtype=bool)
    span = int(max(day.max(initial=0) // block, used_block.max(initial=0))) + 1
    return np.isin(key * span + day // block, np.unique(used_key * span + used_block))


def coarse_seed(
    program: PlanModel, data: MultiPeriodData, options: SolverOptions, block: int
) -> np.ndarray:
    """Fine shipment and transfer columns of the lanes and blocks the coarse LP (lives less
    CLEANUP_COST x the fine lanes' logistics cost) uses."""
    from optimiser.multiperiod.methods.base import CLEANUP_COST

    coarse = coarse_data(data, block)
    cp = build_plan_model(coarse)
    cg = C.ColumnGeneration(
        cp, coarse, options, movements_first=True, max_per_row=C.MAX_ENTERING_PER_ROW
    )
    logistics = np.zeros(cp.shape[1])
    fine = logistics_costs(data)
    n = data.n
    ship_cost = np.zeros((len(data.depots), n))
    ship_cost[program.ship.depot, program.ship.region] = fine["ship"]
    logistics[cp.ship.cols] = ship_cost[cp.ship.depot, cp.ship.region]
    if len(cp.transfer.cols):
        lane_cost = np.zeros(len(data.arc_src))
        lane_cost[program.transfer.lane] = fine["transfer"]
        logistics[cp.transfer.cols] = lane_cost[cp.transfer.lane]
    lp = cg.solve_lp(cp.lives - CLEANUP_COST * logistics, True, None)
    if lp.status is not SolveStatus.OPTIMAL or lp.values is None:
        return np.zeros(0, dtype=np.int64)
    x = lp.values
    s, t = cp.ship, cp.transfer
    su, tu = x[s.cols] > 1e-9, x[t.cols] > 1e-9
    fs, ft = program.ship, program.transfer
    ships = _lane_blocks(
        fs.depot * n + fs.region, fs.day, (s.depot * n + s.region)[su], s.day[su], block
    )
    transfers = _lane_blocks(ft.lane, ft.day, t.lane[tu], t.day[tu], block)
    return np.concatenate([fs.cols[ships], ft.cols[transfers]]).astype(np.int64)


# ---- predictor 2: a greedy plan
def greedy_seed(program: PlanModel, data: MultiPeriodData) -> np.ndarray:
    """Columns of a greedy plan: each region's shortfall (patients needing a unit, up to its
    staff, beyond its own units), day by day and the largest gain first, met by the cheapest
    source (a depot's stock, a neighbour's units spare on every later day) in time."""
    n, T, K = data.n, data.days, len(data.depots)
    own = data.own
    staff = np.where(np.isfinite(data.staff), data.staff, np.inf)
    deficit = np.maximum(np.minimum(data.need, own + staff) - own, 0.0)
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
        for r in order[deficit[order, d] > 1e-9]:
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
    out: list[np.ndarray] = []
    sh, tr = program.ship, program.transfer
    if ships:
        at = np.full(K * n * T, -1, dtype=np.int64)
        at[(sh.depot * n + sh.region) * T + sh.day] = sh.cols
        k_, r_, d_ = np.asarray(ships, dtype=np.int64).T
        out.append(at[(k_ * n + r_) * T + d_])
    if transfers:
        at = np.full(len(data.arc_src) * T, -1, dtype=np.int64)
        at[tr.lane * T + tr.day] = tr.cols
        a_, d_ = np.asarray(transfers, dtype=np.int64).T
        out.append(at[a_ * T + d_])
    cols = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return np.unique(cols[cols >= 0])


# ---- the measurement
def stored_seed(program: PlanModel, which: str, store: Path) -> np.ndarray:
    z = np.load(store)
    if not which.startswith("block"):
        return np.asarray(z[which], dtype=np.int64)
    block, nz = int(which[5:]), z["nonzero"]
    n = program.data.n
    parts = []
    for cols, key, day in (
        (program.ship.cols, program.ship.depot * n + program.ship.region, program.ship.day),
        (program.transfer.cols, program.transfer.lane, program.transfer.day),
    ):
        pos = np.full(program.shape[1], -1)
        pos[cols] = np.arange(len(cols))
        i = pos[nz]
        i = i[i >= 0]
        parts.append(cols[_lane_blocks(key, day, key[i], day[i] // block, block)])
    return np.concatenate(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["record", "seed", "coarse", "greedy", "plain"])
    parser.add_argument("regions", type=int)
    parser.add_argument("days", type=int)
    parser.add_argument("which", nargs="?", default="nonzero")
    parser.add_argument("--base", type=Path, default=Path("/tmp/growthm-scale"))
    args = parser.parse_args()
    from optimiser.multiperiod import load_multiperiod, plan

    STORE.mkdir(parents=True, exist_ok=True)
    store = STORE / f"final-{args.regions}x{args.days}.npz"
    calls: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    solve_lp, init = C.ColumnGeneration.solve_lp, C.ColumnGeneration.__init__
    masters: list[C.ColumnGeneration] = []  # the planner's (the first built)
    seeding = [args.mode in ("seed", "coarse", "greedy")]

    def timed(self: C.ColumnGeneration, *a: Any, **k: Any) -> C.LpResult:
        t, c = time.perf_counter(), time.process_time()
        out = solve_lp(self, *a, **k)
        if self is not masters[0]:
            return out  # the coarse LP's (in predict_cpu)
        calls.append(
            {
                "wall": time.perf_counter() - t,
                "cpu": time.process_time() - c,
                "rounds": out.rounds,
                "master": len(self.members),
            }
        )
        if len(calls) == 1 and args.mode == "record" and out.values is not None:
            cand = np.zeros(self.program.shape[1], dtype=bool)
            cand[self.candidates] = True
            members = self.members[self.members >= 0]
            nonzero = self.candidates[np.abs(out.values[self.candidates]) > 1e-9]
            status = np.array([int(s) for s in self.highs.highs.getBasis().col_status])
            basic = self.members[status == int(C.highspy.HighsBasisStatus.kBasic)]
            basic = basic[basic >= 0]
            np.savez(
                store,
                members=members[cand[members]],
                nonzero=nonzero,
                basic=basic[cand[basic]],
            )
        return out

    def seeded(self: C.ColumnGeneration, *a: Any, **k: Any) -> None:
        init(self, *a, **k)
        if not masters:
            masters.append(self)
        if not seeding[0]:
            return
        seeding[0] = False  # the planner's master only (not the coarse LP's)
        t = time.process_time()
        if args.mode == "seed":
            cols = stored_seed(self.program, args.which, store)
        elif args.mode == "coarse":
            cols = coarse_seed(self.program, self.data, a[2], int(args.which))
        else:
            cols = greedy_seed(self.program, self.data)
        info["predict_cpu"] = time.process_time() - t
        info["seed_columns"] = len(cols)
        if store.exists():
            info["covers_final_nonzero"] = float(np.isin(np.load(store)["nonzero"], cols).mean())
        self.include(cols)

    C.ColumnGeneration.solve_lp = timed  # type: ignore[method-assign]
    C.ColumnGeneration.__init__ = seeded  # type: ignore[method-assign]
    inst = load_multiperiod(args.base / f"scale-{args.regions}x{args.days}")
    t0, c0 = time.perf_counter(), time.process_time()
    result = plan(inst, [], price_of_fairness=False)
    report = {
        "mode": args.mode,
        "which": args.which,
        "wall": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        **info,
        "first_lp": calls[0] if calls else None,
        "lps": len(calls),
        "lives": result.lives_saved,
        "status": str(result.status),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.mode == "record":
        z = np.load(store)
        report["stored"] = {key: len(z[key]) for key in ("members", "nonzero", "basic")}
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main()
