"""Adversarial sweep of the two-stage planner (track probe). Not part of the suite.

usage: python scripts/probe_stoch.py SEED0 COUNT [SECONDS]
Per case: plan_under_uncertainty with exact and rounding on a few lognormal scenarios; the
committed moves re-planned per scenario with the deterministic planner (plan(executed=commit,
today=commit_end) on the scenario's instance) must save that scenario's lives (the recourse is
optimal given the commit) and pass check-plan; exact vs rounding expected lives; bounds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from probe_sweep import make_case

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.generator import GeneratorSpec, generate
from optimiser.multiperiod.planner import plan
from optimiser.scenarios.generators import LognormalSpec, lognormal_scenarios
from optimiser.solver import SolveStatus
from optimiser.stochastic import plan_under_uncertainty

STATS: dict = {}


def out(case, what, **kw):
    d = {"seed": case["seed"], "what": what, **kw}
    print(json.dumps(d, default=str), flush=True)
    return d


def run(case, folder):
    f = []
    spec = dict(case["spec"])
    spec["regions"] = min(spec["regions"], 4)
    spec["days"] = min(spec["days"], 8)
    if "--no-patient-moves" in sys.argv:
        spec["patient_transfers"] = False
        case["settings"] = {
            k: v for k, v in case["settings"].items() if not k.startswith("patient_transfer")
        }
    case["spec"] = spec
    generate(GeneratorSpec(**spec), folder)
    inst = load_multiperiod(folder).with_settings(**case["settings"])
    cons = [c for c in case["constraints"] if not c.startswith("prioritarian")]
    case["constraints"] = cons
    S = 1 + case["seed"] % 3
    scen = lognormal_scenarios(inst, LognormalSpec(scenarios=S, seed=case["seed"]))
    commit = 1 + case["seed"] % 3
    res = {}
    for m in ("exact", "rounding"):
        try:
            r = plan_under_uncertainty(
                inst, scen, cons, commit_days=commit, method=m, price_of_fairness=False
            )
        except Exception:
            f.append(out(case, f"{m}: crash", tb=traceback.format_exc()[-1500:]))
            continue
        STATS[f"{m}:{r.status}"] = STATS.get(f"{m}:{r.status}", 0) + 1
        res[m] = r
        if r.expected_lives is None:
            continue
        if r.lives_bound is not None and r.lives_bound < r.expected_lives - 1e-6:
            f.append(out(case, f"{m}: bound below lives", b=r.lives_bound, l=r.expected_lives))
        if r.lives_optimal is not None and r.lives_optimal < r.expected_lives - 0.0051:
            f.append(out(case, f"{m}: L* below lives", s=r.lives_optimal, l=r.expected_lives))
        # per scenario re-plan of the commit
        rows = r.executed_rows()
        for sid, sinst in scen.instances(inst):
            try:
                rr = plan(
                    sinst,
                    cons,
                    executed=rows,
                    today=r.commit_end,
                    method="exact",
                    price_of_fairness=False,
                )
            except Exception:
                f.append(out(case, f"{m}: replan {sid} crash", tb=traceback.format_exc()[-1500:]))
                continue
            want = float(r.per_scenario.loc[sid, "lives"])
            if rr.lives_saved is None:
                f.append(
                    out(
                        case,
                        f"{m}: replan {sid} no plan",
                        status=str(rr.status),
                        want=want,
                        expl=str(rr.explanation)[:400],
                    )
                )
                continue
            c = check_plan(sinst, rr)
            if not c.ok:
                f.append(out(case, f"{m}: replan {sid} check fails", v=c.violations[:3]))
            if (
                r.status == SolveStatus.OPTIMAL
                and rr.status == SolveStatus.OPTIMAL
                and abs(rr.lives_saved - want) > 0.0101
                and S == 1
            ):
                f.append(
                    out(
                        case,
                        f"{m}: replan {sid} lives differ",
                        replan=rr.lives_saved,
                        scenario=want,
                    )
                )
            if rr.status == SolveStatus.OPTIMAL and rr.lives_saved < want - 0.0101:
                f.append(
                    out(
                        case,
                        f"{m}: scenario {sid} claims more than a re-plan of its commit",
                        replan=rr.lives_saved,
                        scenario=want,
                        status=str(r.status),
                    )
                )
    if len(res) == 2:
        a, b = res["exact"], res["rounding"]
        if (
            a.status == b.status == SolveStatus.OPTIMAL
            and abs(a.expected_lives - b.expected_lives) > 0.0101
        ):
            f.append(
                out(case, "methods disagree", exact=a.expected_lives, rounding=b.expected_lives)
            )
        for x, y in ((a, b), (b, a)):
            if (
                x.lives_bound is not None
                and y.expected_lives is not None
                and x.lives_bound < y.expected_lives - 1e-6
            ):
                f.append(
                    out(
                        case,
                        "bound below other method",
                        bound=x.lives_bound,
                        lives=y.expected_lives,
                    )
                )
        if (a.status == SolveStatus.INFEASIBLE) != (b.status == SolveStatus.INFEASIBLE):
            f.append(
                out(
                    case,
                    "infeasible in one method only",
                    exact=str(a.status),
                    rounding=str(b.status),
                )
            )
    return f


def main():
    seed0, count = int(sys.argv[1]), int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3][0] != "-" else 240
    t0 = time.time()
    done, allf = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seed0, seed0 + count):
            if time.time() - t0 > seconds:
                break
            case = make_case(seed)
            t1 = time.time()
            try:
                fs = run(case, Path(tmp) / f"c{seed}")
            except Exception:
                fs = [out(case, "case crash", tb=traceback.format_exc()[-1500:])]
            if time.time() - t1 > 20:
                print(json.dumps({"seed": seed, "slow": round(time.time() - t1, 1)}), flush=True)
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
