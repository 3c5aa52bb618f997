"""Adversarial sweep (track probe): tiny random instances, plan with each method, replay every
plan through check_plan, compare lives, bounds and prices. Not part of the suite.

usage: python scripts/probe_sweep.py SEED0 COUNT [SECONDS] [--rolling] [--pof]
Prints one JSON line per finding; a summary at the end.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pandas as pd

from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.generator import GeneratorSpec, generate
from optimiser.multiperiod.planner import plan
from optimiser.solver import SolveStatus

TOL = 1e-6
STATS: dict = {}
CROSS = 0.0101  # two plans each within 0.005 of the same optimum


def pick_constraint(rng: random.Random) -> str:
    kind = rng.choice(
        [
            "per_capita_floor",
            "excess_per_capita_floor",
            "coverage_floor",
            "capacity_per_capita_floor",
            "min_units",
            "max_coverage_gap",
            "threshold",
            "prioritarian",
            "max_share_of_supply",
        ]
    )
    if kind in ("per_capita_floor", "excess_per_capita_floor"):
        return f"{kind}:share={rng.choice([0.1, 0.3, 0.6, 0.9, 1.0])}"
    if kind == "coverage_floor":
        return f"{kind}:level={rng.choice([0.1, 0.3, 0.5, 0.8, 1.0])}"
    if kind == "capacity_per_capita_floor":
        return f"{kind}:beds_per_100k={rng.choice([1, 3, 8, 20])}"
    if kind == "min_units":
        return f"{kind}:units={rng.choice([1, 2, 3, 5])}"
    if kind == "max_coverage_gap":
        return f"{kind}:gap={rng.choice([0.0, 0.1, 0.3, 0.6])}"
    if kind == "threshold":
        idx = rng.choice(["rai", "rai_relative", "excess_demand", "excess_per_100k"])
        tau = rng.choice([0, 0.2, 0.5, 1, 5])
        return f"{kind}:tau={tau},index={idx}"
    if kind == "prioritarian":
        return f"{kind}:weights=excess_per_capita"
    return f"{kind}:share={rng.choice([0.2, 0.4, 0.7, 1.0])}"


def make_case(seed: int) -> dict:
    rng = random.Random(seed)
    spec = dict(
        regions=rng.randint(2, 6),
        days=rng.randint(4, 12),
        depots=rng.randint(1, 2),
        neighbours=rng.choice([None, None, 1, 2]),
        transfers=rng.random() < 0.75,
        seed=seed,
        demand_kind=rng.choice(["census", "new_patients"]),
        max_wait_days=rng.choice([0, 0, 1, 2]),
        patient_transfers=rng.random() < 0.3,
        supply_share=rng.choice([0.2, 0.6, 1.0, 1.5]),
        staff_caps=rng.random() < 0.6,
    )
    settings: dict = {}
    if rng.random() < 0.3:
        settings["donor_keep_share"] = rng.choice([0.3, 0.5, 1.0])
    if rng.random() < 0.3:
        settings["batch_size"] = rng.choice([2, 3])
    if rng.random() < 0.3:
        settings["max_shipments_per_day"] = rng.choice([1, 2])
    if rng.random() < 0.2:
        settings["transfer_neighbours"] = rng.choice([1, 2])
    if rng.random() < 0.2:
        settings["max_transfer_lead_days"] = rng.choice([1, 2])
    if spec["patient_transfers"] and rng.random() < 0.5:
        settings["patient_transfer_max_per_day"] = rng.choice([1.0, 2.0])
    if spec["patient_transfers"] and rng.random() < 0.5:
        settings["patient_transfer_max_lead_days"] = rng.choice([1, 2])
    k = rng.choice([0, 1, 1, 1, 2])
    cons = [pick_constraint(rng) for _ in range(k)]
    forced = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--kind=")]
    if forced:  # the kind every case has first (its parameters drawn as pick_constraint's)
        while not (cons and cons[0].startswith(forced[0] + ":")):
            cons = [pick_constraint(rng), *cons[1:2]]
    return {"seed": seed, "spec": spec, "settings": settings, "constraints": cons}


def finding(case: dict, what: str, **extra: object) -> dict:
    out = {"seed": case["seed"], "what": what, **extra}
    print(json.dumps(out, default=str), flush=True)
    return out


def check(case, inst, result, label, findings, prio):
    if result.lives_saved is None:
        return None
    c = check_plan(inst, result)
    if not c.ok:
        findings.append(
            finding(
                case,
                f"{label}: check-plan violations",
                status=str(result.status),
                violations=c.violations[:3],
                cons=case["constraints"],
            )
        )
    if abs(c.survivors - result.lives_saved) > TOL * max(1, abs(c.survivors)):
        findings.append(
            finding(
                case,
                f"{label}: lives differ",
                planner=result.lives_saved,
                replay=c.survivors,
                status=str(result.status),
            )
        )
    if (
        not prio
        and result.objective_bound is not None
        and (result.objective_bound < result.lives_saved - 1e-6)
    ):
        findings.append(
            finding(
                case,
                f"{label}: bound below its own plan",
                bound=result.objective_bound,
                lives=result.lives_saved,
            )
        )
    if result.lives_optimal is not None and result.lives_optimal < result.lives_saved - 0.0051:
        findings.append(
            finding(
                case, f"{label}: L* below plan", star=result.lives_optimal, lives=result.lives_saved
            )
        )
    if result.lives_optimal_bound is not None and result.lives_optimal_bound < c.survivors - 1e-6:
        findings.append(
            finding(
                case,
                f"{label}: L* bound below plan",
                bound=result.lives_optimal_bound,
                lives=c.survivors,
            )
        )
    pof = result.price_of_fairness
    if len(pof) and result.lives_optimal is not None:
        for _, row in pof.iterrows():
            alone = row["lives_saved_alone"]
            if (
                alone is not None
                and not pd.isna(alone)
                and not prio
                and result.lives_optimal < alone - 0.0051
            ):
                findings.append(
                    finding(
                        case,
                        f"{label}: price row alone above L*",
                        row=row.to_dict(),
                        star=result.lives_optimal,
                    )
                )
            lost = row["lives_lost_alone"]
            if lost is not None and not pd.isna(lost) and lost < -0.0051:
                findings.append(finding(case, f"{label}: negative price", row=row.to_dict()))
    return c


def run_case(case: dict, folder: Path, rolling: bool, pof: bool, methods) -> list[dict]:
    findings: list[dict] = []
    generate(GeneratorSpec(**case["spec"]), folder)
    inst = load_multiperiod(folder)
    try:
        inst = inst.with_settings(**case["settings"])
    except InputError as exc:
        return [finding(case, "settings refused", error=str(exc))]
    cons = case["constraints"]
    prio = any(c.startswith("prioritarian") for c in cons)
    results = {}
    checks = {}
    for m in methods:
        try:
            r = plan(inst, cons, method=m, price_of_fairness=pof)
        except InputError as exc:
            findings.append(finding(case, f"{m}: InputError", error=str(exc)[:300]))
            continue
        except Exception:
            findings.append(finding(case, f"{m}: crash", tb=traceback.format_exc()[-1500:]))
            continue
        results[m] = r
        STATS[f"{m}:{r.status}"] = STATS.get(f"{m}:{r.status}", 0) + 1
        try:
            checks[m] = check(case, inst, r, m, findings, prio)
        except Exception:
            findings.append(finding(case, f"{m}: check crash", tb=traceback.format_exc()[-1500:]))
    # cross checks
    for m, r in results.items():
        if r.status == SolveStatus.ERROR:
            findings.append(
                finding(
                    case,
                    f"{m}: status error",
                    expl=str(r.explanation)[:400],
                    others={k: str(v.status) for k, v in results.items()},
                )
            )
    inf = {m for m, r in results.items() if r.status == SolveStatus.INFEASIBLE}
    if inf and len(inf) < len(results):
        findings.append(
            finding(
                case,
                "infeasible in some methods only",
                others={k: str(v.status) for k, v in results.items()},
            )
        )
    plans = {m: r for m, r in results.items() if r.lives_saved is not None}
    opt = {m: r for m, r in plans.items() if r.status == SolveStatus.OPTIMAL}
    if not prio and len(opt) >= 2:
        vals = [r.lives_saved for r in opt.values()]
        if max(vals) - min(vals) > CROSS:
            findings.append(
                finding(
                    case,
                    "optimal methods disagree",
                    lives={m: r.lives_saved for m, r in opt.items()},
                    cons=cons,
                )
            )
    if not prio:
        for m, r in results.items():
            if r.objective_bound is None:
                continue
            for m2 in plans:
                c2 = checks.get(m2)
                if c2 is not None and c2.ok and r.objective_bound < c2.survivors - 1e-6:
                    findings.append(
                        finding(
                            case,
                            f"{m} bound below {m2} plan",
                            bound=r.objective_bound,
                            lives=c2.survivors,
                            status=str(r.status),
                        )
                    )
    for m, r in results.items():
        if r.status == SolveStatus.INFEASIBLE:
            for m2 in plans:
                c2 = checks.get(m2)
                if c2 is not None and c2.ok:
                    findings.append(
                        finding(case, f"{m} infeasible but {m2} plan passes", cons=cons)
                    )
    # the unconstrained plans vs the constraints: a passing one proves feasibility
    if cons and any(r.status == SolveStatus.INFEASIBLE for r in results.values()):
        try:
            free = plan(inst, [], method="exact", price_of_fairness=False)
            if free.lives_saved is not None:
                cf = check_plan(inst, free.plan, cons)
                if cf.ok:
                    findings.append(
                        finding(case, "infeasible but free plan meets constraints", cons=cons)
                    )
        except Exception:
            findings.append(finding(case, "free plan crash", tb=traceback.format_exc()[-1500:]))
    if rolling and "exact" in opt and not prio:
        r = opt["exact"]
        man = r.manifest
        for k in sorted({1, max(1, inst.days // 2)}):
            rows = man[(man["day"] < k) & man["kind"].isin(["ship", "transfer"])]
            try:
                rr = plan(
                    inst, cons, method="auto", executed=rows, today=k, price_of_fairness=False
                )
            except Exception:
                findings.append(
                    finding(case, f"rolling today={k} crash", tb=traceback.format_exc()[-1500:])
                )
                continue
            if rr.lives_saved is None:
                findings.append(
                    finding(
                        case,
                        f"rolling today={k}: no plan",
                        status=str(rr.status),
                        expl=str(rr.explanation)[:300],
                    )
                )
                continue
            check(case, inst, rr, f"rolling{k}", findings, prio)
            if (
                rr.status == SolveStatus.OPTIMAL
                and not inst.settings.patient_transfers
                and abs(rr.lives_saved - r.lives_saved) > CROSS
            ):
                findings.append(
                    finding(
                        case,
                        f"rolling today={k} lives differ from the plan it continues",
                        first=r.lives_saved,
                        replan=rr.lives_saved,
                    )
                )
    return findings


def main() -> None:
    seed0, count = int(sys.argv[1]), int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 and not sys.argv[3].startswith("--") else 240
    rolling = "--rolling" in sys.argv
    pof = "--pof" in sys.argv
    methods = ["exact", "rounding"]
    t0 = time.time()
    done = 0
    allf = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seed0, seed0 + count):
            if time.time() - t0 > seconds:
                break
            case = make_case(seed)
            t1 = time.time()
            try:
                f = run_case(case, Path(tmp) / f"c{seed}", rolling, pof, methods)
            except Exception:
                f = [finding(case, "case crash", tb=traceback.format_exc()[-1500:])]
            dt = time.time() - t1
            if dt > 20:
                print(json.dumps({"seed": seed, "slow": round(dt, 1)}), flush=True)
            for x in f:
                x["case"] = case
            allf += f
            done += 1
    print(json.dumps(STATS))
    print(json.dumps({"done": done, "findings": len(allf), "seconds": round(time.time() - t0)}))
    for x in allf:
        print("CASE", json.dumps(x["case"], default=str))


if __name__ == "__main__":
    main()
