"""Two-stage stochastic planner benchmark (BENCHMARKS.md, "Stochastic planner: extensive form").

Target (issue 13): US 50 x 47 (instances/us-states-apr2020, transfers on) with 20 scenarios
to a 0.1% gap in under 2 minutes on 2 cores; the extensive form's build and translation under
20% of HiGHS's own time; memory at 50 scenarios stated.

Scenarios: log-normal around the instance's forecast (optimiser.scenarios.LognormalSpec
defaults, seed 1). The plan: `plan_under_uncertainty(..., commit_days=7, mip_gap=0.001,
price_of_fairness=False, method=M)` for each method M of `--methods` (exact: HiGHS on the
whole extensive form; rounding: the decomposition, optimiser/stochastic/decomp.py). Each run
is a fresh process (peak memory is per process); per round the scenario counts and, for each,
the methods run one after another (interleaved), `--repeat` rounds; medians reported. A
run's gap is reported only when both its bound and its plan are proved (`lives_bound`).

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/stochastic_bench.py
        [--scenarios 20 50] [--methods exact rounding] [--risks neutral cvar:alpha=0.1,lambda=0.5]
        [--repeat 1] [--time-limit 600] [--relax-recourse] [--json out.json]

`--risks`: the risk measures (`--risk` of `triage plan`), each run for every scenario count
and method, interleaved. Each run records the load average (1 minute) at its start and end.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INSTANCE = ROOT / "instances" / "us-states-apr2020"


def one_run(
    scenarios: int, time_limit: float, gap: float, relax: bool, method: str, risk: str
) -> dict[str, Any]:
    """One plan in this process: timings, sizes, status, peak memory."""
    from optimiser.multiperiod import load_multiperiod
    from optimiser.scenarios import LognormalSpec, lognormal_scenarios
    from optimiser.stochastic import plan_under_uncertainty

    load_start = os.getloadavg()[0]
    inst = load_multiperiod(INSTANCE).with_settings(transfers=True)
    t0 = time.perf_counter()
    sets = lognormal_scenarios(inst, LognormalSpec(scenarios=scenarios, seed=1))
    generate = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = plan_under_uncertainty(
        inst,
        sets,
        commit_days=7,
        mip_gap=gap,
        time_limit=time_limit,
        price_of_fairness=False,
        relax_recourse=relax,
        method=method,
        risk=risk,
    )
    total = time.perf_counter() - t1
    t = result.timings
    highs = float(result.solver.get("seconds") or 0.0)
    return {
        "scenarios": scenarios,
        "asked": method,
        "risk": risk,
        "objective": result.solver.get("objective"),
        "bound": result.solver.get("bound"),
        "method": result.solver.get("method", method),
        "relax_recourse": relax,
        "status": str(result.status),
        "gap": result.gap,
        "expected_lives": result.expected_lives,
        "lives_bound": result.lives_bound,
        "generate_s": round(generate, 3),
        "build_s": round(t["build"], 3),
        "translate_s": round(t["translate"], 3),
        "highs_s": round(highs, 3),
        "total_s": round(total, 3),
        "build_translate_share_of_highs": round((t["build"] + t["translate"]) / highs, 4)
        if highs
        else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_s": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_utime
            + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
            3,
        ),
        "load_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "timings": {k: round(float(v), 3) for k, v in t.items()},  # rounding_*: its phases
        "sizes": result.sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--gap", type=float, default=0.001)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--relax-recourse", action="store_true")
    parser.add_argument("--methods", nargs="+", default=["exact", "rounding"])
    parser.add_argument("--risks", nargs="+", default=["neutral"])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child run
    parser.add_argument("--method", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--risk", default="neutral", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(
            json.dumps(
                one_run(
                    args.one, args.time_limit, args.gap, args.relax_recourse, args.method, args.risk
                )
            )
        )
        return
    runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        for count in args.scenarios:
            for method in args.methods:
                for risk in args.risks:
                    cmd = [sys.executable, __file__, "--one", str(count), "--method", method]
                    cmd += ["--time-limit", str(args.time_limit), "--gap", str(args.gap)]
                    cmd += ["--risk", risk]
                    cmd += ["--relax-recourse"] if args.relax_recourse else []
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    run = json.loads(out.stdout.strip().splitlines()[-1])
                    print(json.dumps(run), flush=True)
                    runs.append(run)
    import highspy
    import numpy
    import pyomo.version
    import scipy

    summary = {
        "python": platform.python_version(),
        "highspy": importlib.metadata.version("highspy"),
        "highs": f"{highspy.Highs().version()}",
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pyomo": pyomo.version.version,
        "median_total_s": {
            f"{c} {m} {k}": statistics.median(
                r["total_s"]
                for r in runs
                if r["scenarios"] == c and r["asked"] == m and r["risk"] == k
            )
            for c in args.scenarios
            for m in args.methods
            for k in args.risks
        },
        "runs": runs,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
