"""An answer from HiGHS's improving-solution callback is checked against the model before it
is returned (track honest2).

A guarded MIP run (HighsModel._solve_guarded, optimiser/guarded_run.py) cut off at its
wall-clock limit answers with the last point HiGHS reported through kCallbackMipImprovingSolution.
HiGHS checks its final solution (primal_solution_status, from its own KKT check on the original
model) but not that callback's point: when a presolved solution postsolves with violations and
no feasible incumbent exists yet, HiGHS 1.15 still stores it and reports it through the
callback ("Solution with objective ... has untransformed violations",
HighsMipSolverData::transformNewIntegerFeasibleSolution). Before this, such a point was returned
unchecked as the allocation or plan (status time_limit). Here a stand-in for HiGHS fires the
callback with a point that breaks the model, then hangs: the answer is the last reported point
that meets the model (`meets_model`), else the start when it meets the model, else none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from synthetic import threshold_instance
from test_multiperiod_support import write_instance

import optimiser
from optimiser import guarded_run, highs_model
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

STALL = 60.0


def report(runner: Any, values: np.ndarray, objective: float, bound: float = np.inf) -> None:
    """What HiGHS's kCallbackMipImprovingSolution hands the subscribers of `runner`."""
    out = SimpleNamespace(
        mip_solution=list(values), objective_function_value=objective, mip_dual_bound=bound
    )
    for callback in list(runner.cbMipImprovingSolution.callbacks):
        callback(SimpleNamespace(data_out=out))


def breaking(runner: Any) -> np.ndarray:
    """A point of `runner`'s model that breaks it: every column at its upper bound (or 1e6
    above its lower bound when it has none)."""
    lp = runner.getLp()
    upper = np.asarray(lp.col_upper_, dtype=float)
    lower = np.asarray(lp.col_lower_, dtype=float)
    return np.where(np.isfinite(upper), upper, np.where(np.isfinite(lower), lower, 0.0) + 1e6)


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[Any], None]], None]]:
    """Install a stand-in for HiGHS's run (`act(runner)`, then a hang until the test ends)."""
    release = threading.Event()

    def install(act: Callable[[Any], None]) -> None:
        def run(runner: Any) -> None:
            act(runner)
            release.wait(STALL)

        monkeypatch.setattr(highs_model, "_RUN_HOOK", run)

    yield install
    release.set()
    assert guarded_run.wait_for_abandoned_runs(30.0)


def knapsack() -> MatrixHighsModel:
    """max x0 + 2 x1 + 3 x2, x0 + x1 + x2 <= 1, x binary."""
    model = MatrixHighsModel(
        np.zeros(3),
        np.ones(3),
        sp.csr_matrix(np.ones((1, 3))),
        np.array([-np.inf]),
        np.array([1.0]),
        np.ones(3, dtype=np.int8),
        SolverOptions(),
    )
    model.set_cost(np.array([1.0, 2.0, 3.0]), maximize=True)
    return model


def test_a_callback_point_that_breaks_the_model_is_never_the_answer(hook: Any) -> None:
    good, bad = np.array([0.0, 1.0, 0.0]), np.array([1.0, 1.0, 1.0])

    def act(runner: Any) -> None:
        report(runner, good, 2.0, bound=3.0)
        report(runner, bad, 6.0, bound=3.0)  # breaks the row: HiGHS's unchecked point

    hook(act)
    run = knapsack().solve(time_limit=0.3)
    assert run.status is SolveStatus.TIME_LIMIT
    assert run.values is not None and np.array_equal(run.values, good)  # the last good one
    assert run.objective == pytest.approx(2.0)
    assert run.bound == pytest.approx(3.0) and run.gap == pytest.approx(1 / 2)


def test_a_fractional_callback_point_falls_back_to_the_start(hook: Any) -> None:
    hook(lambda runner: report(runner, np.array([0.0, 0.0, 0.5]), 1.5))
    model = knapsack()
    model.set_start(np.array([1.0, 0.0, 0.0]))
    run = model.solve(time_limit=0.3)
    assert run.status is SolveStatus.TIME_LIMIT
    assert run.values is not None and np.array_equal(run.values, [1.0, 0.0, 0.0])
    assert run.objective == pytest.approx(1.0) and run.bound is None


def test_no_point_that_meets_the_model_means_no_answer(hook: Any) -> None:
    hook(lambda runner: report(runner, np.array([1.0, 1.0, 1.0]), 6.0, bound=3.0))
    run = knapsack().solve(time_limit=0.3)
    assert run.status is SolveStatus.TIME_LIMIT
    assert run.values is None and run.objective is None and run.gap is None


def test_a_good_callback_point_is_still_the_answer(hook: Any) -> None:
    """The check costs nothing in answers: a point that meets the model is returned as HiGHS
    reported it, its objective recomputed from the model's costs."""
    hook(lambda runner: report(runner, np.array([0.0, 0.0, 1.0]), 3.0, bound=3.0))
    run = knapsack().solve(time_limit=0.3)
    assert run.values is not None and np.array_equal(run.values, [0.0, 0.0, 1.0])
    assert run.objective == pytest.approx(3.0) and run.gap == pytest.approx(0.0)
    assert run.status is SolveStatus.TIME_LIMIT  # never optimal at a limit


def test_the_regional_engine_never_returns_a_breaking_callback_allocation(hook: Any) -> None:
    """solve(time_limit): the start's completion runs; the main run reports an allocation
    beyond the supply and every region's demand, then hangs. The answer is the threshold start
    (status time_limit, no bound claimed), never the breaking point."""
    from optimiser.engine import regional_data
    from optimiser.threshold_start import threshold_start

    calls: list[int] = []

    def act(runner: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            runner.run()
            return
        report(runner, breaking(runner), 1e9)

    hook(act)
    request = threshold_instance(40, seed=2)
    request.pop("options")
    instance = optimiser.instance_from_dict(request)
    result = optimiser.solve(instance, time_limit=3, price_of_fairness=False)
    assert len(calls) == 2
    assert result.status == "time_limit"
    assert result.allocation is not None
    assert sum(result.allocation.values()) <= instance.supply
    data = regional_data(instance)
    units = threshold_start(data, {"tau": 100})
    assert units is not None
    assert result.lives_saved == pytest.approx(float(data.lives(units).sum()))


def test_the_planner_never_returns_a_breaking_callback_plan(tmp_path: Path, hook: Any) -> None:
    """plan(method='exact', time_limit): every HiGHS run reports a plan that breaks the
    model's rows, then hangs. The answer has no plan, or one that check-plan accepts."""
    from optimiser.multiperiod import load_multiperiod
    from optimiser.multiperiod.check import check_plan
    from optimiser.multiperiod.planner import plan

    folder = write_instance(
        tmp_path / "two",
        [
            {"region": "A", "capacity": 1, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [1, 2, 1, 0], "B": [0, 2, 1, 0]},
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
    )
    inst = load_multiperiod(folder)
    hook(lambda runner: report(runner, breaking(runner), 1e9))
    result = plan(inst, [], method="exact", time_limit=1.0, price_of_fairness=False)
    assert result.status is not SolveStatus.OPTIMAL
    assert result.lives_saved is None or result.lives_saved < 1e6
    if result.lives_saved is not None:
        check = check_plan(inst, result)
        assert check.ok, check.violations


def test_a_large_row_is_met_to_an_absolute_tolerance() -> None:
    """A supply row of 10^9 units: a point 999 units past it breaks the model (the slack once
    scaled with the bound let it pass), one exactly at it meets it."""
    import highspy

    from optimiser.highs_points import ModelCheck

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    h.addVars(2, np.array([0.0, 0.0]), np.array([inf, inf]))
    h.changeColsIntegrality(
        2, np.array([0, 1], dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * 2)
    )
    h.addRow(-inf, 1e9, 2, np.array([0, 1], dtype=np.int32), np.array([1.0, 1.0]))
    check = ModelCheck(h.getLp())
    assert not check(np.array([5e8, 5e8 + 999.0]))
    assert not check(np.array([5e8, 5e8 + 1.0]))
    assert check(np.array([5e8, 5e8]))
    assert check(np.array([5e8 - 1.0, 5e8]))
