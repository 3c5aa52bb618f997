"""Out-of-sample evaluation benchmark (BENCHMARKS.md, "Scenarios: out-of-sample evaluation").

Target (issue 13): a plan of US 50 x 47 (instances/us-states-apr2020) evaluated over 1,000
scenarios in under 60 s on 2 cores, and how it scales on a Dask LocalCluster with 2 workers.

The plan: `triage plan`'s optimal plan of the instance (its manifest, replayed with the
simulator's own admission rule in each scenario). The scenarios: 1,000 log-normal scenarios
(seed 1, sigma0 0.05, sigma_growth 0.02, rank correlation 0.5, peak shifts of sd 4 days).

  evaluate-1p    optimiser.scenarios.evaluate(workers=1): everything in this process, 1 core
  evaluate-2p    optimiser.scenarios.evaluate(workers=2): 2 local processes, end to end
                 (processes started, instance and plan sent, 1,000 replays, metrics)
  evaluate-dask  the same on a Dask LocalCluster of 2 worker processes (1 thread each), the
                 cluster started beforehand (its start-up is reported apart)
  floor          the replay alone in this process, per scenario: the plan prepared once
                 (PlanReplay) and run in each scenario's demand, x 1,000 / 2: the time 2
                 perfectly used cores would need. Interleaved with it, on the same scenarios:
                 simulate() (prepares the plan on every call) and the simulator as it was
                 before it was made fast (tests/simulate_reference.py, on instances built
                 beforehand); the three give the same replay (asserted, to the bit)
  instead        what a user would do without this feature: each scenario written as an
                 instance (multiperiod_from_frames, the files' validation) and replayed with
                 check_plan(); timed on 20 scenarios, per scenario

The two end-to-end paths run interleaved, `--repeat` rounds; medians are reported. Usage:

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/scenarios_bench.py [--repeat 3]
        [--scenarios 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def versions() -> dict[str, str]:
    import dask
    import distributed
    import numpy
    import pandas

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    load_at_start = os.getloadavg()

    from distributed import Client, LocalCluster

    from optimiser.multiperiod import check_plan, load_multiperiod, multiperiod_from_frames, plan
    from optimiser.multiperiod.plan_io import plan_rows
    from optimiser.multiperiod.simulate import PlanReplay, simulate
    from optimiser.scenarios import LognormalSpec, evaluate, lognormal_scenarios
    from optimiser.scenarios.evaluate import replay_rows

    inst = load_multiperiod(ROOT / "instances" / "us-states-apr2020")
    result = plan(inst, price_of_fairness=False)
    manifest = result.manifest
    spec = LognormalSpec(scenarios=args.scenarios, seed=1)
    t0 = time.perf_counter()
    scenarios = lognormal_scenarios(inst, spec)
    generate_s = time.perf_counter() - t0
    print(f"plan: {result.lives_saved:,.1f} lives; {len(manifest)} manifest rows", flush=True)
    print(f"generated {len(scenarios)} scenarios in {generate_s:.3f} s", flush=True)

    # floor: the replay alone, per scenario; beside it simulate() and the previous simulator
    sys.path.insert(0, str(ROOT / "tests"))
    from simulate_reference import reference_simulate

    rows = replay_rows(plan_rows(manifest, inst, name="manifest"), "manifest")
    sample = scenarios.ids[:100]
    cube = scenarios.array(inst.regions)[: len(sample)]
    instances = [scenarios.instance_for(inst, sid) for sid in sample]
    replay = PlanReplay(inst, rows)
    unit: dict[str, list[float]] = {"replay": [], "simulate": [], "before": []}
    unit_cpu: dict[str, list[float]] = {k: [] for k in unit}
    for i, one in enumerate(instances):
        made = {}
        for name in unit:
            t0, c0 = time.perf_counter(), time.process_time()
            if name == "replay":
                made[name] = replay.run(cube[i])
            elif name == "simulate":
                made[name] = simulate(one, rows)
            else:
                made[name] = reference_simulate(one, rows)
            unit[name].append(time.perf_counter() - t0)
            unit_cpu[name].append(time.process_time() - c0)
        a, b = made["replay"], made["before"]
        assert a.survivors == b.survivors and a.violations == b.violations
        assert all(
            getattr(x, f).tobytes() == getattr(b, f).tobytes()
            for x in (a, made["simulate"])
            for f in ("admitted", "lost", "occupancy", "on_hand", "need", "treated")
        ), "the replays disagree"
    per_scenario = statistics.mean(unit["replay"])
    cpu_per_scenario = statistics.mean(unit_cpu["replay"])
    floor_s = per_scenario * len(scenarios) / 2
    cpu_floor_s = cpu_per_scenario * len(scenarios) / 2
    unit_ms = {k: round(1000 * statistics.median(v), 2) for k, v in unit.items()}
    unit_cpu_ms = {k: round(1000 * statistics.mean(v), 2) for k, v in unit_cpu.items()}
    print(
        f"floor: replay {1000 * per_scenario:.1f} ms per scenario (CPU "
        f"{1000 * cpu_per_scenario:.1f} ms) -> {floor_s:.1f} s for all on 2 cores (CPU-bound: "
        f"{cpu_floor_s:.1f} s); per scenario, median ms {unit_ms}, mean CPU ms {unit_cpu_ms}",
        flush=True,
    )

    # instead: write each scenario as an instance and call check_plan
    deliveries = __import__("pandas").read_csv(ROOT / "instances/us-states-apr2020/deliveries.csv")
    leads = __import__("pandas").read_csv(ROOT / "instances/us-states-apr2020/lead_times.csv")
    t0 = time.perf_counter()
    for sid in scenarios.ids[:20]:
        long = scenarios.to_long()
        frame = long[long.scenario == sid].drop(columns="scenario")
        built = multiperiod_from_frames(inst.base, frame, deliveries=deliveries, lead_times=leads)
        check_plan(built, manifest)
    instead_per = (time.perf_counter() - t0) / 20
    print(f"instead: build + check_plan {instead_per:.2f} s per scenario", flush=True)

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    client.wait_for_workers(2)
    cluster_s = time.perf_counter() - t0
    print(f"Dask LocalCluster (2 workers) started in {cluster_s:.1f} s", flush=True)

    import psutil

    dask_pids = list(client.run(os.getpid).values())

    def dask_cpu() -> float:
        return sum(sum(psutil.Process(p).cpu_times()[:2]) for p in dask_pids)

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    runs: dict[str, list[float]] = {"evaluate-1p": [], "evaluate-2p": [], "evaluate-dask": []}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    figures: dict[str, Any] = {}
    try:
        for r in range(args.repeat):
            for name in runs:
                t0, own0 = time.perf_counter(), time.process_time()
                workers0 = children_cpu() if name != "evaluate-dask" else dask_cpu()
                if name == "evaluate-1p":
                    ev = evaluate(inst, manifest, scenarios, workers=1)
                    workers1 = children_cpu()
                elif name == "evaluate-2p":
                    ev = evaluate(inst, manifest, scenarios, workers=2)
                    workers1 = children_cpu()  # the pool's processes have exited: counted
                else:
                    ev = evaluate(inst, manifest, scenarios, scheduler=client)
                    workers1 = dask_cpu()
                seconds = time.perf_counter() - t0
                used = (workers1 - workers0) + (time.process_time() - own0)
                runs[name].append(seconds)
                cpu[name].append(used)
                figures[name] = {k: v.to_dict() for k, v in ev.metrics.items()}
                print(
                    f"round {r + 1} {name}: {seconds:.1f} s wall, {used:.1f} s CPU "
                    f"({ev.info['executor']}; load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    finally:
        client.close()
        cluster.close()
    assert figures["evaluate-1p"] == figures["evaluate-2p"] == figures["evaluate-dask"], (
        "the paths disagree"
    )
    medians = {k: statistics.median(v) for k, v in runs.items()}
    report = {
        "scenarios": len(scenarios),
        "generate_s": round(generate_s, 3),
        "simulate_ms_per_scenario": round(1000 * per_scenario, 2),
        "simulate_cpu_ms_per_scenario": round(1000 * cpu_per_scenario, 2),
        "unit_median_ms": unit_ms,
        "unit_mean_cpu_ms": unit_cpu_ms,
        "speed_up_over_before_cpu": round(unit_cpu_ms["before"] / unit_cpu_ms["replay"], 2),
        "floor_2_cores_s": round(floor_s, 2),
        "floor_2_free_cores_cpu_s": round(cpu_floor_s, 2),
        "instead_s_per_scenario": round(instead_per, 3),
        "instead_total_s_on_1_core": round(instead_per * len(scenarios), 1),
        "dask_cluster_start_s": round(cluster_s, 2),
        "runs_s": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "medians_s": {k: round(v, 2) for k, v in medians.items()},
        "cpu_s": {k: [round(x, 2) for x in v] for k, v in cpu.items()},
        "median_cpu_s": {k: round(statistics.median(v), 2) for k, v in cpu.items()},
        "ratio_to_floor": {k: round(v / floor_s, 2) for k, v in medians.items()},
        "metrics": figures["evaluate-2p"],
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "versions": versions(),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
