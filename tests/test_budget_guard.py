"""A limited MIP answers at its wall-clock limit even when HiGHS runs on without looking at its
clock (issue 9: on 1,500 regions under threshold(tau=0.2) HiGHS's implied-bound separator ran
3.9-8.5 s unclocked and `triage solve --time-limit 10` took 11.9 s). A stand-in for the stalled
HiGHS (optimiser.highs_model._RUN_HOOK) makes the stall certain and machine-independent: before the
guard (optimiser/guarded_run.py) every one of these waited for the stall to end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from synthetic import threshold_instance

import optimiser
from optimiser import guarded_run, highs_model
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

STALL = 60.0  # far longer than any limit below: the stand-in is released at the test's end
# What a loaded machine may add to a guarded run's answer (thread start, the model's copy)
SLACK = 2.0


@pytest.fixture
def stall(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every guarded MIP run first lets HiGHS run to its end, then hangs (as HiGHS hangs in
    an unclocked stretch) until the test is over."""
    release = threading.Event()

    def stalled(runner: Any) -> None:
        runner.run()
        release.wait(STALL)

    monkeypatch.setattr(highs_model, "_RUN_HOOK", stalled)
    yield release
    release.set()
    assert guarded_run.wait_for_abandoned_runs(30.0)


@pytest.fixture
def hang(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every guarded MIP run hangs before HiGHS finds anything."""
    release = threading.Event()
    monkeypatch.setattr(highs_model, "_RUN_HOOK", lambda runner: release.wait(STALL))
    yield release
    release.set()
    assert guarded_run.wait_for_abandoned_runs(30.0)


def knapsack(n: int = 30, seed: int = 5) -> tuple[MatrixHighsModel, np.ndarray]:
    """max v.x, w.x <= W, x binary (HiGHS proves it in milliseconds); and its values."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    weights = rng.integers(10, 60, n).astype(float)
    values = rng.integers(10, 60, n).astype(float)
    model = MatrixHighsModel(
        np.zeros(n),
        np.ones(n),
        sp.csr_matrix(weights.reshape(1, -1)),
        np.array([-np.inf]),
        np.array([weights.sum() / 3]),
        np.ones(n, dtype=np.int8),
        SolverOptions(),
    )
    model.set_cost(values, maximize=True)
    return model, values


def test_a_stalled_run_answers_at_its_limit_with_what_it_found(stall) -> None:
    model, values = knapsack()
    best = model.solve()  # no limit: not guarded, HiGHS proves the optimum
    assert best.status is SolveStatus.OPTIMAL and best.objective is not None
    started = time.perf_counter()
    run = model.solve(time_limit=0.5)
    took = time.perf_counter() - started
    assert took < 0.5 + guarded_run.GRACE + SLACK, took
    assert guarded_run.abandoned_runs() == 1
    # HiGHS's solutions reached the caller through its callbacks; never called optimal
    assert run.status is SolveStatus.TIME_LIMIT
    assert run.values is not None and run.objective == pytest.approx(best.objective)
    assert float(values @ np.rint(run.values)) == pytest.approx(best.objective)
    assert run.bound is not None and run.bound >= run.objective - 1e-6
    # the model's own Highs object was never run by the thread: it still solves
    stall.set()
    assert guarded_run.wait_for_abandoned_runs(30.0)
    again = model.solve(time_limit=30)
    assert again.status is SolveStatus.OPTIMAL and again.objective == pytest.approx(best.objective)


def test_a_run_that_finds_nothing_answers_with_its_feasible_start(hang) -> None:
    model, values = knapsack()
    start = np.zeros(len(values))
    start[int(np.argmax(values))] = 1.0
    model.set_start(start)
    started = time.perf_counter()
    run = model.solve(time_limit=0.3)
    assert time.perf_counter() - started < 0.3 + guarded_run.GRACE + SLACK
    assert run.status is SolveStatus.TIME_LIMIT
    assert run.values is not None and np.array_equal(run.values, start)
    assert run.objective == pytest.approx(float(values.max()))
    assert run.bound is None and run.gap is None  # nothing proven: no bound is claimed


def test_a_run_with_nothing_found_answers_time_limit_without_a_point(hang) -> None:
    model, _ = knapsack()
    run = model.solve(time_limit=0.2)
    assert run.status is SolveStatus.TIME_LIMIT and run.values is None and run.bound is None


def test_solve_keeps_its_budget_when_highs_stalls(stall) -> None:
    """The whole request (build, every HiGHS run, the price of fairness, the result) within
    its budget while every HiGHS MIP run stalls; status time_limit with HiGHS's allocation."""
    request = threshold_instance(20, seed=1)
    request.pop("options")
    instance = optimiser.instance_from_dict(request)
    budget = 3.0
    started = time.perf_counter()
    result = optimiser.solve(instance, time_limit=budget)
    took = time.perf_counter() - started
    assert took < budget + max(1.0, 0.1 * budget) + SLACK, took
    assert result.status == "time_limit"
    assert result.allocation is not None
    assert sum(result.allocation.values()) <= instance.supply
    assert result.lives_saved is not None and result.lives_saved_bound is not None
    assert result.lives_saved <= result.lives_saved_bound + 1e-6


# ---- the feasible start under threshold(tau): good answers when the budget runs out


@pytest.mark.parametrize(
    ("n", "seed", "tau"), [(20, 1, 100), (40, 2, 0), (60, 3, 30), (25, 4, 0.2)]
)
def test_the_threshold_start_meets_the_rule_checked_independently(n, seed, tau) -> None:
    from test_fairness_constraints import Checker

    from optimiser.engine import regional_data
    from optimiser.threshold_start import threshold_start

    request = threshold_instance(n, seed=seed)
    request.pop("options")
    request["constraints"] = []
    instance = optimiser.instance_from_dict(request)
    spec = optimiser.ConstraintSpec("threshold", {"tau": tau})
    data = regional_data(instance)
    units = threshold_start(data, {"tau": tau})
    assert units is not None and units.sum() <= instance.supply
    assert np.all(units >= 0) and np.all(units <= data.staff_cap)
    x = {rid: int(u) for rid, u in zip(instance.region_ids, units, strict=True)}
    assert Checker(instance, [spec])(x)
    optimum = optimiser.solve(instance, [spec], price_of_fairness=False)
    assert optimum.status == "optimal"
    assert float(data.lives(units).sum()) <= optimum.lives_saved + 1e-6


def test_a_solve_whose_highs_run_finds_nothing_answers_with_the_start(monkeypatch) -> None:
    """The start's completion (the first HiGHS run) finishes; the main run then hangs before
    HiGHS finds anything: the answer is the start, status time_limit, with no bound claimed."""
    from optimiser.engine import regional_data
    from optimiser.threshold_start import threshold_start

    release = threading.Event()
    calls: list[int] = []

    def first_runs_then_hangs(runner: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            runner.run()
        else:
            release.wait(STALL)

    monkeypatch.setattr(highs_model, "_RUN_HOOK", first_runs_then_hangs)
    request = threshold_instance(40, seed=2)
    request.pop("options")
    instance = optimiser.instance_from_dict(request)
    try:
        result = optimiser.solve(instance, time_limit=3)
    finally:
        release.set()
        assert guarded_run.wait_for_abandoned_runs(30.0)
    units = threshold_start(regional_data(instance), {"tau": 100})
    assert units is not None and len(calls) == 2
    assert result.status == "time_limit"
    assert result.lives_saved == pytest.approx(float(regional_data(instance).lives(units).sum()))
    assert result.lives_saved_bound is None
