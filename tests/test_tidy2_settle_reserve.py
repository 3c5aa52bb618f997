"""Under a time limit, settling the patient flow has its own share of the budget (planner.py,
`Reserves`), and the whole plan still ends within the budget.

Before: the finish reserve was said to cover "the patient flow", but the settling
(methods/settle.py) was handed the solves' own deadline. A time-limited solve runs to that
deadline, so the settling's LPs never started and the solver-free repair
(methods/idle_repair.py) settled the plan instead, in the movement cleanup's reserve.

The budget here is counted on a clock the test moves (no wall seconds): every solve runs to
the solves' deadline, as a time-limited one does; the settling spends its whole share.
"""

from __future__ import annotations

from typing import Any

import pytest

from optimiser.deadline import Deadline
from optimiser.multiperiod import (
    GeneratorSpec,
    MultiPeriodInstance,
    PlanEngine,
    check_plan,
    generate,
    load_multiperiod,
    plan,
)
from optimiser.multiperiod import planner as planner_module
from optimiser.multiperiod.planner import Reserves
from optimiser.solver import MatrixHighsModel, SolverRun

LIMIT = 100.0  # seconds of the test's clock


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    spec = GeneratorSpec(regions=8, days=15, seed=33, max_wait_days=1, patient_transfers=True)
    return load_multiperiod(generate(spec, tmp_path_factory.mktemp("g") / "g8x15"))


def staged_plan(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, dict[str, Any]]:
    """plan() under a LIMIT-second budget on the test's clock; what each stage was given."""
    clock = Clock()
    seen: dict[str, Any] = {"highs_runs": 0}
    real_run = MatrixHighsModel.solve

    def counted(self: MatrixHighsModel, *args: Any, **kw: Any) -> SolverRun:
        seen["highs_runs"] += 1
        return real_run(self, *args, **kw)

    real_solve = PlanEngine.solve

    def solve(self: PlanEngine, *args: Any, **kw: Any) -> Any:
        out = real_solve(self, *args, **kw)
        end = self.deadline.end if self.deadline is not None else None
        assert end is not None
        clock.now = max(clock.now, end)  # a time-limited solve runs to its end
        seen["solves_end"] = end
        return out

    real_settle = PlanEngine.settle_patients

    def settle(self: PlanEngine, out: Any, active: Any, deadline: Deadline) -> Any:
        reserves = Reserves.sized(self.build_seconds, LIMIT)
        seen.update(reserves=reserves, settle_deadline=deadline, settle_left=deadline.left())
        before = seen["highs_runs"]
        got = real_settle(self, out, active, deadline)
        seen["settle_highs_runs"] = seen["highs_runs"] - before
        seen["settled"] = got is not out
        assert deadline.end is not None
        clock.now = deadline.end + reserves.repair  # its LPs to their end, then the repair
        return got

    real_clean = planner_module.clean_movements

    def clean(setting: Any, main: Any, rows: Any, deadline: Deadline) -> Any:
        seen.update(cleanup_deadline=deadline, cleanup_left=deadline.left())
        return real_clean(setting, main, rows, deadline)

    monkeypatch.setattr(MatrixHighsModel, "solve", counted)
    monkeypatch.setattr(PlanEngine, "solve", solve)
    monkeypatch.setattr(PlanEngine, "settle_patients", settle)
    monkeypatch.setattr(planner_module, "clean_movements", clean)
    budget = Deadline(LIMIT, start=0.0, clock=clock)
    result = plan(instance, deadline=budget, price_of_fairness=False)
    seen["budget"] = budget
    return result, seen


def test_the_settling_runs_its_lps_in_its_own_share(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The solves spent their whole share: the settling still has its reserve (before the fix
    it was handed the solves' spent deadline and started no LP), runs its LPs, and leaves the
    cleanup its whole reserve even when it takes all of its own, repair included."""
    result, seen = staged_plan(instance, monkeypatch)
    reserves: Reserves = seen["reserves"]
    assert reserves.settle >= planner_module.SETTLE_SHARE_OF_BUDGET * LIMIT
    assert seen["settle_left"] == pytest.approx(reserves.settle)
    assert seen["settle_highs_runs"] >= 1, "the settling started no LP"
    # the cleanup starts with its reserve whole, after the settling and the repair took theirs
    assert seen["cleanup_left"] == pytest.approx(reserves.cleanup)
    check = check_plan(instance, result)
    assert [v["message"] for v in check.violations] == []
    assert check.survivors == pytest.approx(result.lives_saved, abs=1e-6)


def test_every_stage_ends_within_the_budget(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """solves <= settling (LPs) <= + repair <= cleanup <= + extraction = the budget's end."""
    _, seen = staged_plan(instance, monkeypatch)
    reserves: Reserves = seen["reserves"]
    budget: Deadline = seen["budget"]
    settle_end = seen["settle_deadline"].end
    cleanup_end = seen["cleanup_deadline"].end
    assert budget.end == LIMIT
    assert seen["solves_end"] == pytest.approx(settle_end - reserves.settle)
    assert settle_end == pytest.approx(cleanup_end - reserves.cleanup - reserves.repair)
    assert cleanup_end == pytest.approx(LIMIT - reserves.extract)
    assert min(reserves.settle, reserves.repair, reserves.cleanup, reserves.extract) > 0
