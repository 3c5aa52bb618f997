"""`triage plan --scenarios --compare --time-limit T` on US 50 states x 47 days with 4 lognormal
scenarios (seed 1, as tests/test_stochastic_budget.py): how long the command takes from
outside, which candidates it scored (in priority order: stochastic, mean, hindsight, then
buffer and worst_case), and why the others were left out. Also how long one recourse re-plan
takes without a budget (the pace that decides what fits).

Rounds are interleaved (every budget once per round); the table lists each run.

    .venv/bin/python benchmarks/compare_budget.py [--budgets 10 20 30 60] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
US = ROOT / "instances" / "us-states-apr2020"


def triage(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optimiser", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    return done, time.perf_counter() - started


def replan_seconds(scenarios: Path) -> list[float]:
    """One unbudgeted recourse re-plan per scenario after the stochastic plan's commit."""
    from optimiser.multiperiod import load_multiperiod, plan
    from optimiser.scenarios.io import load_scenarios
    from optimiser.stochastic import plan_under_uncertainty

    inst = load_multiperiod(US)
    sc = load_scenarios(scenarios, inst)
    result = plan_under_uncertainty(inst, sc, price_of_fairness=False, time_limit=5.0)
    out = []
    for _, one in sc.instances(inst):
        t = time.perf_counter()
        plan(one, executed=result.executed_rows(), today=result.commit_end,
             price_of_fairness=False)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", type=float, nargs="+", default=[10.0, 20.0, 30.0, 60.0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scenarios = Path(tmp) / "sc"
        done, _ = triage("scenarios", "generate", str(US), "--method", "lognormal",
                         "--scenarios", "4", "--seed", "1", "--out", str(scenarios))
        assert done.returncode == 0, done.stderr
        paces = replan_seconds(scenarios)
        print(f"recourse re-plan, no budget: {', '.join(f'{s:.2f}' for s in paces)} s")
        print("budget  wall   exit  plan status  scored                      left out")
        for _ in range(args.rounds):
            for budget in args.budgets:
                done, took = triage("plan", str(US), "--scenarios", str(scenarios), "--no-price",
                                    "--compare", "--time-limit", f"{budget:g}", "--json")
                if done.returncode != 0:
                    print(f"{budget:6g}  {took:5.2f}  {done.returncode}  {done.stderr[-300:]}")
                    continue
                answer = json.loads(done.stdout)
                c = answer["comparison"]
                scored = [r["candidate"] for r in c["candidates"]]
                left = {k: v.split(":")[0] if v.startswith("not started") else v
                        for k, v in c["not_scored"].items()}
                print(f"{budget:6g}  {took:5.2f}  {done.returncode}     {answer['status']:11s} "
                      f"{','.join(scored):27s} {json.dumps(left)}")
                print(f"        VSS {c['vss']}  EVPI {c['evpi']}  cut short {c['cut_short']}")


if __name__ == "__main__":
    main()
