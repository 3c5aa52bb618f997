"""Time-limit sweep (track probe): each case planned without a limit (exact, the reference)
and with small time limits (auto, rounding, exact); every plan replayed by check-plan; every
bound compared with the reference optimum; an 'optimal' under a limit within the tolerance.

usage: python scripts/probe_tl.py SEED0 COUNT [SECONDS]
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

from probe_sweep import make_case

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.generator import GeneratorSpec, generate
from optimiser.multiperiod.planner import plan
from optimiser.solver import SolveStatus

STATS: dict = {}


def out(case, what, **kw):
    d = {"seed": case["seed"], "what": what, **kw}
    print(json.dumps(d, default=str), flush=True)
    return d


def run(case, folder):
    f = []
    rng = random.Random(case["seed"] * 7 + 1)
    spec = dict(case["spec"])
    spec["regions"] = rng.randint(3, 12)
    spec["days"] = rng.randint(8, 24)
    case["spec"] = spec
    generate(GeneratorSpec(**spec), folder)
    inst = load_multiperiod(folder).with_settings(**case["settings"])
    cons = case["constraints"]
    prio = any(c.startswith("prioritarian") for c in cons)
    ref = plan(inst, cons, method="exact", price_of_fairness=False)
    STATS[f"ref:{ref.status}"] = STATS.get(f"ref:{ref.status}", 0) + 1
    for m in ("auto", "rounding", "exact"):
        for tl in (0.02, 0.1, 0.4):
            try:
                t0 = time.perf_counter()
                r = plan(inst, cons, method=m, time_limit=tl, price_of_fairness=True)
                took = time.perf_counter() - t0
            except Exception:
                f.append(out(case, f"{m}@{tl}: crash", tb=traceback.format_exc()[-1500:]))
                continue
            STATS[f"{m}:{r.status}"] = STATS.get(f"{m}:{r.status}", 0) + 1
            if took > tl + 1.0:
                f.append(out(case, f"{m}@{tl}: overran", took=round(took, 2)))
            if r.status == SolveStatus.ERROR:
                f.append(
                    out(case, f"{m}@{tl}: status error", expl=r.explanation, ref=str(ref.status))
                )
            if r.status == SolveStatus.INFEASIBLE and ref.lives_saved is not None:
                f.append(out(case, f"{m}@{tl}: infeasible but the reference has a plan"))
            if r.lives_saved is None:
                if ref.lives_saved is not None and r.status not in (
                    SolveStatus.TIME_LIMIT,
                    SolveStatus.ITERATION_LIMIT,
                ):
                    f.append(out(case, f"{m}@{tl}: no plan, status {r.status}"))
                continue
            c = check_plan(inst, r)
            if not c.ok:
                f.append(
                    out(case, f"{m}@{tl}: check fails", status=str(r.status), v=c.violations[:3])
                )
            if abs(c.survivors - r.lives_saved) > 1e-6 * max(1, abs(c.survivors)):
                f.append(
                    out(case, f"{m}@{tl}: lives differ", planner=r.lives_saved, replay=c.survivors)
                )
            if prio or ref.status != SolveStatus.OPTIMAL:
                continue
            if r.status == SolveStatus.OPTIMAL and abs(r.lives_saved - ref.lives_saved) > 0.0101:
                f.append(
                    out(
                        case,
                        f"{m}@{tl}: optimal but differs",
                        got=r.lives_saved,
                        ref=ref.lives_saved,
                    )
                )
            if r.lives_saved > ref.objective_bound + 1e-6:
                f.append(
                    out(
                        case,
                        f"{m}@{tl}: above the reference bound",
                        got=r.lives_saved,
                        ref=ref.objective_bound,
                    )
                )
            if r.objective_bound is not None and r.objective_bound < ref.lives_saved - 1e-6:
                f.append(
                    out(
                        case,
                        f"{m}@{tl}: invalid bound",
                        bound=r.objective_bound,
                        ref=ref.lives_saved,
                        status=str(r.status),
                    )
                )
            if r.lives_optimal_bound is not None and r.lives_optimal_bound < ref.lives_saved - 1e-6:
                f.append(
                    out(
                        case,
                        f"{m}@{tl}: invalid L* bound",
                        bound=r.lives_optimal_bound,
                        ref=ref.lives_saved,
                    )
                )
            if (
                r.solver is not None
                and r.solver.gap is not None
                and r.status != SolveStatus.OPTIMAL
            ):
                claimed = r.objective_bound
                if claimed is not None and claimed < r.lives_saved - 1e-6:
                    f.append(
                        out(
                            case,
                            f"{m}@{tl}: bound below own plan",
                            bound=claimed,
                            lives=r.lives_saved,
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
