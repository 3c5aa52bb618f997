"""Probe 7: a budget given by the user holds end to end.

Failed on main 5a0a2c9: `POST /v1/solve` with a 1 s budget on 1,500 regions under
threshold(tau=100) took 1.21-1.25 s in the solver process at load 4 (1.21-1.38 s of app time at
load 5). Two causes, both in the solver process:

- a guarded HiGHS run (optimiser/guarded_run.py) gave HiGHS the caller's whole limit and then
  waited that limit *plus* GRACE (0.2 s) for it to wind down: every caller's budget grew by up
  to 0.2 s. Now HiGHS is told to stop GRACE early (at most a fifth of the limit) and the caller
  waits for the limit, no longer;
- a solve request kept nothing of its budget for its answer (the engine's result, its JSON and
  the way back: 0.06-0.23 s on 1,500 regions at load 5.5): now `answer_seconds`.
"""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from synthetic import threshold_instance

from optimiser import guarded_run, highs_model
from optimiser.service import tasks
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus


def _runner() -> SimpleNamespace:
    no_callbacks = SimpleNamespace(subscribe=lambda f: None)
    return SimpleNamespace(cbMipImprovingSolution=no_callbacks, cbMipInterrupt=no_callbacks)


@pytest.mark.parametrize("wall", [0.01, 0.3, 1.0, 3.0, 600.0])
def test_a_guarded_run_waits_for_its_limit_and_no_longer(monkeypatch, wall) -> None:
    """The thread's join is given the run's limit (it was the limit + GRACE), and HiGHS's own
    limit ends before it, leaving it time to wind down."""
    joins: list[float | None] = []

    class Recorded(threading.Thread):
        def join(self, timeout: float | None = None) -> None:
            joins.append(timeout)
            super().join(timeout)

    monkeypatch.setattr(guarded_run, "threading",
                        SimpleNamespace(Thread=Recorded, Lock=threading.Lock))
    finished, _ = guarded_run.run_with_deadline(_runner(), wall, guarded_run.Incumbent(None, None),
                                                run=lambda runner: None)
    assert finished
    assert joins == [wall]
    highs = guarded_run.highs_seconds(wall)
    assert 0 < highs < wall
    assert wall - highs == pytest.approx(min(guarded_run.GRACE, guarded_run.GRACE_SHARE * wall))


def _knapsack() -> MatrixHighsModel:
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    n = 30
    weights = rng.integers(10, 60, n).astype(float)
    model = MatrixHighsModel(np.zeros(n), np.ones(n), sp.csr_matrix(weights.reshape(1, -1)),
                             np.array([-np.inf]), np.array([weights.sum() / 3]),
                             np.ones(n, dtype=np.int8), SolverOptions())
    model.set_cost(rng.integers(10, 60, n).astype(float), maximize=True)
    return model


def test_highs_is_told_to_stop_before_the_runs_limit(monkeypatch) -> None:
    """HiGHS's time_limit in a guarded run (a fresh copy: its run time is 0) was the caller's
    whole limit: its winding down came after it."""
    seen: list[float] = []

    def record(runner: Any) -> None:
        seen.append(float(runner.getOptionValue("time_limit")[1]))  # (status, value)
        runner.run()

    monkeypatch.setattr(highs_model, "_RUN_HOOK", record)
    run = _knapsack().solve(time_limit=1.0)
    assert run.status in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT)
    assert len(seen) == 1
    assert seen[0] <= 1.0 - guarded_run.GRACE + 1e-9, seen


def _request(regions: int, limit: float) -> bytes:
    request = threshold_instance(regions, seed=3)
    request["options"] = {"time_limit": limit}
    return json.dumps(request).encode()


@pytest.mark.parametrize(("regions", "limit"), [(40, 1.0), (1500, 1.0), (1500, 10.0)])
def test_a_solve_request_keeps_time_for_its_answer(monkeypatch, regions, limit) -> None:
    """The engine's deadline ends `answer_seconds` before the request's (it was the whole
    budget): the result, its JSON and the way back fit in the budget."""
    seen: dict[str, Any] = {}
    real = tasks.solve

    def record(instance, *args, **kwargs):
        seen.update(kwargs)
        return real(instance, *args, **kwargs)

    monkeypatch.setattr(tasks, "solve", record)
    answer = tasks.run_task("solve", _request(regions, limit), f"probe7-{regions}-{limit}", limit)
    assert answer["ok"], answer
    deadline = seen["deadline"]
    kept = limit - deadline.limit
    wanted = min(tasks.ANSWER_SHARE * limit, tasks.ANSWER_SECONDS_PER_REGION * regions)
    assert kept >= wanted - 1e-9
    assert kept <= tasks.ANSWER_SHARE * limit + 1e-9
    # a repeated request (read from the cache, in no time) keeps as much
    again = tasks.run_task("solve", _request(regions, limit), f"probe7-{regions}-{limit}", limit)
    assert again["ok"]
    assert limit - seen["deadline"].limit == pytest.approx(kept)


def test_answer_seconds_without_a_limit_keeps_nothing() -> None:
    assert tasks.answer_seconds(None, 5.0, 10_000) == 0.0
    assert tasks.answer_seconds(1.0, 0.0, 1500) == pytest.approx(0.225)
    assert tasks.answer_seconds(1.0, 1.0, 10) == pytest.approx(0.25)  # never past a quarter
    assert tasks.answer_seconds(60.0, 0.1, 1500) == pytest.approx(0.225)
