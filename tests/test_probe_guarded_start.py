"""A time-limited MIP never answers with a start that breaks the model's rows (track probe).

The guarded run (HighsModel._solve_guarded, optimiser/guarded_run.py) answers at its wall-clock
limit with the best solution HiGHS reported, or else with the start it was given, taken as "a
known feasible point". The planner's exact method starts from the plan that moves nothing
(Setting.zero) whatever the fairness rows: under a floor that plan is infeasible, and a run cut
off before HiGHS reported anything answered with it. `plan(..., time_limit=...)` then returned,
as status time_limit, a plan that check-plan says breaks the floor (seen in the sweep on a 6 x 20
instance under excess_per_capita_floor(share=1) at time_limit=0.4 on a loaded machine; a HiGHS
run that hangs makes it certain here).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from test_multiperiod_support import write_instance

from optimiser import guarded_run, highs_model
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.planner import plan
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

STALL = 60.0


@pytest.fixture
def hang(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every guarded MIP run hangs before HiGHS finds anything."""
    release = threading.Event()

    def hung(runner: Any) -> None:
        release.wait(STALL)

    monkeypatch.setattr(highs_model, "_RUN_HOOK", hung)
    yield release
    release.set()
    assert guarded_run.wait_for_abandoned_runs(30.0)


def test_a_plan_cut_off_at_its_limit_never_breaks_the_rule(tmp_path: Path, hang: Any) -> None:
    folder = write_instance(
        tmp_path / "floor",
        [
            {"region": "A", "capacity": 0, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [0, 2, 0, 0], "B": [0, 2, 0, 0]},
        deliveries=[(0, 4, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
    )
    inst = load_multiperiod(folder)
    rule = ["min_units:units=1"]
    result = plan(inst, rule, method="exact", time_limit=1.0, price_of_fairness=False)
    assert result.status is not SolveStatus.OPTIMAL
    if result.lives_saved is not None:
        check = check_plan(inst, result)
        assert check.ok, check.violations


def test_an_infeasible_start_is_not_taken_for_an_answer(hang: Any) -> None:
    """x0 + x1 >= 1 over binaries: the start 0 breaks the row; a run that finds nothing
    answers without a point. A feasible start is still the answer (test_budget_guard.py)."""
    model = MatrixHighsModel(
        np.zeros(2),
        np.ones(2),
        sp.csr_matrix(np.ones((1, 2))),
        np.array([1.0]),
        np.array([np.inf]),
        np.ones(2, dtype=np.int8),
        SolverOptions(),
    )
    model.set_cost(np.array([1.0, 2.0]), maximize=False)
    model.set_start(np.zeros(2))
    run = model.solve(time_limit=0.2)
    assert run.status is SolveStatus.TIME_LIMIT and run.values is None
    model.set_start(np.array([0.5, 0.5]))  # meets the row, not integral
    assert model.solve(time_limit=0.2).values is None
    model.set_start(np.array([1.0, 0.0]))
    run = model.solve(time_limit=0.2)
    assert run.values is not None and run.objective == pytest.approx(1.0)


def test_check_plan_says_a_result_without_a_plan_has_none(tmp_path: Path, hang: Any) -> None:
    """A time-limited result with no plan (every HiGHS run cut off before it found one):
    check-plan refuses it plainly, not as a plan file missing its columns."""
    from optimiser.errors import InputError

    folder = write_instance(
        tmp_path / "none",
        [{"region": "A", "capacity": 0, "los_days": 2}],
        {"A": [0, 2, 0]},
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 1)],
    )
    inst = load_multiperiod(folder)
    result = plan(inst, ["min_units:units=1"], method="exact", time_limit=0.5)
    assert result.lives_saved is None and result.status is SolveStatus.TIME_LIMIT
    with pytest.raises(InputError, match="has no plan to check"):
        check_plan(inst, result)
