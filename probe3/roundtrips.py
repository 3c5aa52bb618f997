"""from_dict(to_dict(x)) round trips of the result types, through JSON text: the dict is a
fixed point (to_dict(from_dict(json(to_dict(x)))) == to_dict(x)), over several small cases
(regional: optimal, infeasible, baseline, with a price of fairness, time-limited; plans and
check results; stochastic plans; evaluations)."""
from __future__ import annotations

import json
import sys
from typing import Any

import pandas as pd

import optimiser
from optimiser.results import AllocationResult

sys.path[:0] = ["tests/service", "tests"]
bad = 0
n = 0


def same(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'before' if k in a else 'after'}")
            else:
                out += same(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]")]
    if a != b and not (isinstance(a, float) and isinstance(b, float) and a != a and b != b):
        return [f"{path}: {a!r} != {b!r}"]
    return []


def check(name: str, obj: Any, cls: Any, **kw: Any) -> None:
    global bad, n
    n += 1
    before = obj.to_dict()
    text = json.dumps(before, allow_nan=False)
    again = cls.from_dict(json.loads(text), **kw)
    diffs = same(before, again.to_dict())
    eq = None
    try:
        eq = bool(again == obj)
    except Exception as exc:  # DataFrame fields: == is ambiguous
        eq = f"n/a ({type(exc).__name__})"
    if diffs:
        bad += 1
        print(f"{name}: {len(diffs)} differences, e.g. {diffs[:4]}")
    else:
        print(f"{name}: dict round trip ok; from_dict(...) == x: {eq}")


pugh = optimiser.load_instance("instances/pugh2021")
states = optimiser.load_instance("instances/us-states-2020")
cases = {
    "optimal": optimiser.solve(pugh),
    "floors": optimiser.solve(pugh, constraints=["per_capita_floor:share=0.5",
                                                 "coverage_floor:level=0.3"]),
    "infeasible": optimiser.solve(pugh, constraints=["coverage_floor:level=0.9"]),
    "rule": optimiser.solve(pugh, policy="per_capita"),
    "lottery": optimiser.solve(pugh, policy="lottery", seed=3),
    "threshold": optimiser.solve(states, constraints=["threshold:tau=0.5"]),
    "states-timelimit": optimiser.solve(states, constraints=["threshold:tau=0.5", "min_units:units=5"],
                                        time_limit=0.05),
}
for name, res in cases.items():
    check(f"AllocationResult[{name}] ({res.status})", res, AllocationResult)

from test_service_api import TINY_PLAN  # noqa: E402

from optimiser.multiperiod import check_plan, multiperiod_from_frames, plan  # noqa: E402
from optimiser.multiperiod.results import CheckResult, PlanResult  # noqa: E402

base = optimiser.instance_from_dict({k: v for k, v in TINY_PLAN.items()
                                     if k not in ("demand", "deliveries")})
inst = multiperiod_from_frames(base, pd.DataFrame(TINY_PLAN["demand"]),
                               pd.DataFrame(TINY_PLAN["deliveries"]))
p = plan(inst)
check(f"PlanResult ({p.status})", p, PlanResult)
p2 = plan(inst, constraints=["min_units:units=2"])
check(f"PlanResult min_units ({p2.status})", p2, PlanResult)
try:
    c = check_plan(inst, p.plan)
    check("CheckResult", c, CheckResult)
except Exception as exc:
    print("check_plan call:", type(exc).__name__, exc)

from test_service_stochastic import REQUEST as STOCH  # noqa: E402

from optimiser.scenarios import scenarios_from_dict  # noqa: E402
from optimiser.stochastic import plan_under_uncertainty  # noqa: E402
from optimiser.stochastic.results import StochasticResult  # noqa: E402

sc = scenarios_from_dict(STOCH["scenarios"], inst)
sr = plan_under_uncertainty(inst, sc, commit_days=2, risk="cvar:alpha=0.3,lambda=0.5")
check(f"StochasticResult ({sr.status})", sr, StochasticResult)
sr2 = plan_under_uncertainty(inst, sc, commit_days=1)
check(f"StochasticResult commit 1 ({sr2.status})", sr2, StochasticResult)
from optimiser.scenarios.evaluate import Evaluation  # noqa: E402
from optimiser.scenarios.evaluate import evaluate as evaluate_plan  # noqa: E402

ev = evaluate_plan(inst, p, sc, workers=1, progress=False)
check("Evaluation", ev, Evaluation)
print("cases", n, "bad", bad)
