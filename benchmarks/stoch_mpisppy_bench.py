"""Progressive hedging (mpi-sppy) against the stochastic planner's own methods (BENCHMARKS.md,
"Stochastic planner: decomposition"). Issue 13 asks: "If a decomposition engine such as
mpi-sppy serves better, measure it and say why."

mpi-sppy is not a dependency of the project: install it beside it to run this
(`.venv/bin/pip install mpi-sppy==0.14.0`; without mpi4py it runs serially on its mock MPI).

Two measurements:

* `--small`: a synthetic instance (`triage generate`, 4 regions x 10 days, transfers, seed 5)
  with S log-normal scenarios, commit 4 days. The extensive form solved whole (method exact,
  the reference optimum), the decomposition (method rounding), and mpi-sppy's PH on the same
  model: each scenario is the planner's model stated in Pyomo (tests/pyomo_multiperiod.py,
  the tests' independent oracle of models/multiperiod.py), objective min -lives, the commit's
  shipments and transfers as non-anticipative, HiGHS (appsi_highs) for the subproblems,
  proximal terms linearised (HiGHS has no MIQP). After PH: its x-bar rounded is a commit,
  scored by the planner's recourse in every scenario (a plan: a lower bound), and the
  Lagrangian bound of PH's last weights (each scenario with W, no proximal term), an upper
  bound on expected lives.
* `--us-subproblem`: what one PH subproblem of US 50 x 47 (transfers on) costs: its Pyomo
  model built, its LP relaxation and the MIP solved by HiGHS through Pyomo.

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/stoch_mpisppy_bench.py --small
        [--scenarios 3] [--iterations 50] [--rho 0.5]
    flock /work/wt/.bench.lock .venv/bin/python benchmarks/stoch_mpisppy_bench.py --us-subproblem
        [--mip-limit 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

US = ROOT / "instances" / "us-states-apr2020"


def scenario_model(data: Any, probability: float, commit_end: int) -> Any:
    """One scenario in Pyomo (the oracle's model), min -lives, its commit non-anticipative."""
    import pyomo.environ as pyo
    from mpisppy.utils import sputils
    from pyomo_multiperiod import build_multiperiod

    m = build_multiperiod(data)
    m.objective.deactivate()
    m.first_stage_cost = pyo.Expression(expr=0.0)
    m.minus_lives = pyo.Objective(expr=-m.weighted_lives, sense=pyo.minimize)
    first = [m.ship[i] for i in m.SHIP if i[2] < commit_end]
    first += [m.transfer[i] for i in m.TR if i[1] < commit_end]
    sputils.attach_root_node(m, m.first_stage_cost, first)
    m._mpisppy_probability = probability
    return m


def small(scenarios: int, iterations: int, rho: float) -> dict[str, Any]:
    from mpisppy.opt.ph import PH

    from optimiser.deadline import Deadline
    from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod
    from optimiser.scenarios import LognormalSpec, lognormal_scenarios
    from optimiser.stochastic import plan_under_uncertainty
    from optimiser.stochastic.engine import StochasticEngine

    folder = generate(
        GeneratorSpec(regions=4, days=10, depots=1, seed=5), Path(tempfile.mkdtemp()) / "g"
    )
    inst = load_multiperiod(folder).with_settings(transfers=True)
    sets = lognormal_scenarios(inst, LognormalSpec(scenarios=scenarios, seed=7))
    commit = 4
    out: dict[str, Any] = {"instance": "generate 4x10 seed 5, transfers", "scenarios": scenarios}
    for method in ("exact", "rounding"):
        t0 = time.perf_counter()
        r = plan_under_uncertainty(
            inst,
            sets,
            commit_days=commit,
            method=method,
            price_of_fairness=False,
            tie_break=False,
        )
        out[method] = {
            "seconds": round(time.perf_counter() - t0, 3),
            "status": str(r.status),
            "expected_lives": r.expected_lives,
            "bound": r.lives_bound,
        }
    engine = StochasticEngine(inst, sets, commit_days=commit, method="rounding")
    probability = engine.form.probability
    names = [f"s{i}" for i in range(scenarios)]

    def creator(name: str) -> Any:
        s = names.index(name)
        return scenario_model(engine.data[s], float(probability[s]), commit)

    options = {
        "solver_name": "appsi_highs",
        "PHIterLimit": iterations,
        "defaultPHrho": rho,
        "convthresh": 1e-4,
        "verbose": False,
        "display_progress": False,
        "display_timing": False,
        "iter0_solver_options": {},
        "iterk_solver_options": {},
        "linearize_proximal_terms": True,
        "proximal_linearization_tolerance": 0.1,
    }
    t0 = time.perf_counter()
    ph = PH(options, names, creator)
    conv, _, trivial = ph.ph_main()
    ph_seconds = time.perf_counter() - t0
    # the Lagrangian bound of the last weights: each scenario with W and no proximal term
    t1 = time.perf_counter()
    ph._disable_prox()
    ph.solve_loop(solver_options={})
    lagrangian = -float(ph.Ebound())
    bound_seconds = time.perf_counter() - t1
    # x-bar rounded: a commit, scored by the planner's own recourse in every scenario
    scenario = ph.local_scenarios[names[0]]
    xbar = {
        id(v): float(pyo_value(scenario._mpisppy_model.xbars[k]))
        for k, v in scenario._mpisppy_data.nonant_indices.items()
    }
    block = engine.form.blocks[0]
    units = np.zeros(len(engine.form.first_stage))
    position = {int(c): i for i, c in enumerate(engine.form.first_stage)}
    m = scenario
    for i, (k, r_, d) in enumerate(
        zip(block.ship.depot, block.ship.region, block.ship.day, strict=True)
    ):
        if d < commit:
            units[position[int(block.ship.cols[i])]] = xbar[id(m.ship[int(k), int(r_), int(d)])]
    for i, (a, d) in enumerate(zip(block.transfer.lane, block.transfer.day, strict=True)):
        if d < commit:
            units[position[int(block.transfer.cols[i])]] = xbar[id(m.transfer[int(a), int(d)])]
    decomposition = engine.decomposition
    assert decomposition is not None
    plan = decomposition.recourse(np.rint(units), [], False, Deadline(None))
    xhat = (
        None
        if plan is None
        else float(engine.form.probability @ engine.form.scenario_lives(plan[0]))
    )
    out["ph"] = {
        "seconds": round(ph_seconds, 3),
        "iterations": int(ph._PHIter),
        "convergence": float(conv),
        "trivial_bound": -float(trivial),
        "lagrangian_bound": lagrangian,
        "lagrangian_seconds": round(bound_seconds, 3),
        "xhat_expected_lives": xhat,
    }
    return out


def pyo_value(x: Any) -> float:
    import pyomo.environ as pyo

    return float(pyo.value(x))


def us_subproblem(mip_limit: float) -> dict[str, Any]:
    """One US scenario as PH would solve it: Pyomo build, LP relaxation, MIP (time-limited)."""
    import pyomo.environ as pyo
    from pyomo_multiperiod import build_multiperiod

    from optimiser.multiperiod import load_multiperiod
    from optimiser.scenarios import LognormalSpec, lognormal_scenarios
    from optimiser.stochastic.engine import EXECUTED_COLUMNS, scenario_data

    inst = load_multiperiod(US).with_settings(transfers=True)
    sets = lognormal_scenarios(inst, LognormalSpec(scenarios=1, seed=1))
    data = scenario_data(inst, sets, pd.DataFrame(columns=EXECUTED_COLUMNS), 0)[0]
    out: dict[str, Any] = {}
    for kind in ("lp", "mip"):
        t0 = time.perf_counter()
        m = build_multiperiod(data)
        build = time.perf_counter() - t0
        if kind == "lp":
            pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
        opt = pyo.SolverFactory("appsi_highs")
        opt.config.time_limit = mip_limit
        opt.config.load_solution = False
        t1 = time.perf_counter()
        result = opt.solve(m)
        out[kind] = {
            "build_s": round(build, 3),
            "solve_s": round(time.perf_counter() - t1, 3),
            "termination": str(result.solver.termination_condition),
            "columns": m.nvariables(),
        }
        print(json.dumps({kind: out[kind]}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--us-subproblem", action="store_true")
    parser.add_argument("--scenarios", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--rho", type=float, default=0.5)
    parser.add_argument("--mip-limit", type=float, default=60.0)
    args = parser.parse_args()
    from optimiser.solver import solver_versions

    versions = {"python": sys.version.split()[0], "highs": solver_versions()["highs"]}
    try:
        import mpisppy  # noqa: F401
        import pyomo

        versions["pyomo"] = pyomo.__version__
        from importlib.metadata import version

        versions["mpi-sppy"] = version("mpi-sppy")
    except ImportError:
        sys.exit("mpi-sppy is not installed: .venv/bin/pip install mpi-sppy==0.14.0")
    report: dict[str, Any] = {"versions": versions}
    if args.small:
        report["small"] = small(args.scenarios, args.iterations, args.rho)
    if args.us_subproblem:
        report["us_subproblem"] = us_subproblem(args.mip_limit)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
