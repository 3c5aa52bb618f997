"""Region-cluster decomposition as a seed for the planner's first column-generation LP (issue 12,
track cluster).

The predictor: the regions are split into clusters of about SIZE regions by recursive bisection
of the transfer-lane graph (BFS distances from a pseudo-peripheral region, split at the median:
deterministic, no coordinates needed); each cluster's LP (the planner's own model of a
sub-instance: its regions, their patients, the transfer lanes inside it, every depot with a
share of its deliveries) is solved by the planner's own column generation with the first LP's
objective (lives less CLEANUP_COST x logistics); the union of the clusters' nonzero movement
columns (mapped back to the whole model's columns), optionally with the greedy seed's
(optimiser/multiperiod/colgen_seed.py), seeds the whole master. Seeding only changes where the
column generation starts (every candidate is still priced), so the LP optimum is unchanged.

Depot shares (SPLIT): `demand` (each cluster's share of the regions' shortfall, weighted by
gain: one share a depot for the whole horizon), `demandt` (the same day by day, over the next
10 days), `greedy` (the clusters' shares of the greedy plan's shipments), `full` (every
cluster all of every depot).

Modes:

  round1 SIZE SPLIT [--greedy] [--halo H]
        the predictor's CPU seconds and columns, then the whole master with the seed alone
        solved once (HiGHS dual simplex, as column generation's round 1): its objective against
        the LP optimum (--optimum; 196,744.48763587 for scale-1000x90, seed2's)
  plan SIZE SPLIT [--greedy]
        the whole plan (`plan(instance, [], price_of_fairness=False)`, as planner_scale.py)
        with colgen_seed.seed_columns replaced by the cluster predictor (where the engine
        applies its seed: 700,000 candidates and more, no patient transfers)
  main  the same plan on the tree unchanged (the greedy seed; this branch's optimiser/ is
        main 98e5f6b's)
  pair SIZE SPLIT [--greedy]
        main then plan, each in its own process (CPU of the child from wait4, peak memory)

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/cluster_seed.py pair 50 demand \
        --greedy --regions 1000 [--base /tmp/growthm-scale]

Results: BENCHMARKS.md, "cluster".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.multiperiod import MultiPeriodData, PlanModel, build_plan_model  # noqa: E402
from optimiser.multiperiod import colgen_seed  # noqa: E402
from optimiser.multiperiod.colgen import (  # noqa: E402
    MAX_ENTERING_PER_ROW,
    SIMPLEX_DUAL,
    ColumnGeneration,
)
from optimiser.multiperiod.methods.base import CLEANUP_COST  # noqa: E402
from optimiser.solver_status import SolverOptions  # noqa: E402

OPTIMUM = {(1000, 90): 196744.48763587}  # the first LP's optimum (seed2, every run to 1e-14)


# ---- the predictor
def lane_graph(data: MultiPeriodData) -> sp.csr_matrix:
    n = data.n
    g = sp.coo_matrix((np.ones(len(data.arc_src)), (data.arc_src, data.arc_dst)), shape=(n, n))
    g = (g + g.T).tocsr()
    g.data[:] = 1.0
    return g


def _bisect(g: sp.csr_matrix, nodes: np.ndarray, size: int, out: list[np.ndarray]) -> None:
    if len(nodes) <= size:
        out.append(np.sort(nodes))
        return
    sub = g[nodes][:, nodes]
    start = 0
    for _ in range(2):  # a pseudo-peripheral region: the farthest from the farthest
        dist = csgraph.shortest_path(sub, unweighted=True, indices=start)
        dist[~np.isfinite(dist)] = -1
        start = int(np.argmax(dist))
    dist = csgraph.shortest_path(sub, unweighted=True, indices=start)
    far = dist[np.isfinite(dist)].max() if np.isfinite(dist).any() else 0.0
    dist[~np.isfinite(dist)] = far + 1
    order = np.lexsort((nodes, dist))
    parts = max(2, round(len(nodes) / size))
    half = (parts // 2) * len(nodes) // parts
    _bisect(g, nodes[order[:half]], size, out)
    _bisect(g, nodes[order[half:]], size, out)


def partition(data: MultiPeriodData, size: int) -> list[np.ndarray]:
    """Clusters of at most `size` regions covering each region once (sorted, in a fixed
    order): recursive bisection of the transfer-lane graph."""
    out: list[np.ndarray] = []
    _bisect(lane_graph(data), np.arange(data.n), size, out)
    return out


def grow(data: MultiPeriodData, parts: list[np.ndarray], hops: int) -> list[np.ndarray]:
    """Each cluster with the regions within `hops` lanes of it (overlapping clusters)."""
    if not hops:
        return parts
    g = lane_graph(data)
    out = []
    for r in parts:
        m = np.zeros(data.n, dtype=bool)
        m[r] = True
        for _ in range(hops):
            m = m | (g @ m.astype(float) > 0)
        out.append(np.nonzero(m)[0])
    return out


def shares(data: MultiPeriodData, parts: list[np.ndarray], how: str) -> np.ndarray:
    """(clusters, K) or (clusters, T): the share of each depot's deliveries a cluster gets."""
    K, T = len(data.depots), data.days
    own = data.own
    treat = np.minimum(data.need, own + np.where(np.isfinite(data.staff), data.staff, np.inf))
    deficit = np.maximum(treat - own, 0.0)
    if how == "full":
        return np.ones((len(parts), K))
    if how == "demandt":
        cum = np.concatenate([np.zeros((data.n, 1)), np.cumsum(deficit, axis=1)], axis=1)
        win = cum[:, np.minimum(np.arange(T) + 10, T)] - cum[:, np.arange(T)]
        per = np.array([win[r].sum(axis=0) for r in parts]) + 1e-9
        return per / per.sum(axis=0, keepdims=True)
    out = np.zeros((len(parts), K))
    if how == "greedy":
        ships, _ = colgen_seed.greedy_moves(data)
        cluster = np.zeros(data.n, dtype=np.int64)
        for c, members in enumerate(parts):
            cluster[members] = c
        for k, region, _d in ships:
            out[cluster[region], k] += 1.0
        out += 1e-3
    else:
        weight = deficit.sum(axis=1) * data.gain
        for c, r in enumerate(parts):
            out[c, :] = weight[r].sum() + 1e-9
    return out / out.sum(axis=0, keepdims=True)


def sub_data(
    data: MultiPeriodData, regions: np.ndarray, share: np.ndarray
) -> tuple[MultiPeriodData, np.ndarray]:
    """The sub-instance of `regions` (their lanes inside, their patients, each depot's
    deliveries times `share`) and the whole model's lane of each of its lanes."""
    where = np.full(data.n, -1, dtype=np.int64)
    where[regions] = np.arange(len(regions))
    inside = (where[data.arc_src] >= 0) & (where[data.arc_dst] >= 0)
    g = np.nonzero(where[data.group_region] >= 0)[0]
    scale = share[:, None] if share.shape == (len(data.depots),) else share[None, :]

    def rows(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[regions]

    sub = replace(
        data,
        regions=tuple(data.regions[i] for i in regions),
        own=data.own[regions],
        staff=data.staff[regions],
        deliveries=data.deliveries * scale,
        ship_lead=data.ship_lead[:, regions],
        arc_src=where[data.arc_src[inside]],
        arc_dst=where[data.arc_dst[inside]],
        arc_lead=data.arc_lead[inside],
        los=data.los[regions],
        gain=data.gain[regions],
        group_region=where[data.group_region[g]],
        group_day=data.group_day[g],
        group_stay=data.group_stay[g],
        group_size=data.group_size[g],
        need=data.need[regions],
        group_held=None if data.group_held is None else data.group_held[g],
        held_occupancy=rows(data.held_occupancy),
        inflow=rows(data.inflow),
        delivered=None if data.delivered is None else data.delivered * scale,
        population=data.population[regions],
        capacity=data.capacity[regions],
        peak_demand=data.peak_demand[regions],
        staff_cap=data.staff_cap[regions],
        weight=data.weight[regions],
        rai=rows(data.rai),
    )
    return sub, np.nonzero(inside)[0]


def cluster_seed(
    program: PlanModel,
    data: MultiPeriodData,
    size: int,
    split: str,
    halo: int = 0,
    info: dict[str, Any] | None = None,
) -> np.ndarray:
    """The whole model's movement columns nonzero in some cluster's LP optimum."""
    p = program
    parts = partition(data, size)
    share = shares(data, parts, split)
    K, n, T = len(data.depots), data.n, data.days
    ship_at = np.full(K * n * T, -1, dtype=np.int64)
    ship_at[(p.ship.depot * n + p.ship.region) * T + p.ship.day] = p.ship.cols
    tr_at = np.full(max(len(data.arc_src), 1) * T, -1, dtype=np.int64)
    tr_at[p.transfer.lane * T + p.transfer.day] = p.transfer.cols
    cols: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    total = 0.0
    for c, regions in enumerate(grow(data, parts, halo)):
        sub, lanes = sub_data(data, regions, share[c])
        q = build_plan_model(sub)
        cg = ColumnGeneration(
            q, sub, SolverOptions(), movements_first=True, max_per_row=MAX_ENTERING_PER_ROW
        )
        lp = cg.solve_lp(q.weighted_lives(np.ones(sub.n)) - CLEANUP_COST * q.logistics, True, None)
        if lp.values is None:
            continue
        total += float(lp.objective or 0.0)
        x, s, t = lp.values, q.ship, q.transfer
        nz = np.abs(x[s.cols]) > 1e-9
        cols.append(ship_at[(s.depot[nz] * n + regions[s.region[nz]]) * T + s.day[nz]])
        nz = np.abs(x[t.cols]) > 1e-9
        cols.append(tr_at[lanes[t.lane[nz]] * T + t.day[nz]])
    if info is not None:
        cluster = np.zeros(n, dtype=np.int64)
        for c, r in enumerate(parts):
            cluster[r] = c
        info.update(
            clusters=len(parts),
            cut_lanes=round(float((cluster[data.arc_src] != cluster[data.arc_dst]).mean()), 4),
            clusters_objective=round(total, 2),
        )
    out = np.concatenate(cols)
    return np.unique(out[out >= 0])


# ---- measurements
def _load(args: argparse.Namespace) -> Any:
    from optimiser.multiperiod import load_multiperiod

    return load_multiperiod(args.base / f"scale-{args.regions}x{args.days}")


def round1(args: argparse.Namespace) -> dict[str, Any]:
    from optimiser.multiperiod.data import model_data

    data = model_data(_load(args))
    p = build_plan_model(data)
    info: dict[str, Any] = {}
    c = time.process_time()
    seed = cluster_seed(p, data, args.size, args.split, args.halo, info)
    info["predictor_cpu"] = round(time.process_time() - c, 2)
    if args.greedy:
        seed = np.union1d(seed, colgen_seed.seed_columns(p, data))
    cg = ColumnGeneration(p, data, SolverOptions(), movements_first=True)
    cg.include(seed)
    cg.set_cost(p.weighted_lives(np.ones(data.n)) - CLEANUP_COST * p.logistics, True)
    cg.highs.set_option("simplex_strategy", SIMPLEX_DUAL)
    c = time.process_time()
    run = cg.highs.solve(None)
    optimum = args.optimum or OPTIMUM.get((args.regions, args.days))
    obj = float(run.objective or 0.0)
    return {
        **info,
        "seed_columns": len(seed),
        "round1_cpu": round(time.process_time() - c, 2),
        "round1_objective": round(obj, 4),
        "gap_pct": None if not optimum else round(100 * (optimum - obj) / optimum, 4),
    }


def whole_plan(args: argparse.Namespace, patched: bool) -> dict[str, Any]:
    from optimiser.multiperiod import plan

    info: dict[str, Any] = {}
    greedy = colgen_seed.seed_columns

    def seed(program: PlanModel, data: MultiPeriodData) -> np.ndarray:
        c = time.process_time()
        out = cluster_seed(program, data, args.size, args.split, args.halo, info)
        info["predictor_cpu"] = round(time.process_time() - c, 2)
        if args.greedy:
            out = np.union1d(out, greedy(program, data))
        info["seed_columns"] = len(out)
        return out

    if patched:
        colgen_seed.seed_columns = seed
    first: list[Any] = []
    init, solve_lp = ColumnGeneration.__init__, ColumnGeneration.solve_lp

    def built(self: ColumnGeneration, *a: Any, **k: Any) -> None:
        init(self, *a, **k)
        if not first:
            first.append(self)

    def timed(self: ColumnGeneration, *a: Any, **k: Any) -> Any:
        c = time.process_time()
        out = solve_lp(self, *a, **k)
        if first and self is first[0] and "first_lp_cpu" not in info:
            info["first_lp_cpu"] = round(time.process_time() - c, 2)
            info["first_lp_rounds"] = out.rounds
            info["first_lp_objective"] = out.objective
        return out

    ColumnGeneration.__init__ = built  # type: ignore[method-assign]
    ColumnGeneration.solve_lp = timed  # type: ignore[method-assign]
    inst = _load(args)
    t0, c0 = time.perf_counter(), time.process_time()
    result = plan(inst, [], price_of_fairness=False)
    return {
        "wall": round(time.perf_counter() - t0, 2),
        "cpu": round(time.process_time() - c0, 2),
        **info,
        "lives": result.lives_saved,
        "status": str(result.status),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def pair(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    for mode in ("main", "plan"):
        cmd = [sys.executable, __file__, mode, str(args.size), args.split]
        cmd += ["--regions", str(args.regions), "--days", str(args.days), "--base", str(args.base)]
        cmd += ["--halo", str(args.halo)] + (["--greedy"] if args.greedy else [])
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        text = proc.stdout.read() if proc.stdout else ""
        row = json.loads(text.split("RESULT ", 1)[1]) if "RESULT " in text else {"error": status}
        row.update(
            mode=mode,
            load=round(load, 2),
            child_cpu=round(usage.ru_utime + usage.ru_stime, 2),
            child_wall=round(wall, 2),
            child_peak_mb=round(usage.ru_maxrss / 1024, 1),
        )
        print("ROW " + json.dumps(row), flush=True)
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["round1", "plan", "main", "pair"])
    parser.add_argument("size", type=int, nargs="?", default=50)
    parser.add_argument("split", nargs="?", default="demand")
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--halo", type=int, default=0)
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--optimum", type=float, default=None)
    parser.add_argument("--base", type=Path, default=Path("/tmp/growthm-scale"))
    args = parser.parse_args()
    if args.mode == "pair":
        pair(args)
        return
    if args.mode == "round1":
        report = round1(args)
    else:
        report = whole_plan(args, patched=args.mode == "plan")
    report.update(mode=args.mode, size=args.size, split=args.split, greedy=args.greedy)
    print("RESULT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
