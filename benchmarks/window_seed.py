"""A rolling horizon of window LPs as the seed of the planner's first column-generation LP
(issue 12, track window), against the greedy seed (main's), interleaved.

Each job is one plan (`plan(instance, [], price_of_fairness=False)`, as
benchmarks/planner_scale.py) in a child process (clean peak memory; CPU seconds of the child,
`time.process_time`, the primary figure). Modes of a job:

  tree             the tree's code as it is (main's: seed1000's greedy seed above 700,000
                   candidates; window's: the window plan's, started from the greedy's;
                   window2's: the greedy's from 100,000, the window plan's from 700,000)
  greedy           this branch with colgen_window off (the greedy seed alone)
  window W S       this branch, window LPs of W days each keeping its first S days (the
                   greedy's columns start each window)

The planner's first `solve_lp` is timed round by round: its rounds, CPU seconds, and the
master's objective after round 1 (how far the seeded master starts below the LP optimum:
BENCHMARKS.md, "seed2"). `--tree T` runs the child on another tree's code (T first on
sys.path; only `tree` there), e.g. main's from `git archive 98e5f6b`.

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/window_seed.py \
        --size 1000 90 --jobs tree@/tmp/window-main "window 30 15" [--repeat 1] \
        [--base /tmp/growthm-scale] [--time-limit S]

`--time-limit S`: every plan under a time limit of S seconds (the window seed off there:
colgen_window.applies; the greedy seed alone where colgen_seed.applies).

Results: BENCHMARKS.md, "window".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(args.tree or ROOT))
    import numpy as np

    from optimiser.multiperiod import colgen as C
    from optimiser.multiperiod import load_multiperiod, plan

    info: dict[str, Any] = {"rounds": []}
    mode = args.mode.split()
    if mode[0] == "greedy":  # the greedy seed alone (the window predictor off)
        from optimiser.multiperiod import colgen_window

        colgen_window.applies = lambda options: False
    if mode[0] == "window":
        from optimiser.multiperiod import colgen_window

        window, step = int(mode[1]), int(mode[2])
        plan_of = colgen_window.window_plan

        def timed_plan(p: Any, options: Any = None, **k: Any) -> Any:
            k.update(window=window, step=step)
            c = time.process_time()
            x, stats = plan_of(p, options, **k)
            info["predictor_cpu"] = round(time.process_time() - c, 2)
            info["predictor_objective"] = stats.objective
            info["predictor_windows"] = stats.windows
            info["predictor_rounds"] = stats.rounds
            info["seed_columns"] = int((np.abs(x[p.movements]) > 1e-9).sum())
            return x, stats

        colgen_window.window_plan = timed_plan
    state = {"lp": 0}
    solve_lp = C.ColumnGeneration.solve_lp
    first: list[Any] = []

    def timed(self: Any, *a: Any, **k: Any) -> Any:
        if not first:
            first.append(self)
            h = self.highs
            solve = h.solve

            def timed_solve(*sa: Any, **sk: Any) -> Any:
                c = time.process_time()
                out = solve(*sa, **sk)
                if state["lp"] == 1:
                    info["rounds"].append([round(time.process_time() - c, 2), out.objective])
                return out

            h.solve = timed_solve
        if self is first[0]:
            state["lp"] += 1
        c = time.process_time()
        out = solve_lp(self, *a, **k)
        if self is first[0] and state["lp"] == 1:
            info["first_lp_cpu"] = round(time.process_time() - c, 2)
            info["first_lp_objective"] = out.objective
        return out

    C.ColumnGeneration.solve_lp = timed  # type: ignore[method-assign]
    folder = args.base / f"scale-{args.size[0]}x{args.size[1]}"
    t0, c0 = time.perf_counter(), time.process_time()
    inst = load_multiperiod(folder)
    result = plan(inst, [], price_of_fairness=False, time_limit=args.time_limit)
    rounds = info.pop("rounds")
    report = {
        "mode": args.mode,
        "tree": str(args.tree or ROOT),
        "wall": round(time.perf_counter() - t0, 2),
        "cpu": round(time.process_time() - c0, 2),
        **info,
        "first_lp_rounds": len(rounds),
        "round1_objective": rounds[0][1] if rounds else None,
        "round_cpu": [r[0] for r in rounds],
        "lives": result.lives_saved,
        "status": str(result.status),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load": os.getloadavg()[0],
    }
    print("RESULT " + json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, nargs=2, default=[1000, 90])
    parser.add_argument("--jobs", nargs="+", default=["tree@/tmp/window-main", "tree"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--base", type=Path, default=Path("/tmp/growthm-scale"))
    parser.add_argument("--child", dest="mode")
    parser.add_argument("--tree", type=Path)
    parser.add_argument("--time-limit", type=float, default=None, help="plan's time limit (s)")
    args = parser.parse_args()
    if args.mode:
        child(args)
        return
    for _ in range(args.repeat):
        for job in args.jobs:
            mode, _, tree = job.partition("@")
            cmd = [sys.executable, __file__, "--child", mode, "--size", *map(str, args.size)]
            cmd += ["--base", str(args.base)] + (["--tree", tree] if tree else [])
            if args.time_limit is not None:
                cmd += ["--time-limit", str(args.time_limit)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            print(lines[-1][7:] if lines else json.dumps({"job": job, "error": out.stderr[-800:]}))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
