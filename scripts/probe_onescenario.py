"""One scenario equal to the instance's demand (track probe): the two-stage plan is then the
deterministic plan, from day 0 and as a rolling re-plan (executed moves from the deterministic
plan's first days), with exact and rounding. Not part of the suite.

usage: python scripts/probe_onescenario.py SEED0 COUNT [SECONDS]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from probe_sweep import make_case

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.generator import GeneratorSpec, generate
from optimiser.multiperiod.planner import plan
from optimiser.scenarios.model import ScenarioSet
from optimiser.solver import SolveStatus
from optimiser.stochastic import plan_under_uncertainty

STATS: dict = {}


def out(case, what, **kw):
    d = {"seed": case["seed"], "what": what, **kw}
    print(json.dumps(d, default=str), flush=True)
    return d


def one_scenario(inst) -> ScenarioSet:
    demand = inst.demand.copy()
    demand.index = pd.MultiIndex.from_product([["s1"], demand.index], names=["scenario", "region"])
    demand.columns = pd.RangeIndex(demand.shape[1], name="day")
    return ScenarioSet(
        demand_kind=inst.demand_kind,
        demand=demand.astype(float),
        probability=pd.Series([1.0], index=pd.Index(["s1"], name="scenario")),
    )


def run(case, folder):
    f = []
    spec = dict(case["spec"])
    spec["regions"] = min(spec["regions"], 4)
    spec["days"] = min(spec["days"], 8)
    spec["patient_transfers"] = False
    case["spec"] = spec
    settings = {k: v for k, v in case["settings"].items() if not k.startswith("patient_")}
    case["settings"] = settings
    cons = [c for c in case["constraints"] if not c.startswith("prioritarian")]
    case["constraints"] = cons
    generate(GeneratorSpec(**spec), folder)
    inst = load_multiperiod(folder).with_settings(**settings)
    scen = one_scenario(inst)
    det = plan(inst, cons, method="exact", price_of_fairness=False)
    if det.status != SolveStatus.OPTIMAL:
        return f
    k = 1 + case["seed"] % 2
    rows = det.manifest[(det.manifest["day"] < k) & det.manifest["kind"].isin(["ship", "transfer"])]
    again = plan(inst, cons, method="exact", executed=rows, today=k, price_of_fairness=False)
    for m in ("exact", "rounding"):
        for label, kw, want in (
            ("fresh", {}, det),
            ("rolling", {"executed": rows, "today": k}, again),
        ):
            try:
                r = plan_under_uncertainty(
                    inst, scen, cons, commit_days=1, method=m, price_of_fairness=False, **kw
                )
            except Exception:
                f.append(out(case, f"{m} {label}: crash", tb=traceback.format_exc()[-1500:]))
                continue
            STATS[f"{m}:{label}:{r.status}"] = STATS.get(f"{m}:{label}:{r.status}", 0) + 1
            if want.status != SolveStatus.OPTIMAL:
                if r.status == SolveStatus.OPTIMAL and want.status == SolveStatus.INFEASIBLE:
                    f.append(
                        out(case, f"{m} {label}: stochastic optimal, deterministic infeasible")
                    )
                continue
            if r.status == SolveStatus.INFEASIBLE:
                f.append(out(case, f"{m} {label}: stochastic infeasible", det=want.lives_saved))
            elif (
                r.status == SolveStatus.OPTIMAL
                and abs(r.expected_lives - want.lives_saved) > 0.0101
            ):
                f.append(
                    out(
                        case,
                        f"{m} {label}: lives differ",
                        stoch=r.expected_lives,
                        det=want.lives_saved,
                    )
                )
            if r.lives_bound is not None and r.lives_bound < want.lives_saved - 1e-6:
                f.append(
                    out(
                        case,
                        f"{m} {label}: bound below the deterministic optimum",
                        bound=r.lives_bound,
                        det=want.lives_saved,
                    )
                )
    return f


def main():
    seed0, count = int(sys.argv[1]), int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 240
    t0 = time.time()
    done, allf = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seed0, seed0 + count):
            if time.time() - t0 > seconds:
                break
            case = make_case(seed)
            try:
                fs = run(case, Path(tmp) / f"c{seed}")
            except Exception:
                fs = [out(case, "case crash", tb=traceback.format_exc()[-1500:])]
            for x in fs:
                x["case"] = case
            allf += fs
            done += 1
    print(json.dumps(STATS))
    print(json.dumps({"done": done, "findings": len(allf), "seconds": round(time.time() - t0)}))
    for x in allf:
        print("CASE", json.dumps(x["case"], default=str))


if __name__ == "__main__":
    main()
