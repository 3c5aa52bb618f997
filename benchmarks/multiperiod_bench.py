"""Multi-period planner benchmark (BENCHMARKS.md, "Multi-period planner (issue 3)").

Cases (seeded generator): A = 300 regions x 90 days, 3 depots, transfers from each region's
10 nearest; B = 1,000 regions x 90 days, 3 depots, no transfers; M* = 100 regions x 90 days,
3 depots, 10 nearest (the audit's instance) with the switches and constraints the first two
do not exercise: MW waiting (2 days), MP patient transfers, MWP both, MWPn both without the
tie-break, MF a coverage floor, MG a coverage gap, MT the threshold rule with every region a
member, MTr with the regions at 30% of the largest RAI or more (each with its price of
fairness). Each
measurement runs in its own subprocess (clean peak memory):

  engine   the product path: load + validate, model data, matrix build (models/multiperiod.py),
           load into HiGHS, solve (column generation, rounding, repair, tie-break), extract.
           With --trees NAME=PATH ..., the engine of each source tree (for example this one
           and a checkout of main), run interleaved: repeat by repeat, case by case, tree by
           tree, so both see the same machine load.
  direct   the floor: the same model built directly with highspy's API (addVars / addRows,
           written independently here), then HiGHS's own branch-and-bound to a 1% gap, with
           a time limit; the LP relaxation alone too (cases without switches only).
  pyomo    the Pyomo oracle of the tests (tests/pyomo_multiperiod.py): build, then translation
           into HiGHS through Pyomo's
           LinearStandardFormCompiler (solver.HighsModel) and through the appsi persistent
           interface (set_instance), with a time limit.

    .venv/bin/python benchmarks/multiperiod_bench.py [--cases A B MW ...]
        [--modes engine direct pyomo] [--mip-limit 600] [--repeat 3] [--json out.json]
        [--trees new=. main=/tmp/main-checkout]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

M = dict(regions=100, days=90, depots=3, neighbours=10, transfers=True, seed=1)
CASES: dict[str, dict[str, Any]] = {
    "A": dict(regions=300, days=90, depots=3, neighbours=10, transfers=True, seed=1),
    "B": dict(regions=1000, days=90, depots=3, neighbours=None, transfers=False, seed=1),
    "S": dict(regions=50, days=47, depots=1, neighbours=None, transfers=True, seed=1),  # US-sized
    "M": M,
    "MW": dict(M, settings={"max_wait_days": 2}),
    "MP": dict(M, settings={"patient_transfers": True}),
    "MWP": dict(M, settings={"max_wait_days": 2, "patient_transfers": True}),
    "MWPn": dict(M, settings={"max_wait_days": 2, "patient_transfers": True}, tie_break=False),
    "MF": dict(M, constraints=["coverage_floor:level=0.8"], price=True),
    "MG": dict(M, constraints=["max_coverage_gap:gap=0.2"], price=True),
    "MT": dict(M, constraints=["threshold:tau=0"], price=True),
    "MTr": dict(M, constraints=["threshold:tau=0.3,index=rai_relative"], price=True),
}
RUN_KEYS = ("settings", "constraints", "tie_break", "price")  # how to plan, not what to generate


def generator_spec(case: str) -> dict[str, Any]:
    return {k: v for k, v in CASES[case].items() if k not in RUN_KEYS}


def folder_name(case: str) -> str:
    """Cases that differ only in how they plan share one generated folder."""
    spec = generator_spec(case)
    return "case-" + "-".join(f"{spec[k]}" for k in ("regions", "days", "depots", "neighbours"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def instance_folder(case: str, base: Path) -> Path:
    from optimiser.multiperiod import GeneratorSpec, generate

    folder = base / (f"case-{case}" if case in ("A", "B", "S") else folder_name(case))
    if not (folder / "instance.toml").exists():
        generate(GeneratorSpec(**generator_spec(case)), folder)
    return folder


# ---------------------------------------------------------------------------------------------
# engine


def run_engine(folder: Path, case: str) -> dict[str, Any]:
    from optimiser.multiperiod import load_multiperiod, plan

    how = CASES[case]
    t0 = time.perf_counter()
    inst = load_multiperiod(folder).with_settings(**how.get("settings", {}))
    load = time.perf_counter() - t0
    result = plan(
        inst,
        how.get("constraints", []),
        price_of_fairness=how.get("price", False),
        tie_break=how.get("tie_break", True),
    )
    total = time.perf_counter() - t0
    t = result.timings
    return {
        "price_of_fairness": t.get("price_of_fairness"),
        "load": load,
        "build": t["build"],
        "translate": t["translate"],
        "highs": result.solver.seconds if result.solver else None,
        "solve_wall": t["solve"],
        "extract": t["extract"],
        "total": total,
        "lives": result.lives_saved,
        "gap": result.solver.gap if result.solver else None,
        "status": str(result.status),
        "size": result.sizes,
        "peak_mb": peak_mb(),
    }


# ---------------------------------------------------------------------------------------------
# direct highspy (the floor): the same model written straight against highspy's API


def build_direct(data: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Shipments, depot stock, transfers, units on hand, admissions, occupancy, cover, staff:
    the families the benchmark cases use (no waiting, batches, shipment limits, patient
    transfers or fairness), written independently of models/multiperiod.py with
    numpy and passed to highspy's addVars / addRows (row-wise)."""
    import highspy
    import numpy as np

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    n, T, K = data.n, data.days, len(data.depots)
    inf = highspy.kHighsInf
    # columns, block by block
    first = np.array([int(np.argmax(np.cumsum(data.deliveries[k]) > 0)) for k in range(K)])
    kk, rr, dd = np.meshgrid(np.arange(K), np.arange(n), np.arange(T), indexing="ij")
    keep = (dd >= first[kk]) & (dd + data.ship_lead[kk, rr] <= T - 1)
    sk, sr, sd = kk[keep], rr[keep], dd[keep]
    aa, ad = np.meshgrid(np.arange(len(data.arc_src)), np.arange(T), indexing="ij")
    keep = ad + data.arc_lead[aa] <= T - 1
    ta, td = aa[keep], ad[keep]
    sizes = [len(sk), len(ta), K * T, n * T, len(data.group_size), n * T]
    offsets = np.cumsum([0, *sizes])
    X, TR, S, H, Y, U = (np.arange(offsets[i], offsets[i + 1]) for i in range(6))
    lower = np.zeros(offsets[-1])
    upper = np.full(offsets[-1], inf)
    upper[Y] = data.group_size
    upper[U] = np.where(np.isfinite(data.staff), data.own + data.staff, inf).ravel()
    h.addVars(offsets[-1], lower, upper)
    integer = np.concatenate([X, TR]).astype(np.int32)
    h.changeColsIntegrality(len(integer), integer, np.ones(len(integer), dtype=np.uint8))
    cost = np.zeros(offsets[-1])
    cost[Y] = data.gain[data.group_region]
    h.changeColsCost(offsets[-1], np.arange(offsets[-1], dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    # rows: depot (k, d), hand (r, d), occupancy (r, d), cover (r, d)
    base = {"depot": 0, "hand": K * T, "occ": K * T + n * T, "cover": K * T + 2 * n * T}
    m = K * T + 3 * n * T
    triplets: list[tuple[Any, Any, Any]] = []

    def put(rows: Any, cols: Any, vals: Any) -> None:
        rows = np.asarray(rows)
        triplets.append(
            (rows, np.asarray(cols), np.broadcast_to(np.asarray(vals, dtype=float), rows.shape))
        )

    kd = np.arange(K * T)
    put(base["depot"] + kd, S, 1.0)
    later = kd % T > 0
    put(base["depot"] + kd[later], S[later] - 1, -1.0)
    put(base["depot"] + sk * T + sd, X, 1.0)
    rd = np.arange(n * T)
    later = rd % T > 0
    for name, col in (("hand", H), ("occ", U)):
        put(base[name] + rd, col, 1.0)
        put(base[name] + rd[later], col[later] - 1, -1.0)
    put(base["hand"] + sr * T + sd + data.ship_lead[sk, sr], X, -1.0)
    put(base["hand"] + data.arc_src[ta] * T + td, TR, 1.0)
    put(base["hand"] + data.arc_dst[ta] * T + td + data.arc_lead[ta], TR, -1.0)
    day = np.maximum(data.group_day, 0)
    put(base["occ"] + data.group_region * T + day, Y, -1.0)
    end = day + data.group_stay
    inside = end <= T - 1
    put(base["occ"] + data.group_region[inside] * T + end[inside], Y[inside], 1.0)
    put(base["cover"] + rd, U, 1.0)
    put(base["cover"] + rd, H, -1.0)
    rows = np.concatenate([t[0] for t in triplets])
    cols = np.concatenate([t[1] for t in triplets])
    vals = np.concatenate([t[2] for t in triplets])
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(m)).astype(np.int32)
    change = np.diff(np.concatenate([np.zeros((n, 1)), data.own], axis=1), axis=1).ravel()
    rhs = np.concatenate([data.deliveries.ravel(), change, np.zeros(n * T)])
    row_lower = np.concatenate([rhs, np.full(n * T, -inf)])
    row_upper = np.concatenate([rhs, np.zeros(n * T)])
    h.addRows(m, row_lower, row_upper, len(vals), starts, cols.astype(np.int32), vals)
    return h, highspy, {"columns": int(offsets[-1]), "rows": m, "nonzeros": len(vals)}


def run_direct(folder: Path, mip_limit: float) -> dict[str, Any]:
    import numpy as np

    from optimiser.multiperiod import load_multiperiod, model_data

    data = model_data(load_multiperiod(folder))
    t0 = time.perf_counter()
    h, highspy, size = build_direct(data)
    build = time.perf_counter() - t0
    out: dict[str, Any] = {"build_and_load": build, "size": size}
    # the LP relaxation (HiGHS's simplex on the whole model)
    n = h.getNumCol()
    lp = highspy.Highs()
    lp.passModel(h.getLp())
    lp.setOptionValue("output_flag", False)
    lp.setOptionValue("threads", 1)
    lp.setOptionValue("time_limit", float(mip_limit))
    t1 = time.perf_counter()
    lp.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
    lp.run()
    out["lp_seconds"] = time.perf_counter() - t1
    out["lp_status"] = lp.modelStatusToString(lp.getModelStatus())
    out["lp_objective"] = lp.getInfo().objective_function_value
    del lp
    h.setOptionValue("mip_rel_gap", 0.01)
    h.setOptionValue("time_limit", float(mip_limit))
    t2 = time.perf_counter()
    h.run()
    out["mip_seconds"] = time.perf_counter() - t2
    info = h.getInfo()
    out["mip_status"] = h.modelStatusToString(h.getModelStatus())
    out["mip_objective"] = (
        info.objective_function_value if info.primal_solution_status == 2 else None
    )
    out["mip_bound"] = info.mip_dual_bound
    out["mip_gap"] = info.mip_gap
    out["peak_mb"] = peak_mb()
    return out


# ---------------------------------------------------------------------------------------------
# Pyomo reference model


def run_pyomo(folder: Path, limit: float) -> dict[str, Any]:
    import pyomo.environ as pyo

    sys.path.insert(0, str(ROOT / "tests"))
    from pyomo_multiperiod import build_multiperiod

    from optimiser.multiperiod import load_multiperiod, model_data
    from optimiser.solver import HighsModel

    data = model_data(load_multiperiod(folder))
    t0 = time.perf_counter()
    model = build_multiperiod(data)
    out: dict[str, Any] = {"build": time.perf_counter() - t0}
    t1 = time.perf_counter()
    HighsModel(model)
    out["translate_standard_form"] = time.perf_counter() - t1
    out["peak_mb_after_standard_form"] = peak_mb()
    try:
        from pyomo.contrib.appsi.solvers import Highs as AppsiHighs

        solver = AppsiHighs()
        if solver.available():
            t2 = time.perf_counter()
            solver.set_instance(model)
            out["translate_persistent"] = time.perf_counter() - t2
    except Exception as exc:
        out["persistent_error"] = f"{type(exc).__name__}: {exc}"
    out["variables"] = sum(1 for _ in model.component_data_objects(pyo.Var))
    out["peak_mb"] = peak_mb()
    return out


# ---------------------------------------------------------------------------------------------


def child(case: str, mode: str, base: Path, mip_limit: float) -> None:
    folder = instance_folder(case, base)
    if mode == "engine":
        result = run_engine(folder, case)
    elif mode == "direct":
        result = run_direct(folder, mip_limit)
    else:
        result = run_pyomo(folder, mip_limit)
    # CPU seconds of the whole child (load and build included): what shared cores move least
    result["cpu_s"] = time.process_time()
    print("RESULT " + json.dumps(result, default=str))


def spawn(
    case: str,
    mode: str,
    base: Path,
    mip_limit: float,
    timeout: float,
    tree: Path | None = None,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        case,
        mode,
        "--base",
        str(base),
        "--mip-limit",
        str(mip_limit),
    ]
    if tree is not None:
        cmd += ["--tree", str(tree)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out = json.loads(line[len("RESULT ") :])
            out["process_seconds"] = time.perf_counter() - t0
            return out
    return {"error": (proc.stderr or proc.stdout)[-2000:]}


def versions() -> dict[str, str]:
    from optimiser.solver import solver_versions

    v = solver_versions()
    v["python"] = platform.python_version()
    v["machine"] = f"{platform.machine()}, {platform.processor() or 'cpu'}, {_cores()} cores"
    return v


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", default=["A", "B"], choices=list(CASES))
    parser.add_argument("--modes", nargs="+", default=["engine", "direct", "pyomo"])
    parser.add_argument("--repeat", type=int, default=3, help="engine runs per case (median)")
    parser.add_argument(
        "--mip-limit", type=float, default=600.0, help="seconds for HiGHS's own MIP (floor)"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds per measurement process"
    )
    parser.add_argument(
        "--base", type=Path, default=None, help="folder for the generated instances"
    )
    parser.add_argument("--json", type=Path, default=None, help="write all measurements here")
    parser.add_argument(
        "--trees",
        nargs="+",
        default=None,
        metavar="NAME=PATH",
        help="compare the engine of these source trees, interleaved (engine mode only)",
    )
    parser.add_argument("--child", nargs=2, metavar=("CASE", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    base = args.base or Path(tempfile.gettempdir()) / "triage-multiperiod-bench"
    base.mkdir(parents=True, exist_ok=True)
    if args.child:
        if args.tree is not None:
            sys.path.insert(0, str(args.tree.resolve()))
        child(args.child[0], args.child[1], base, args.mip_limit)
        return
    if args.trees:
        compare_trees(args, base)
        return
    report: dict[str, Any] = {"versions": versions(), "cases": {}}
    for case in args.cases:
        instance_folder(case, base)
        entry: dict[str, Any] = {"spec": CASES[case]}
        if any(k in CASES[case] for k in RUN_KEYS) and args.modes != ["engine"]:
            print(f"[{case}] only the engine handles switches and constraints", flush=True)
        if "engine" in args.modes:
            runs = [
                spawn(case, "engine", base, args.mip_limit, args.timeout)
                for _ in range(args.repeat)
            ]
            entry["engine_runs"] = runs
            entry["engine"] = {
                k: median(runs, k) for k in runs[0] if isinstance(runs[0].get(k), int | float)
            }
            entry["engine"].update({k: runs[0][k] for k in ("status", "size") if k in runs[0]})
            print(f"[{case}] engine: {json.dumps(entry['engine'], default=str)}", flush=True)
        if "direct" in args.modes and not any(k in CASES[case] for k in RUN_KEYS):
            entry["direct"] = spawn(case, "direct", base, args.mip_limit, args.timeout)
            print(f"[{case}] direct: {json.dumps(entry['direct'], default=str)}", flush=True)
        if "pyomo" in args.modes and not any(k in CASES[case] for k in RUN_KEYS):
            entry["pyomo"] = spawn(case, "pyomo", base, args.mip_limit, args.timeout)
            print(f"[{case}] pyomo: {json.dumps(entry['pyomo'], default=str)}", flush=True)
        report["cases"][case] = entry
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report["versions"]))


def compare_trees(args: argparse.Namespace, base: Path) -> None:
    """The engine of each tree, interleaved: for each repeat, each case, each tree in turn;
    medians of total time and peak memory per tree, and their ratios to the first tree."""
    trees = dict(t.split("=", 1) for t in args.trees)
    for case in args.cases:
        instance_folder(case, base)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        c: {n: [] for n in trees} for c in args.cases
    }
    for r in range(args.repeat):
        for case in args.cases:
            for name, path in trees.items():
                out = spawn(case, "engine", base, args.mip_limit, args.timeout, Path(path))
                runs[case][name].append(out)
                print(
                    f"[{case}] {name} run {r + 1}: total {out.get('total')}, CPU "
                    f"{out.get('cpu_s')}, peak "
                    f"{out.get('peak_mb')} MB, lives {out.get('lives')}, {out.get('status')}",
                    flush=True,
                )
    report: dict[str, Any] = {"versions": versions(), "trees": trees, "cases": {}}
    first = next(iter(trees))
    for case in args.cases:
        summary: dict[str, Any] = {}
        for name in trees:
            done = runs[case][name]
            summary[name] = {
                k: median(done, k)
                for k in (
                    "total", "cpu_s", "peak_mb", "build", "translate", "solve_wall", "extract"
                )
            }
            summary[name]["lives"] = sorted({d.get("lives") for d in done}, key=str)
            summary[name]["status"] = sorted({str(d.get("status")) for d in done})
        for name in trees:
            for k in ("total", "cpu_s", "peak_mb"):
                a, b = summary[name][k], summary[first][k]
                summary[name][f"{k}_ratio"] = None if not a or not b else a / b
        report["cases"][case] = {"summary": summary, "runs": runs[case]}
        print(f"[{case}] {json.dumps(summary, default=str)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report["versions"]))


if __name__ == "__main__":
    main()
