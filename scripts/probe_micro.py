"""Micro instances with the features the generator never writes (track probe): capacity.csv
(own units and staff changing mid-horizon, empty staff cells), supply in instance.toml, lead
times of 0, zero staff caps, fractional new_patients, one region, two days. Exact vs rounding,
check-plan on each plan, a rolling re-plan from the exact plan's first day.

usage: python scripts/probe_micro.py SEED0 COUNT [SECONDS]
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from probe_sweep import pick_constraint
from test_multiperiod_support import write_instance

from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.planner import plan
from optimiser.solver import SolveStatus

STATS: dict = {}


def out(case, what, **kw):
    d = {"seed": case["seed"], "what": what, **kw}
    print(json.dumps(d, default=str), flush=True)
    return d


def make(seed: int, folder: Path) -> dict:
    rng = random.Random(seed)
    n = rng.randint(1, 3)
    T = rng.randint(2, 6)
    kind = rng.choice(["census", "new_patients"])
    names = "ABC"[:n]
    regions = []
    for r in names:
        row = {
            "region": r,
            "capacity": rng.randint(0, 3),
            "peak_demand": rng.randint(0, 6),
            "los_days": rng.choice([1, 2, 3, 4.6]),
            "survival_with": rng.choice([0.5, 0.9, 1.0]),
            "survival_without": rng.choice([0.0, 0.1]),
            "population": rng.choice([50000, 100000, 300000]),
        }
        if rng.random() < 0.5:
            row["staff_cap"] = rng.randint(0, 4)
        regions.append(row)
    if any("staff_cap" in r for r in regions):
        for r in regions:
            r.setdefault("staff_cap", None)
    demand = {
        r: [
            (
                rng.choice([0, 0, 1, 2, 3, 5])
                if kind == "census"
                else rng.choice([0, 0, 0.5, 1, 2, 3])
            )
            for _ in range(T)
        ]
        for r in names
    }
    deliveries = []
    depots = ["D"] if rng.random() < 0.7 else ["D", "E"]
    for _ in range(rng.randint(0, 3)):
        deliveries.append((rng.randint(0, T - 1), rng.randint(0, 4), rng.choice(depots)))
    leads = []
    for k in depots:
        for r in names:
            if rng.random() < 0.7:
                leads.append((k, r, rng.randint(0, 2)))
    for a in names:
        for b in names:
            if a != b and rng.random() < 0.6:
                leads.append((a, b, rng.randint(0, 2)))
    capacity = []
    for r in names:
        for _ in range(rng.randint(0, 2)):
            capacity.append(
                (
                    r,
                    rng.randint(1, T - 1),
                    rng.choice([None, 0, 1, 2, 4]),
                    rng.choice([None, 0, 1, 3]),
                )
            )
    capacity = [c for c in capacity if not (c[2] is None and c[3] is None)]
    seen = set()
    capacity = [c for c in capacity if not ((c[0], c[1]) in seen or seen.add((c[0], c[1])))]
    mp = {
        "transfers": rng.random() < 0.7,
        "max_wait_days": rng.choice([0, 0, 1, 2]),
        "depots": depots,
    }
    if rng.random() < 0.3:
        mp["patient_transfers"] = True
        mp["patient_transfer_max_lead_days"] = rng.choice([0, 1, 2])
    if rng.random() < 0.2:
        mp["batch_size"] = 2
    if rng.random() < 0.2:
        mp["donor_keep_share"] = 0.5
    if rng.random() < 0.2:
        mp["max_shipments_per_day"] = 1
    supply = rng.choice([0, 0, 0, 2, 5])
    write_instance(
        folder,
        regions,
        demand,
        kind=kind,
        deliveries=deliveries,
        leads=leads,
        capacity=capacity,
        multiperiod=mp,
        supply=supply,
    )
    k = rng.choice([0, 1, 1, 2])
    cons = [pick_constraint(rng) for _ in range(k)]
    return {"seed": seed, "constraints": cons}


def run(seed, folder):
    case = make(seed, folder)
    f = []
    try:
        inst = load_multiperiod(folder)
    except InputError as exc:
        STATS["refused"] = STATS.get("refused", 0) + 1
        case["refused"] = str(exc)[:200]
        return case, f
    cons = case["constraints"]
    prio = any(c.startswith("prioritarian") for c in cons)
    res = {}
    for m in ("exact", "rounding"):
        try:
            r = plan(inst, cons, method=m, price_of_fairness=True)
        except InputError as exc:
            f.append(out(case, f"{m}: InputError", e=str(exc)[:300]))
            continue
        except Exception:
            f.append(out(case, f"{m}: crash", tb=traceback.format_exc()[-1500:]))
            continue
        STATS[f"{m}:{r.status}"] = STATS.get(f"{m}:{r.status}", 0) + 1
        res[m] = r
        if r.status == SolveStatus.ERROR:
            f.append(out(case, f"{m}: status error"))
        if r.lives_saved is None:
            continue
        try:
            c = check_plan(inst, r)
        except Exception:
            f.append(out(case, f"{m}: check crash", tb=traceback.format_exc()[-1500:]))
            continue
        if not c.ok:
            f.append(out(case, f"{m}: check fails", status=str(r.status), v=c.violations[:3]))
        if abs(c.survivors - r.lives_saved) > 1e-6 * max(1, abs(c.survivors)):
            f.append(out(case, f"{m}: lives differ", planner=r.lives_saved, replay=c.survivors))
        if not prio and r.objective_bound is not None and r.objective_bound < r.lives_saved - 1e-6:
            f.append(out(case, f"{m}: bound below plan"))
        if r.lives_optimal is not None and not prio and r.lives_optimal < r.lives_saved - 0.0051:
            f.append(out(case, f"{m}: L* below plan", s=r.lives_optimal, l=r.lives_saved))
    if len(res) == 2 and not prio:
        a, b = res["exact"], res["rounding"]
        if (
            a.status == b.status == SolveStatus.OPTIMAL
            and abs(a.lives_saved - b.lives_saved) > 0.0101
        ):
            f.append(out(case, "methods disagree", exact=a.lives_saved, rounding=b.lives_saved))
        if (a.status == SolveStatus.INFEASIBLE) != (b.status == SolveStatus.INFEASIBLE):
            f.append(
                out(case, "infeasible in one only", exact=str(a.status), rounding=str(b.status))
            )
        for x, y in ((a, b), (b, a)):
            if (
                x.objective_bound is not None
                and y.lives_saved is not None
                and x.objective_bound < y.lives_saved - 1e-6
            ):
                f.append(
                    out(
                        case, "bound below other plan", bound=x.objective_bound, lives=y.lives_saved
                    )
                )
    ref = res.get("exact")
    if "--tl" in sys.argv:
        for m in ("auto", "exact", "rounding"):
            try:
                r = plan(inst, cons, method=m, time_limit=0.05, price_of_fairness=True)
            except Exception:
                f.append(out(case, f"{m}@tl: crash", tb=traceback.format_exc()[-1500:]))
                continue
            STATS[f"{m}@tl:{r.status}"] = STATS.get(f"{m}@tl:{r.status}", 0) + 1
            if r.status == SolveStatus.ERROR:
                f.append(out(case, f"{m}@tl: status error"))
            if r.lives_saved is None:
                continue
            c = check_plan(inst, r)
            if not c.ok:
                f.append(
                    out(case, f"{m}@tl: check fails", status=str(r.status), v=c.violations[:3])
                )
            if abs(c.survivors - r.lives_saved) > 1e-6 * max(1, abs(c.survivors)):
                f.append(
                    out(case, f"{m}@tl: lives differ", planner=r.lives_saved, replay=c.survivors)
                )
            if (
                ref is not None
                and not prio
                and ref.status == SolveStatus.OPTIMAL
                and r.objective_bound is not None
                and r.objective_bound < ref.lives_saved - 1e-6
            ):
                f.append(
                    out(
                        case, f"{m}@tl: invalid bound", bound=r.objective_bound, ref=ref.lives_saved
                    )
                )
    a = ref
    if a is not None and a.status == SolveStatus.OPTIMAL and not prio and inst.days > 2:
        man = a.manifest
        rows = man[(man["day"] < 1) & man["kind"].isin(["ship", "transfer"])]
        try:
            rr = plan(inst, cons, method="exact", executed=rows, today=1, price_of_fairness=False)
        except Exception:
            f.append(out(case, "rolling crash", tb=traceback.format_exc()[-1500:]))
            return case, f
        if rr.lives_saved is None:
            f.append(
                out(case, "rolling: no plan", status=str(rr.status), expl=str(rr.explanation)[:300])
            )
        else:
            c = check_plan(inst, rr)
            if not c.ok:
                f.append(out(case, "rolling: check fails", v=c.violations[:3]))
            if (
                rr.status == SolveStatus.OPTIMAL
                and not inst.settings.patient_transfers
                and abs(rr.lives_saved - a.lives_saved) > 0.0101
            ):
                f.append(
                    out(case, "rolling: lives differ", first=a.lives_saved, again=rr.lives_saved)
                )
    return case, f


def main():
    seed0, count = int(sys.argv[1]), int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 240
    t0 = time.time()
    done, allf = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seed0, seed0 + count):
            if time.time() - t0 > seconds:
                break
            try:
                _, fs = run(seed, Path(tmp) / f"m{seed}")
            except Exception:
                _, fs = (
                    {"seed": seed},
                    [out({"seed": seed}, "case crash", tb=traceback.format_exc()[-1500:])],
                )
            allf += fs
            done += 1
    print(json.dumps(STATS))
    print(json.dumps({"done": done, "findings": len(allf), "seconds": round(time.time() - t0)}))


if __name__ == "__main__":
    main()
