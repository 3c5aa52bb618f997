"""Honest statuses: a run stopped at its own work limits (column-generation rounds,
branch-and-bound nodes, HiGHS iterations) with no time limit reached says `iteration_limit`,
names the limit and keeps its proven gap; only the user's time limit says `time_limit`.

The limits are made tiny (tests/status_limits.py: one column-generation round per LP, no
branch-and-bound in the decomposition, no node for the planner's exact method after rounding),
through the Python API, the CLI (`--json`, text, exit code) and back through `from_dict`; the
service's answer is in tests/service/test_status_iteration_limit_service.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import status_limits
from scenario_support import small_instance
from test_solver_status import market_split, model_objective

from optimiser.deadline import Deadline
from optimiser.multiperiod import MultiPeriodInstance, PlanResult, load_multiperiod, plan
from optimiser.results import AllocationResult
from optimiser.scenarios import LognormalSpec, ScenarioSet, lognormal_scenarios
from optimiser.solver import HighsModel, SolverOptions, SolveStatus, limits_reached
from optimiser.stochastic import StochasticResult, plan_under_uncertainty

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
ROUND = "column generation's round limit (1 round)"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 regions x 10 days with transfers (the decomposition tests' case)."""
    return small_instance(tmp_path_factory.mktemp("status") / "inst", regions=4, days=10)


@pytest.fixture(scope="module")
def case(folder: Path) -> tuple[MultiPeriodInstance, ScenarioSet]:
    inst = load_multiperiod(folder).with_settings(transfers=True)
    return inst, lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=7))


@pytest.fixture
def tiny_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    status_limits.install(monkeypatch)


def assert_iteration_limit(status: object, explanation: str | None, named: str) -> None:
    assert status == SolveStatus.ITERATION_LIMIT and str(status) == "iteration_limit"
    assert explanation is not None and explanation.startswith("iteration limit: no time limit")
    assert named in explanation


# ---- the solver layer


def test_a_node_limit_is_an_iteration_limit_never_a_time_limit() -> None:
    model = HighsModel(market_split())
    model.set_objective(model_objective(model), maximize=False)
    with limits_reached() as limits:
        run = model.solve(node_limit=1)
    assert run.status is SolveStatus.ITERATION_LIMIT and run.status.stopped
    assert limits == ["the branch-and-bound node limit (1 node)"]
    if run.has_solution:  # the best point found, with its gap, not proved
        assert run.gap is None or run.gap > 0


def test_a_time_limit_is_still_a_time_limit() -> None:
    model = HighsModel(market_split(), SolverOptions(time_limit=0.05))
    model.set_objective(model_objective(model), maximize=False)
    with limits_reached() as limits:
        run = model.solve()
    assert run.status is SolveStatus.TIME_LIMIT and limits == []


# ---- the planner (Python API)


@pytest.mark.usefixtures("tiny_limits")
@pytest.mark.parametrize("time_limit", [None, 120.0])
def test_a_plan_stopped_at_its_round_limit_says_iteration_limit(
    case: tuple[MultiPeriodInstance, ScenarioSet], time_limit: float | None
) -> None:
    """One column-generation round: the LP bound is never proved, the rounding method's plan
    is not proved optimal. With no time limit, or one far from reached, that is not a time
    limit."""
    inst, _ = case
    result = plan(inst, method="rounding", time_limit=time_limit, price_of_fairness=False)
    assert_iteration_limit(result.status, result.explanation, ROUND)
    assert "no branch-and-bound on" in (result.explanation or "")
    assert result.lives_saved is not None and result.solver is not None
    gap = result.solver.gap
    assert gap is not None and gap > 0 and f"gap {100 * gap:.4f}%" in (result.explanation or "")
    assert result.objective_bound is not None and result.objective_bound > result.lives_saved
    data = result.to_dict()
    assert data["status"] == "iteration_limit"
    back = PlanResult.from_dict(json.loads(json.dumps(data)))
    assert back.status is SolveStatus.ITERATION_LIMIT and back.explanation == result.explanation


@pytest.mark.usefixtures("tiny_limits")
def test_a_plan_stopped_at_its_node_limit_names_it(
    case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """Method auto on a small model: rounding, then HiGHS's branch-and-bound with a budget of
    nodes (here none): stopped there, it says so."""
    inst, _ = case
    result = plan(inst, price_of_fairness=False)
    assert_iteration_limit(result.status, result.explanation, "node limit (0 nodes)")
    assert result.lives_saved is not None


def test_a_spent_time_limit_still_says_time_limit(
    case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    inst, scenarios = case
    spent = Deadline(0.001, start=time.perf_counter() - 1.0)
    result = plan(inst, method="rounding", deadline=spent, price_of_fairness=False)
    assert result.status is SolveStatus.TIME_LIMIT and result.explanation is None
    spent = Deadline(0.001, start=time.perf_counter() - 1.0)
    two_stage = plan_under_uncertainty(
        inst, scenarios, commit_days=4, method="rounding", deadline=spent,
        price_of_fairness=False,
    )  # fmt: skip
    assert two_stage.status == SolveStatus.TIME_LIMIT and two_stage.explanation is None


# ---- the two-stage decomposition


@pytest.mark.usefixtures("tiny_limits")
def test_the_decomposition_stopped_at_its_round_limit_says_iteration_limit(
    case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    inst, scenarios = case
    result = plan_under_uncertainty(
        inst, scenarios, commit_days=4, method="rounding", price_of_fairness=False
    )
    assert_iteration_limit(result.status, result.explanation, ROUND)
    assert "no bound was proved" in (result.explanation or "")
    assert result.expected_lives is not None and result.lives_bound is None
    back = StochasticResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert back.status is SolveStatus.ITERATION_LIMIT and back.explanation == result.explanation


def test_without_tiny_limits_the_same_cases_are_optimal(
    case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """The control: the same asks at the shipped limits are proved optimal, no explanation."""
    inst, scenarios = case
    result = plan(inst, price_of_fairness=False)
    assert result.status is SolveStatus.OPTIMAL and result.explanation is None
    two_stage = plan_under_uncertainty(
        inst, scenarios, commit_days=4, method="rounding", price_of_fairness=False
    )
    assert two_stage.status is SolveStatus.OPTIMAL and two_stage.explanation is None


def test_an_allocation_result_round_trips_the_status() -> None:
    import pandas as pd

    result = AllocationResult(
        instance="hand", policy="optimal", status=SolveStatus.ITERATION_LIMIT, supply=3,
        lives_saved=1.0, regions=pd.DataFrame(), unallocated=0, constraints=(),
        price_of_fairness=pd.DataFrame(), explanation="iteration limit: ...",
    )  # fmt: skip
    back = AllocationResult.from_dict(json.loads(result.to_json()))
    assert back.status is SolveStatus.ITERATION_LIMIT and not back.is_optimal


# ---- the CLI


def run_triage(hooks: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m optimiser ARGS` with the tiny limits installed (sitecustomize.py)."""
    path = os.pathsep.join(p for p in (str(hooks), str(TESTS), os.environ.get("PYTHONPATH"))
                           if p)  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}
    env.pop("TRIAGE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "optimiser", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("status-hooks")
    (folder / "sitecustomize.py").write_text(status_limits.SITECUSTOMIZE)
    return folder


def test_the_cli_says_iteration_limit_with_exit_code_0(hooks: Path, folder: Path) -> None:
    """An answer stopped at the method's own limits is an answer: exit 0 (as time_limit), its
    status and the limit in --json and in the text."""
    done = run_triage(hooks, "plan", folder, "--method", "rounding", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert_iteration_limit(data["status"], data["explanation"], ROUND)
    assert data["lives_saved"] is not None and data["solver"]["gap"] > 0
    back = PlanResult.from_dict(data)
    assert back.status is SolveStatus.ITERATION_LIMIT
    text = run_triage(hooks, "plan", folder, "--method", "rounding", "--no-price")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].startswith("status: iteration_limit (gap ")
    assert lines[2].startswith("iteration limit: no time limit stopped this plan")
    assert ROUND in lines[2]


def test_the_cli_still_says_time_limit_when_the_time_limit_stops_it(
    hooks: Path, folder: Path
) -> None:
    done = run_triage(hooks, "plan", folder, "--time-limit", "0.3", "--json")
    assert done.returncode in (0, 4), done.stderr
    if done.returncode == 0:
        data = json.loads(done.stdout)
        assert data["status"] == "time_limit" and data["explanation"] is None
    else:  # no plan at all in 0.3 s on a loaded machine
        assert "(time_limit): raise --time-limit" in done.stderr


def test_an_allocation_stopped_at_highs_iteration_limit_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`triage solve`'s engine has no limits of its own: HiGHS's iteration or solution limit
    (kIterationLimit, kSolutionLimit) is the one way there, read by the solver layer as
    iteration_limit and named in the allocation's explanation."""
    import dataclasses

    import optimiser
    from optimiser import highs_model

    real = highs_model._read_run

    def stopped(h: Any, is_mip: bool, seconds: float) -> Any:
        run = real(h, is_mip, seconds)
        if not is_mip or run.values is None:
            return run
        return dataclasses.replace(run, status=SolveStatus.ITERATION_LIMIT, gap=0.001)

    monkeypatch.setattr(highs_model, "_read_run", stopped)
    pugh = optimiser.load_instance(REPO / "instances" / "pugh2021")
    result = optimiser.solve(pugh, ["threshold:tau=0.2"], price_of_fairness=False)
    assert_iteration_limit(result.status, result.explanation, "HiGHS's iteration limit")
    assert result.lives_saved is not None and not result.is_optimal
    assert "The best allocation found is reported." in (result.explanation or "")


@pytest.mark.usefixtures("tiny_limits")
def test_a_comparison_whose_re_plans_stopped_at_their_limits_says_iteration_limit(
    case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    """No time limit: the candidates' re-plans stop at the planner's own limits, so the
    comparison is complete but not proved: iteration_limit, never time_limit; its text says
    so and it reads back."""
    from optimiser.stochastic.compare import Comparison, compare
    from optimiser.stochastic.report import stochastic_text

    inst, scenarios = case
    result = plan_under_uncertainty(inst, scenarios, commit_days=4, price_of_fairness=False)
    comparison = compare(inst, scenarios, commit_days=4, stochastic=result)
    assert comparison.status == "iteration_limit" and not comparison.not_scored
    assert comparison.cut_short  # the re-plans not proved optimal, named
    text = stochastic_text(result, comparison)
    assert "comparison status: iteration_limit (no time limit reached): " in text
    assert re.search(r"\b\d+ re-plans? stopped at their own round or node limits", text), text
    assert Comparison.from_dict(json.loads(comparison.to_json())).status == "iteration_limit"
