"""Sample-average approximation benchmark (BENCHMARKS.md, "SAA: replications and out-of-sample
scoring of the candidate").

What it measures, scenarios from the log-normal generator (LognormalSpec defaults, fresh seeds
from the master seed). SAA runs on a synthetic instance (`triage generate`, `--regions` x
`--days`, seed 3): on US 50 x 47 one extensive form of even 2 scenarios does not reach a proven
optimum in 500 s (BENCHMARKS.md, "Stochastic planner"), so SAA there is out of reach today. The
recourse probe (the unit of out-of-sample scoring) runs on US 50 x 47 itself, with the
deterministic plan's first week as the commit.

  saa-1p    optimiser.stochastic.replications.saa(workers=1): everything in this process
  saa-2p    saa(workers=2): 2 local processes started by the call
  saa-dask  saa(scheduler=client): a Dask LocalCluster of 2 worker processes x 1 thread,
            started beforehand (start-up reported apart)
  recourse  the unit of out-of-sample scoring: one scenario's deterministic re-plan with the
            candidate's commit fixed (optimiser.stochastic.replications.recourse_lives), timed
            in this process on `--probe` scenarios of US 50 x 47 and of the SAA instance;
            x 1,000 / 2 = what scoring a commit over 1,000 scenarios needs on 2 free cores

The three SAA paths run interleaved, `--repeat` rounds; they must give the same answer
(asserted: same seed, same answer). Wall and CPU seconds (this process plus its pool's
processes from getrusage(RUSAGE_CHILDREN), or psutil on the Dask workers). Usage:

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/stoch_saa_bench.py [--repeat 1]
        [--regions 10] [--days 21] [-M 3] [-N 2] [--select-on 6] [--evaluate-on 200]
        [--probe 10] [--risk R] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from scenarios_bench import versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("-M", "--replications", type=int, default=3)
    parser.add_argument("-N", "--sample", type=int, default=2)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--select-on", type=int, default=6)
    parser.add_argument("--evaluate-on", type=int, default=200)
    parser.add_argument("--probe", type=int, default=10)
    parser.add_argument("--gap", type=float, default=0.001)
    parser.add_argument("--risk", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    load_at_start = os.getloadavg()

    import tempfile

    import psutil
    from distributed import Client, LocalCluster

    from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod, plan
    from optimiser.scenarios.table import GeneratorRequest
    from optimiser.stochastic.compare import commit_of
    from optimiser.stochastic.replications import draw, recourse_lives, saa

    us = load_multiperiod(ROOT / "instances" / "us-states-apr2020")
    folder = Path(tempfile.mkdtemp()) / "saa-bench"
    inst = load_multiperiod(
        generate(GeneratorSpec(regions=args.regions, days=args.days, seed=3), folder)
    )
    source = GeneratorRequest(method="lognormal", parameters={})
    kwargs: dict[str, Any] = dict(
        replications=args.replications,
        sample_size=args.sample,
        selection_size=args.select_on,
        evaluation_size=args.evaluate_on,
        seed=1,
        commit_days=7,
        mip_gap=args.gap,
        risk=args.risk,
    )

    # the unit of scoring: one recourse re-plan, in this process
    probes: dict[str, dict[str, float]] = {}
    for name, one in (("us-states-apr2020", us), (inst.name, inst)):
        commit = commit_of(plan(one, price_of_fairness=False), 0, 7)
        commit = commit[commit["kind"] == "ship"]  # transfers may not fit every scenario
        probe = draw(one, source, args.probe, 99)
        t0, c0 = time.perf_counter(), time.process_time()
        recourse_lives(one, commit, 7, probe, [], True)
        per = (time.perf_counter() - t0) / len(probe)
        cpu_per = (time.process_time() - c0) / len(probe)
        probes[name] = {
            "s_per_scenario": round(per, 3),
            "cpu_s_per_scenario": round(cpu_per, 3),
            "cpu_1000_on_2_free_cores_s": round(cpu_per * 1000 / 2, 1),
        }
        print(
            f"recourse {name}: {per:.2f} s per scenario wall, {cpu_per:.2f} s CPU -> 1,000 "
            f"scenarios on 2 free cores: {cpu_per * 1000 / 2:.0f} s",
            flush=True,
        )

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    client.wait_for_workers(2)
    cluster_s = time.perf_counter() - t0
    dask_pids = list(client.run(os.getpid).values())

    def dask_cpu() -> float:
        return sum(sum(psutil.Process(p).cpu_times()[:2]) for p in dask_pids)

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    modes = ("saa-1p", "saa-2p", "saa-dask")
    runs: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    answers: dict[str, Any] = {}
    try:
        for r in range(args.repeat):
            for mode in modes:
                t0, own0 = time.perf_counter(), time.process_time()
                w0 = dask_cpu() if mode == "saa-dask" else children_cpu()
                if mode == "saa-1p":
                    result = saa(inst, source, workers=1, **kwargs)
                elif mode == "saa-2p":
                    result = saa(inst, source, workers=2, **kwargs)
                else:
                    result = saa(inst, source, scheduler=client, **kwargs)
                w1 = dask_cpu() if mode == "saa-dask" else children_cpu()
                seconds = time.perf_counter() - t0
                used = (w1 - w0) + (time.process_time() - own0)
                runs[mode].append(seconds)
                cpu[mode].append(used)
                answers[mode] = result.to_dict()
                print(
                    f"round {r + 1} {mode}: {seconds:.1f} s wall, {used:.1f} s CPU (load "
                    f"{os.getloadavg()[0]:.1f}); bounds {result.lower_bound:.2f} .. "
                    f"{result.upper_bound:.2f}, gap {result.gap:.2f}",
                    flush=True,
                )
    finally:
        client.close()
        cluster.close()
    assert answers["saa-1p"] == answers["saa-2p"] == answers["saa-dask"], "the paths disagree"
    solves = args.replications * (1 + args.sample + args.select_on) + args.evaluate_on
    report = {
        "config": {k: v for k, v in kwargs.items()},
        "recourse_solves_per_run": solves,
        "saa_instance": f"{inst.name}: {len(inst.regions)} regions x {inst.days} days",
        "recourse_probe": probes,
        "dask_cluster_start_s": round(cluster_s, 2),
        "runs_s": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "median_s": {k: round(statistics.median(v), 2) for k, v in runs.items()},
        "cpu_s": {k: [round(x, 2) for x in v] for k, v in cpu.items()},
        "median_cpu_s": {k: round(statistics.median(v), 2) for k, v in cpu.items()},
        "bounds": {
            k: answers["saa-1p"][k]
            for k in (
                "upper_bound",
                "upper_bound_high",
                "lower_bound",
                "lower_bound_low",
                "gap",
                "gap_high",
                "candidate",
            )
        },
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "versions": {**versions(), **_solver()},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _solver() -> dict[str, str]:
    from optimiser.solver import solver_versions

    return {k: str(v) for k, v in solver_versions().items()}


if __name__ == "__main__":
    main()
