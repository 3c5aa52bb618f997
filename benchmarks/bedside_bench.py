"""Bedside triage against its targets (issue 14) and against the floor: the same programs built
directly in highspy (no Pyomo, no engine: numpy arrays into Highs.passModel).

* snapshot: 10,000 candidates, 1,000 free units, the example policy (RAPR, reserves of 10% for
  essential health workers and 20% for disadvantaged areas, smart processing): the program's
  decision (LP-first solve, exact tie stage, per-patient categories, certificate) under 1 s;
* horizon: 20,000 patients over 90 days at one site: the offline optimum within 1% in under
  60 s (without reserves the LP is exact; with the reserve floors, branch and bound);
* compare: 1,000 replications x 7 protocols (each with and without reserves) of a
  2,000-patient stream in under 2 minutes on 2 cores.

Timings are medians of interleaved rounds after one untimed warm-up (wall clock and CPU), as in
benchmarks/regional_bench.py. Run under the bench lock:

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/bedside_bench.py [--repeats 7]
        [--only snapshot,horizon,compare] [--replications 1000] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import highspy  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from optimiser.bedside import load_inputs  # noqa: E402
from optimiser.bedside.compare import CompareSpec, cohort_from_frame, compare  # noqa: E402
from optimiser.bedside.decide import Batch, decide_batch, snapshot_data  # noqa: E402
from optimiser.bedside.generator import CohortSpec, generate  # noqa: E402
from optimiser.bedside.horizon import offline_optimum, run_online, stream_from  # noqa: E402
from optimiser.bedside.io import Units  # noqa: E402
from optimiser.bedside.scores import rank_patients  # noqa: E402
from optimiser.bedside.snapshot import SnapshotIP  # noqa: E402
from optimiser.solver import solver_versions  # noqa: E402

EXAMPLE = ROOT / "instances" / "bedside-synthetic"
INF = math.inf


def interleaved(measurements: dict[str, Callable[[], Any]],
                repeats: int) -> dict[str, dict[str, float]]:
    for fn in measurements.values():
        fn()
    wall: dict[str, list[float]] = {k: [] for k in measurements}
    cpu: dict[str, list[float]] = {k: [] for k in measurements}
    for _ in range(repeats):
        for name, fn in measurements.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return {k: {"wall_s": statistics.median(wall[k]), "cpu_s": statistics.median(cpu[k])}
            for k in measurements}


def highs() -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("presolve", "off")
    return h


def pass_lp(h: highspy.Highs, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray,
            matrix: sp.csc_matrix, row_lower: np.ndarray, row_upper: np.ndarray) -> None:
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = row_lower, row_upper
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    h.passModel(lp)


# ---------------------------------------------------------------------------------------------
# Snapshot


def snapshot_case(n: int = 10_000, units: int = 1_000) -> dict[str, Any]:
    base = load_inputs(EXAMPLE)
    frame = generate(CohortSpec(patients=n, days=1, sites=("H1",), site_weights=(1.0,),
                                deprivation_skew=(0.0,), seed=1))
    cohort = cohort_from_frame(frame, base.cohort)
    ranking = rank_patients(cohort.patients, base.policy)
    flags = {f: cohort.patients[f].to_numpy(dtype=bool) for f in cohort.categories}
    members = np.flatnonzero(~ranking.excluded)
    batch = Batch("H1", 0, members, units, None)
    return {"policy": base.policy, "ranking": ranking, "flags": flags, "batch": batch,
            "ids": list(cohort.patients.index), "candidates": len(members)}


def direct_snapshot(benefit: np.ndarray, categories: Any) -> float:
    """The grouped snapshot LP relaxation built by hand: x_i; z_gc for each group g of equal
    beneficiary flags and category c; group balance, capacities, cardinality; a soft reserve's
    v_c <= x_i (beneficiaries) and sum of its non-beneficiary groups' z <= r_c v_c."""
    n = len(benefit)
    cats = list(categories)
    key = np.zeros(n, dtype=np.int64)
    for c, cat in enumerate(cats):
        key |= cat.beneficiary.astype(np.int64) << c
    groups, group = np.unique(key, return_inverse=True)
    g_count, c_count = len(groups), len(cats)
    size = np.bincount(group, minlength=g_count).astype(float)
    z0 = n
    v0 = n + g_count * c_count
    reserves = [c for c, cat in enumerate(cats) if cat.reserve]
    cols = v0 + len(reserves)
    rows, cols_i, vals, lo, hi = [], [], [], [], []

    def row(entries: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(lo)
        for j, a in entries:
            rows.append(r)
            cols_i.append(j)
            vals.append(a)
        lo.append(low)
        hi.append(high)

    members = [np.flatnonzero(group == g) for g in range(g_count)]
    for g in range(g_count):
        row([(int(i), -1.0) for i in members[g]] + [(z0 + g * c_count + c, 1.0)
                                                    for c in range(c_count)], 0.0, 0.0)
    for c, cat in enumerate(cats):
        row([(z0 + g * c_count + c, 1.0) for g in range(g_count)], -INF, float(cat.units))
    maximum = min(sum(cat.units for cat in cats), n)
    row([(i, 1.0) for i in range(n)], float(maximum), float(maximum))
    for k, c in enumerate(reserves):
        v = v0 + k
        for i in np.flatnonzero(cats[c].beneficiary):
            row([(v, 1.0), (int(i), -1.0)], -INF, 0.0)
        others = [g for g in range(g_count) if not (groups[g] >> c) & 1]
        row([(z0 + g * c_count + c, 1.0) for g in others] + [(v, -float(cats[c].units))],
            -INF, 0.0)
    matrix = sp.csc_matrix((vals, (rows, cols_i)), shape=(len(lo), cols))
    upper = np.concatenate([np.ones(n), np.repeat(size, c_count), np.ones(len(reserves))])
    for k, c in enumerate(reserves):
        if cats[c].beneficiary.sum() > maximum:
            upper[v0 + k] = 0.0
    h = highs()
    cost = np.zeros(cols)
    cost[:n] = benefit
    pass_lp(h, cost, np.zeros(cols), upper, matrix, np.array(lo), np.array(hi))
    h.run()
    return float(h.getInfo().objective_function_value)


def bench_snapshot(repeats: int) -> dict[str, Any]:
    case = snapshot_case()
    policy, ranking, flags, batch, ids = (case[k] for k in
                                          ("policy", "ranking", "flags", "batch", "ids"))
    data = snapshot_data(policy, ranking, flags, batch)
    active = [c.name for c in data.categories if c.reserve]
    outcome: dict[str, Any] = {}

    def decide() -> None:
        outcome["decision"] = decide_batch(policy, ranking, flags, batch, ids, method="optimal")

    def program() -> None:
        outcome["program"] = SnapshotIP(data).solve(active)

    def floor() -> None:
        outcome["floor"] = direct_snapshot(data.benefit, data.categories)

    def rule() -> None:
        decide_batch(policy, ranking, flags, batch, ids, method="rule")

    times = interleaved({"engine: decision (program, tie stage, categories, certificate)":
                         decide, "engine: program only (build + solve)": program,
                         "floor: direct highspy (build + LP)": floor,
                         "rule: smart reserves + certificate": rule}, repeats)
    decision = outcome["decision"]
    assert decision.certificate.ok, decision.certificate.violations
    assert abs(outcome["program"].objective - outcome["floor"]) <= 1e-6 * outcome["floor"]
    return {"candidates": case["candidates"], "units": batch.free, "times": times,
            "objective": outcome["program"].objective, "floor_objective": outcome["floor"],
            "proof": decision.outcome.proof if decision.outcome else None,
            "ratio_program_to_floor": times["engine: program only (build + solve)"]["wall_s"]
            / times["floor: direct highspy (build + LP)"]["wall_s"]}


# ---------------------------------------------------------------------------------------------
# Horizon


def horizon_case(n: int = 20_000, days: int = 90, units: int = 1_500) -> dict[str, Any]:
    base = load_inputs(EXAMPLE)
    frame = generate(CohortSpec(patients=n, days=days, sites=("H1",), site_weights=(1.0,),
                                deprivation_skew=(0.0,), seed=2))
    cohort = cohort_from_frame(frame, base.cohort)
    unit_table = Units(pd.DataFrame({"site": ["H1"], "day": [0], "units": [units]}))
    stream = stream_from(cohort, unit_table)
    ranking = rank_patients(cohort.patients, base.policy)
    return {"policy": base.policy, "cohort": cohort, "stream": stream, "ranking": ranking,
            "units": units}


def direct_horizon(stream: Any, benefit: np.ndarray, excluded: np.ndarray) -> float:
    """The interval LP by hand: one column per candidate, one row per day."""
    keep = np.flatnonzero(~excluded)
    horizon = stream.capacity.shape[1]
    start = stream.day[keep]
    end = np.minimum(start + np.maximum(stream.days[keep], 1), horizon)
    length = end - start
    indptr = np.concatenate([[0], np.cumsum(length)])
    index = np.concatenate([np.arange(a, b) for a, b in zip(start, end, strict=True)])
    matrix = sp.csc_matrix((np.ones(len(index)), index, indptr), shape=(horizon, len(keep)))
    h = highs()
    pass_lp(h, benefit[keep], np.zeros(len(keep)), np.ones(len(keep)), matrix,
            np.full(horizon, -INF), stream.capacity[0].astype(float))
    h.run()
    return float(h.getInfo().objective_function_value)


def bench_horizon(repeats: int) -> dict[str, Any]:
    case = horizon_case()
    policy, stream, ranking = case["policy"], case["stream"], case["ranking"]
    out: dict[str, Any] = {}

    def offline() -> None:
        out["offline"] = offline_optimum(stream, ranking.benefit, ranking.excluded)

    def floor() -> None:
        out["floor"] = direct_horizon(stream, ranking.benefit, ranking.excluded)

    def online() -> None:
        out["online"] = run_online(stream, policy, ranking)

    times = interleaved({"engine: offline optimum (interval LP, exact)": offline,
                         "floor: direct highspy interval LP": floor,
                         "engine: online rule (RAPR, reserves, smart)": online}, repeats)
    treated = out["online"].treated
    floors = [(r.name, case["cohort"].patients[r.category].to_numpy(dtype=bool),
               int((case["cohort"].patients[r.category].to_numpy(dtype=bool) & treated).sum()))
              for r in policy.reserves]
    t0 = time.perf_counter()
    reserved = offline_optimum(stream, ranking.benefit, ranking.excluded, floors,
                               time_limit=55.0)
    reserved_seconds = time.perf_counter() - t0
    bound, value = reserved.bound, reserved.value
    gap = None if bound is None or value is None else (bound - value) / max(abs(bound), 1e-9)
    assert abs(out["offline"].value - out["floor"]) <= 1e-6 * out["floor"]
    assert out["offline"].value >= float(ranking.benefit[treated].sum()) - 1e-9
    return {"patients": len(stream.ids), "days": int(stream.day.max()) + 1,
            "units": case["units"], "times": times, "offline": out["offline"].value,
            "offline_proof": out["offline"].proof,
            "online": float(ranking.benefit[treated].sum()),
            "with_reserve_floors": {"seconds": reserved_seconds, "value": value,
                                    "bound": bound, "relative_gap": gap,
                                    "proof": reserved.proof},
            "ratio_offline_to_floor": times["engine: offline optimum (interval LP, exact)"][
                "wall_s"] / times["floor: direct highspy interval LP"]["wall_s"]}


# ---------------------------------------------------------------------------------------------
# Compare


def bench_compare(replications: int, workers: int) -> dict[str, Any]:
    inputs = load_inputs(EXAMPLE)
    spec = CompareSpec(replications=replications, seed=1, patients=2_000)
    serial = CompareSpec(replications=10, seed=7, patients=2_000)
    compare(inputs, CompareSpec(replications=2, seed=3, patients=2_000), workers=1,
            progress=False)  # warm-up
    c0, t0 = time.process_time(), time.perf_counter()
    compare(inputs, serial, workers=1, progress=False)
    per_replication = {"wall_s": (time.perf_counter() - t0) / serial.replications,
                       "cpu_s": (time.process_time() - c0) / serial.replications}
    t0 = time.perf_counter()
    result = compare(inputs, spec, workers=workers, progress=False)
    seconds = time.perf_counter() - t0
    protocols = sorted(set(result.summary["protocol"]))
    return {"replications": replications, "patients": 2_000, "workers": workers,
            "protocols": protocols, "runs_per_replication": 14, "wall_s": seconds,
            "serial_per_replication": per_replication,
            "lives_gained": {f"{p}{' +reserves' if r else ''}": round(float(m), 2)
                             for p, r, m in result.summary[result.summary["metric"]
                                                           == "lives_gained"][
                                 ["protocol", "reserves", "mean"]].itertuples(index=False)}}


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average": os.getloadavg(), **solver_versions(),
            "numpy": np.__version__, "pandas": pd.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", default="snapshot,horizon,compare")
    parser.add_argument("--replications", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    only = set(args.only.split(","))
    report: dict[str, Any] = {"machine": machine()}
    if "snapshot" in only:
        report["snapshot"] = bench_snapshot(args.repeats)
        print(json.dumps(report["snapshot"], indent=2, default=str), flush=True)
    if "horizon" in only:
        report["horizon"] = bench_horizon(max(3, args.repeats // 2))
        print(json.dumps(report["horizon"], indent=2, default=str), flush=True)
    if "compare" in only:
        report["compare"] = bench_compare(args.replications, args.workers)
        print(json.dumps(report["compare"], indent=2, default=str), flush=True)
    report["machine"]["load_average_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
