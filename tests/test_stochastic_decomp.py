"""The two-stage plan by decomposition (method `rounding`: optimiser/stochastic/decomp.py,
compact.py, fixed_commit.py), checked against the extensive form solved whole by HiGHS
(method `exact`), its bound against that optimum, and its plans replayed through check-plan's
simulator (optimiser/multiperiod/simulate.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scenario_support import small_instance
from test_stochastic import brute_case, hedge_case

from models.multiperiod import build_plan_model
from models.stochastic import build_extensive_form
from optimiser.deadline import Deadline
from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios import LognormalSpec, lognormal_scenarios
from optimiser.scenarios.model import ScenarioSet
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus
from optimiser.stochastic import StochasticResult, plan_under_uncertainty
from optimiser.stochastic.compact import build_compact
from optimiser.stochastic.decomp import value_at_risk
from optimiser.stochastic.engine import EXECUTED_COLUMNS, StochasticEngine, scenario_data

EQUAL = 1e-6  # the two methods' optima, both proved (every plan of these cases is exact)


def both(
    inst: MultiPeriodInstance,
    scenarios: ScenarioSet,
    constraints: list[str] | None = None,
    **kwargs: Any,
) -> tuple[StochasticResult, StochasticResult]:
    exact = plan_under_uncertainty(inst, scenarios, constraints, method="exact", **kwargs)
    decomposed = plan_under_uncertainty(inst, scenarios, constraints, method="rounding", **kwargs)
    assert exact.solver["method"] == "exact" and decomposed.solver["method"] == "rounding"
    return exact, decomposed


def assert_same_optimum(exact: StochasticResult, decomposed: StochasticResult) -> None:
    assert exact.status == "optimal" and decomposed.status == "optimal"
    assert decomposed.expected_lives == pytest.approx(exact.expected_lives, abs=EQUAL)
    # the decomposition's bound is an upper bound of the true optimum, and proved tight
    assert decomposed.lives_bound is not None and exact.expected_lives is not None
    assert decomposed.lives_bound >= exact.expected_lives - EQUAL
    assert decomposed.gap is not None and decomposed.gap <= 1e-9 + 0.005 / max(
        1.0, decomposed.lives_bound
    )


def test_hand_solved_case_by_decomposition(tmp_path: Path) -> None:
    inst, scenarios = hedge_case(tmp_path)
    exact, decomposed = both(inst, scenarios, commit_days=1)
    assert_same_optimum(exact, decomposed)
    assert "branch_and_bound" not in decomposed.sizes  # the LP bound proved it
    assert decomposed.expected_lives == pytest.approx(1.0, abs=EQUAL)
    assert decomposed.committed[["kind", "day", "from", "to", "units"]].values.tolist() == [
        ["ship", 0, "D", "A", 2.0]
    ]


def test_brute_force_case_by_decomposition(tmp_path: Path) -> None:
    inst, scenarios = brute_case(tmp_path)
    exact, decomposed = both(inst, scenarios, commit_days=2, price_of_fairness=False)
    assert_same_optimum(exact, decomposed)
    assert "branch_and_bound" not in decomposed.sizes
    assert decomposed.per_scenario["lives"].tolist() == pytest.approx(
        exact.per_scenario["lives"].tolist(), abs=EQUAL
    )


def test_worst_case_risk_by_decomposition(tmp_path: Path) -> None:
    inst, scenarios = brute_case(tmp_path)
    exact, decomposed = both(inst, scenarios, commit_days=2, risk="worst:alpha=0.4")
    assert exact.status == "optimal" and decomposed.status == "optimal"
    assert decomposed.cvar_deaths == pytest.approx(exact.cvar_deaths, abs=EQUAL)
    assert exact.cvar_deaths is not None
    assert decomposed.solver["bound"] >= -exact.cvar_deaths - EQUAL  # -K: an upper bound
    # the LP bound (-4.56875) is above the optimum (-4.625): branch-and-bound closed it
    assert decomposed.sizes["branch_and_bound"] == 1


def test_fairness_in_every_scenario_by_decomposition(tmp_path: Path) -> None:
    inst, scenarios = brute_case(tmp_path)
    exact, decomposed = both(inst, scenarios, ["min_units:units=1"], commit_days=1)
    assert_same_optimum(exact, decomposed)
    # the price of fairness through the engine protocol, in expected lives
    assert decomposed.lives_optimal == pytest.approx(exact.lives_optimal, abs=EQUAL)
    pd.testing.assert_frame_equal(
        decomposed.price_of_fairness, exact.price_of_fairness, check_exact=False, atol=EQUAL
    )


@pytest.fixture(scope="module")
def transfers_case(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[MultiPeriodInstance, ScenarioSet]:
    """4 regions x 10 days with transfers, three log-normal scenarios."""
    folder = small_instance(tmp_path_factory.mktemp("decomp") / "inst", regions=4, days=10)
    inst = load_multiperiod(folder).with_settings(transfers=True)
    return inst, lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=7))


def test_compact_form_has_the_extensive_forms_lp_optimum(
    transfers_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """The link rows substituted out, priced by column generation: the same LP optimum as
    the whole extensive form's LP relaxation in HiGHS."""
    inst, scenarios = transfers_case
    empty = pd.DataFrame(columns=EXECUTED_COLUMNS)
    data = scenario_data(inst, scenarios, empty, 0)
    blocks = [build_plan_model(d) for d in data]
    form = build_extensive_form(
        blocks, scenarios.probability.reindex(scenarios.ids).to_numpy(float), np.zeros(3), 4
    )
    cost = form.expected([b.lives for b in blocks])
    whole = MatrixHighsModel(
        form.col_lower,
        form.col_upper,
        form.matrix,
        form.row_lower,
        form.row_upper,
        np.zeros(form.shape[1], dtype=np.int8),
        SolverOptions(),
    )
    whole.set_cost(cost, maximize=True)
    reference = whole.solve(None)
    assert reference.status is SolveStatus.OPTIMAL and reference.objective is not None
    compact = build_compact(form)
    assert compact.shape[1] == form.shape[1] - 2 * len(form.first_stage)
    assert compact.shape[0] == form.shape[0] - len(form.link_rows)
    cg = ColumnGeneration(compact, data[0], SolverOptions())  # type: ignore[arg-type]
    lp = cg.solve_lp(compact.cost(cost), True, None)
    assert lp.status is SolveStatus.OPTIMAL and lp.values is not None
    assert lp.objective == pytest.approx(reference.objective, abs=1e-6)
    # its solution, expanded, is a solution of the extensive form (link rows included)
    full = compact.expand(lp.values)
    act = form.matrix @ full
    assert np.all(act >= form.row_lower - 1e-6) and np.all(act <= form.row_upper + 1e-6)
    assert float(cost @ full) == pytest.approx(reference.objective, abs=1e-6)
    assert np.array_equal(compact.compact(full), lp.values)


def scenario_plans(engine: StochasticEngine, values: np.ndarray) -> list[pd.DataFrame]:
    """Each scenario's plan (the commit and its recourse) in the plan-file form."""
    from types import SimpleNamespace

    from optimiser.multiperiod.extract import extract

    plans = []
    for s, (block, (_, one)) in enumerate(
        zip(engine.form.blocks, engine.scenarios.instances(engine.instance), strict=True)
    ):
        shim = SimpleNamespace(
            model=block, data=engine.data[s], instance=one, executed=engine.executed
        )
        plans.append(extract(shim, engine.form.block_values(values, s))["plan"])  # type: ignore[arg-type]
    return plans


def test_plans_replay_to_the_claimed_lives_and_bound_holds(
    transfers_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """Every scenario's plan (commit + recourse) replays through check-plan's simulator,
    breaking no rule, to the lives the decomposition claims; the expected lives are the
    probability-weighted sum; the bound is at least the extensive form's optimum and the plan
    at most it."""
    from optimiser.multiperiod.check import check_plan

    inst, scenarios = transfers_case
    exact = plan_under_uncertainty(
        inst, scenarios, commit_days=4, method="exact", price_of_fairness=False
    )
    engine = StochasticEngine(inst, scenarios, commit_days=4, method="rounding")
    out = engine.solve([], tie_break=True)
    assert out.values is not None and out.scenario_lives is not None
    assert out.bound is not None and exact.expected_lives is not None
    assert out.bound >= exact.expected_lives - 0.005
    assert out.lives is not None and out.lives <= exact.expected_lives + 0.005
    assert out.gap is not None and out.gap < 0.01
    plans = scenario_plans(engine, out.values)
    first = plans[0]
    committed = first[(first["kind"] != "admit") & (first["day"] < 4)]
    replayed = []
    for (sid, one), rows in zip(scenarios.instances(inst), plans, strict=True):
        moves = rows[(rows["kind"] != "admit") & (rows["day"] < 4)]
        pd.testing.assert_frame_equal(  # the same commit in every scenario
            moves.reset_index(drop=True), committed.reset_index(drop=True), check_dtype=False
        )
        check = check_plan(one, rows)
        assert check.ok, (sid, check.violations[:3])
        replayed.append(check.survivors)
    assert np.allclose(replayed, out.scenario_lives, atol=1e-6)
    assert float(engine.form.probability @ np.array(replayed)) == pytest.approx(out.lives, abs=1e-6)


def test_value_at_risk_minimises_the_cvar_formula() -> None:
    rng = np.random.default_rng(3)
    deaths = rng.uniform(0, 10, 7)
    p = rng.dirichlet(np.ones(7))
    for alpha in (0.1, 0.3, 0.5, 1.0):
        eta = value_at_risk(deaths, p, alpha)

        def k(e: float, a: float = alpha) -> float:
            return e + float(p @ np.maximum(deaths - e, 0.0)) / a

        assert all(k(eta) <= k(float(e)) + 1e-12 for e in np.linspace(-1, 11, 241))


def test_method_switch_and_bad_method(tmp_path: Path) -> None:
    inst, scenarios = hedge_case(tmp_path)
    auto = plan_under_uncertainty(inst, scenarios, commit_days=1)
    assert auto.solver["method"] == "exact"  # small: the whole extensive form
    with pytest.raises(InputError, match="method"):
        plan_under_uncertainty(inst, scenarios, commit_days=1, method="pH")
    with pytest.raises(InputError, match="relax_recourse"):
        plan_under_uncertainty(
            inst, scenarios, commit_days=1, method="rounding", relax_recourse=True
        )


def test_infeasible_fairness_is_proved_by_decomposition(tmp_path: Path) -> None:
    """Full coverage without transfers cannot hold: column generation's phase 1 proves it
    (no plan, the engine protocol's explanation)."""
    from optimiser.multiperiod import GeneratorSpec, generate

    folder = generate(GeneratorSpec(regions=3, days=10, seed=3), tmp_path / "small")
    inst = load_multiperiod(folder).with_settings(transfers=False)
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=2, seed=1))
    exact, decomposed = both(
        inst, scenarios, ["coverage_floor:level=1"], commit_days=3, price_of_fairness=False
    )
    assert exact.status == "infeasible" and decomposed.status == "infeasible"
    assert decomposed.expected_lives is None
    assert decomposed.explanation == exact.explanation


def test_transfers_case_equals_the_extensive_form(
    transfers_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """Both methods proved to 1e-7 lives (the default 0.005 lets two optima differ by as
    much): the same optimum to 1e-6, the decomposition's bound above it."""
    inst, scenarios = transfers_case
    tight = SolverOptions(mip_rel_gap=0.0, mip_abs_gap=1e-7)
    outs = {}
    for method in ("exact", "rounding"):
        engine = StochasticEngine(inst, scenarios, commit_days=4, options=tight, method=method)
        outs[method] = engine.solve([], tie_break=False)
        assert outs[method].status is SolveStatus.OPTIMAL
    exact, decomposed = outs["exact"], outs["rounding"]
    assert exact.lives is not None and decomposed.lives is not None
    assert decomposed.lives == pytest.approx(exact.lives, abs=EQUAL)
    assert decomposed.bound is not None and decomposed.bound >= exact.lives - EQUAL
    assert decomposed.scenario_lives is not None and exact.scenario_lives is not None


def test_a_spent_budget_is_never_optimal(
    transfers_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """Out of time before the LP: no bound, the plan of last resort (nothing moved) if any,
    status time_limit; never 'optimal'."""
    inst, scenarios = transfers_case
    spent = Deadline(0.001, start=time.perf_counter() - 1.0)
    result = plan_under_uncertainty(
        inst,
        scenarios,
        commit_days=4,
        method="rounding",
        deadline=spent,
        price_of_fairness=False,
    )
    assert result.status == "time_limit"
    assert result.committed.empty or result.gap is not None


def test_cvar_risk_by_decomposition(tmp_path: Path) -> None:
    inst, scenarios = brute_case(tmp_path)
    risk = "cvar:alpha=0.4,lambda=0.5"
    exact, decomposed = both(inst, scenarios, commit_days=2, risk=risk, price_of_fairness=False)
    assert exact.status == "optimal" and decomposed.status == "optimal"
    assert decomposed.solver["objective"] == pytest.approx(exact.solver["objective"], abs=EQUAL)
    assert decomposed.cvar_deaths == pytest.approx(exact.cvar_deaths, abs=EQUAL)
    assert decomposed.expected_lives == pytest.approx(exact.expected_lives, abs=EQUAL)


def test_auto_decomposes_above_the_planners_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optimiser.stochastic.engine as engine_module

    inst, scenarios = hedge_case(tmp_path)
    monkeypatch.setattr(engine_module, "EXACT_LIMIT", 3)  # the hedge case has more
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    assert result.solver["method"] == "rounding" and result.status == "optimal"
    assert result.expected_lives == pytest.approx(1.0, abs=EQUAL)
    assert result.timings["rounding_bound"] >= 0.0


def test_the_decomposition_is_deterministic(
    transfers_case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """Without a time limit every step is bounded by rounds and nodes: the same plan twice
    (fresh engines), to the bit."""
    inst, scenarios = transfers_case
    runs = [
        StochasticEngine(inst, scenarios, commit_days=4, method="rounding").solve([])
        for _ in range(2)
    ]
    assert runs[0].values is not None and runs[1].values is not None
    assert np.array_equal(runs[0].values, runs[1].values)
    assert runs[0].bound == runs[1].bound


def test_an_optimal_without_a_bound_is_not_a_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HiGHS answered 'optimal' with an infinite dual bound on the US x 20 extensive form
    (BENCHMARKS.md): the exact method reports it as an error, never as optimal."""
    from optimiser.solver import SolverRun

    inst, scenarios = hedge_case(tmp_path)
    real = MatrixHighsModel.solve

    def no_bound(self: MatrixHighsModel, *args: Any, **kwargs: Any) -> SolverRun:
        run = real(self, *args, **kwargs)
        return SolverRun(run.status, run.objective, float("inf"), None, run.seconds, run.values)

    monkeypatch.setattr(MatrixHighsModel, "solve", no_bound)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1, method="exact")
    assert result.status != "optimal"
