"""Issue 12's planner targets, one measurement per subprocess (clean peak memory).

Instances come from the seeded generator (`optimiser.multiperiod.generate`, as in
benchmarks/multiperiod_bench.py): 3 depots, census demand, seed 1; "transfers" = lanes from
each region's 10 nearest.

  scale      n x 90 days with transfers, n = 100, 200, 400, 800, 1000, 1600: the engine time
             (build + solve + extract) and its growth exponent fitted on log-log between
             consecutive sizes and over the whole range (target: at most n^1.2); 1,000 x 90
             end to end (load included) under 45 s and 2 GB.
  days       100 x 365 with transfers end to end (target: under 8 s).
  threshold  300 x 90 with `threshold:tau=0` (every region a member), --gap 0.01 and a 120 s
             time limit (target: status optimal within the 1% gap, a plan that ships units,
             the reported bound the best proven); the plan is then replayed by check-plan
             (outside the timing: `check_ok`).
  switches   300 x 90 plain, then with waiting (2 days) and patient transfers, interleaved
             (target: within 2x the plain plan's time and 1.3x its peak memory).

Each row: wall seconds of the child (process), stages load / build (+ translate) / solve /
extract from `PlanResult.timings`, HiGHS seconds of the last run, peak RSS (MB), status, lives.

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/planner_scale.py \
        [--groups scale days threshold switches] [--sizes 100 200 ...] [--repeat 1] \
        [--compare /path/to/other/tree] [--json out.json]

`--compare TREE`: every job also runs TREE's code (TREE/benchmarks/planner_scale.py as the
child: its own tree first on sys.path), interleaved job by job with this tree's (TREE's run
first), and the summary gives both trees' exponents and this tree's time over TREE's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
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

SIZES = (100, 200, 400, 800, 1000, 1600)
THRESHOLD_LIMIT = 120.0


def spec_of(regions: int, days: int) -> dict[str, Any]:
    return dict(regions=regions, days=days, depots=3, neighbours=10, transfers=True, seed=1)


def folder_of(regions: int, days: int, base: Path) -> Path:
    from optimiser.multiperiod import GeneratorSpec, generate

    folder = base / f"scale-{regions}x{days}"
    if not (folder / "instance.toml").exists():
        generate(GeneratorSpec(**spec_of(regions, days)), folder)
    return folder


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(regions: int, days: int, how: str, base: Path) -> dict[str, Any]:
    from optimiser.multiperiod import load_multiperiod, plan

    folder = folder_of(regions, days, base)
    t0 = time.perf_counter()
    inst = load_multiperiod(folder)
    kwargs: dict[str, Any] = {"price_of_fairness": False}
    constraints: list[str] = []
    if how == "switches":
        inst = inst.with_settings(max_wait_days=2, patient_transfers=True)
    elif how == "threshold":
        constraints = ["threshold:tau=0"]
        kwargs.update(time_limit=THRESHOLD_LIMIT, mip_gap=0.01)
    load = time.perf_counter() - t0
    result = plan(inst, constraints, **kwargs)
    total = time.perf_counter() - t0
    t = result.timings
    shipped = 0.0
    if len(result.manifest):
        moves = result.manifest[result.manifest["kind"].isin(["ship", "transfer"])]
        shipped = float(moves["units"].astype(float).sum())
    checked: dict[str, Any] = {}
    if how == "threshold" and result.lives_saved is not None:
        # after the timing: the plan replayed by check-plan's independent simulator
        from optimiser.multiperiod import check_plan

        check = check_plan(inst, result)
        checked = {"check_ok": bool(check.ok), "check_survivors": float(check.survivors)}
    return {
        **checked,
        "load": load,
        "build": t.get("build", 0.0) + t.get("translate", 0.0),
        "solve": t.get("solve"),
        "extract": t.get("extract"),
        "engine": total - load,
        "total": total,
        "highs_last": result.solver.seconds if result.solver else None,
        "status": str(result.status),
        "lives": result.lives_saved,
        "gap": result.solver.gap if result.solver else None,
        "bound": result.objective_bound,
        "units_moved": shipped,
        "size": result.sizes,
        "peak_mb": peak_mb(),
        "cpu_s": time.process_time(),
    }


def spawn(
    regions: int, days: int, how: str, base: Path, timeout: float, script: Path | None = None
) -> dict[str, Any]:
    path = str(script or __file__)
    cmd = [sys.executable, path, "--child", str(regions), str(days), how, "--base", str(base)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out: dict[str, Any] = json.loads(line[len("RESULT ") :])
            out["process"] = time.perf_counter() - t0
            return out
    return {"error": (proc.stderr or proc.stdout)[-2000:]}


def med(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
            out[key] = statistics.median(values) if values else None
        else:
            out[key] = value
    out["runs"] = len(runs)
    return out


def exponent(n0: float, t0: float, n1: float, t1: float) -> float:
    return math.log(t1 / t0) / math.log(n1 / n0)


def line(label: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{label}: ERROR {r['error'][-300:]}"
    keys = (
        "process",
        "cpu_s",
        "load",
        "build",
        "solve",
        "extract",
        "engine",
        "highs_last",
        "peak_mb",
    )
    parts = [f"{k} {r[k]:.2f}" for k in keys if isinstance(r.get(k), int | float)]
    return (
        f"{label}: "
        + ", ".join(parts)
        + (
            f", {r['status']}, lives {r['lives']}, gap {r['gap']}, bound {r['bound']}, "
            f"moved {r['units_moved']}"
            + (f", check-plan ok {r['check_ok']}" if "check_ok" in r else "")
        )
    )


def versions() -> dict[str, str]:
    from optimiser.solver import solver_versions

    v = solver_versions()
    v["python"] = platform.python_version()
    return v


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--groups",
        nargs="+",
        default=["scale", "days", "threshold", "switches"],
        choices=["scale", "days", "threshold", "switches"],
    )
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--compare", type=Path, default=None, help="another tree to run beside")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    base = args.base or Path(tempfile.gettempdir()) / "triage-planner-scale"
    base.mkdir(parents=True, exist_ok=True)
    if args.child:
        regions, days, how = int(args.child[0]), int(args.child[1]), args.child[2]
        print("RESULT " + json.dumps(child(regions, days, how, base), default=str))
        return
    jobs: list[tuple[str, int, int, str]] = []
    if "scale" in args.groups:
        jobs += [(f"scale {n}x90", n, 90, "plain") for n in args.sizes]
    if "days" in args.groups:
        jobs.append(("days 100x365", 100, 365, "plain"))
    if "threshold" in args.groups:
        jobs.append(("threshold 300x90", 300, 90, "threshold"))
    if "switches" in args.groups:
        jobs += [("plain 300x90", 300, 90, "plain"), ("switches 300x90", 300, 90, "switches")]
    for _, n, d, _ in jobs:
        folder_of(n, d, base)
    trees: list[tuple[str, Path | None]] = [("", None)]
    if args.compare is not None:
        other = args.compare.resolve() / "benchmarks" / "planner_scale.py"
        trees = [(" [compare]", other), ("", None)]
    runs: dict[str, list[dict[str, Any]]] = {
        label + tag: [] for label, *_ in jobs for tag, _ in trees
    }
    for r in range(args.repeat):  # interleaved: every job once per repeat (and per tree)
        for label, n, d, how in jobs:
            for tag, script in trees:
                out = spawn(n, d, how, base, args.timeout, script)
                runs[label + tag].append(out)
                print(line(f"{label}{tag} [{r + 1}]", out), flush=True)
    summary = {
        label: med([x for x in done if "error" not in x] or done) for label, done in runs.items()
    }
    report: dict[str, Any] = {"versions": versions(), "summary": summary}
    for tag, _ in trees:
        sizes = [n for n in args.sizes if "engine" in summary.get(f"scale {n}x90{tag}", {})]
        if len(sizes) < 2:
            continue
        for key in ("engine", "cpu_s"):
            got = {n: summary[f"scale {n}x90{tag}"][key] for n in sizes}
            steps = {
                f"{a}->{b}": exponent(a, got[a], b, got[b]) for a, b in itertools.pairwise(sizes)
            }
            steps[f"{sizes[0]}->{sizes[-1]}"] = exponent(
                sizes[0], got[sizes[0]], sizes[-1], got[sizes[-1]]
            )
            report[f"exponents{tag} ({key})"] = steps
            print(f"{key} exponents{tag}: " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
    if args.compare is not None:
        ratios = {}
        for label, *_ in jobs:
            a, b = summary.get(label + " [compare]", {}), summary.get(label, {})
            if isinstance(a.get("cpu_s"), float) and isinstance(b.get("cpu_s"), float):
                ratios[label] = {
                    "cpu": b["cpu_s"] / a["cpu_s"],
                    "engine": b["engine"] / a["engine"],
                }
        report["ratio_to_compare"] = ratios
        print("this tree / compare: " + json.dumps(ratios))
    if "plain 300x90" in summary and "switches 300x90" in summary:
        a, b = summary["plain 300x90"], summary["switches 300x90"]
        if "engine" in a and "engine" in b:
            report["switches_ratio"] = {
                "time": b["total"] / a["total"],
                "peak_mb": b["peak_mb"] / a["peak_mb"],
            }
            print(f"switches / plain: {json.dumps(report['switches_ratio'])}")
    print(json.dumps(report["versions"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
