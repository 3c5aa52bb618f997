"""A time-limited plan never claims infeasibility it did not prove (BENCHMARKS.md, "Budgets at
every entry point": `triage plan --time-limit 10` on 300 x 90 under threshold(tau=0) once
answered "infeasible", exit 3).

The threshold rule below is feasible (the plan of last resort meets it: nothing shipped,
lambda = 0), so any "infeasible" is a false claim; under a time limit the answer is time_limit
with the best plan found."""

from __future__ import annotations

import time
from typing import Any

import pytest

from optimiser.constraints import to_specs
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
from optimiser.solver import SolverOptions, SolverRun, SolveStatus

THRESHOLD = ("threshold:tau=0",)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    folder = generate(GeneratorSpec(regions=8, days=15, seed=33), tmp_path_factory.mktemp("g"))
    return load_multiperiod(folder)


def test_a_budget_spent_before_the_solves_is_time_limit_not_infeasible(
    instance: MultiPeriodInstance,
) -> None:
    """Loading and building took the whole budget (a loaded machine, a slow start-up): the
    lambda search solves no node at all, which proves nothing. Before the fix it answered
    'infeasible' with an explanation of a conflict that does not exist."""
    spent = Deadline(5.0, start=time.perf_counter() - 4.99)
    result = plan(instance, THRESHOLD, time_limit=5, deadline=spent, price_of_fairness=False)
    assert result.status == SolveStatus.TIME_LIMIT
    assert result.explanation is None
    # the plan of last resort meets the rule: it is the answer, checked independently
    assert result.lives_saved is not None
    check = check_plan(instance, result)
    assert check.ok and abs(check.survivors - result.lives_saved) < 1e-6
    # the engine alone, given no time at all, for each method
    specs = to_specs(THRESHOLD)
    for method in ("auto", "rounding"):
        engine = PlanEngine(instance, specs, SolverOptions(), method=method)
        out = engine.solve(specs, time_limit=0.0)
        assert out.status is SolveStatus.TIME_LIMIT, method
        assert out.values is not None and engine.meets(specs, out.values)


def test_an_infeasible_restricted_master_is_no_proof(instance: MultiPeriodInstance) -> None:
    """HiGHS saying the column generation's restricted master LP is infeasible (a run cut off,
    columns not priced in yet) proves nothing of the full model: only phase 1 of the column
    generation, finished above zero, does. Every LP of the master reports 'infeasible' here;
    before the fix the lambda search took that for proof."""
    specs = to_specs(THRESHOLD)
    engine = PlanEngine(instance, specs, SolverOptions(time_limit=5.0), method="rounding")
    assert engine.colgen is not None
    master = engine.colgen.highs
    real = master.solve

    def cut_off(time_limit: float | None = None, **kwargs: Any) -> SolverRun:
        if master.is_mip:  # polish's branch-and-bound runs for real
            return real(time_limit, **kwargs)
        return SolverRun(SolveStatus.INFEASIBLE, None, None, None, 0.01, None)

    master.solve = cut_off  # type: ignore[method-assign]
    out = engine.solve(specs)
    assert out.status is not SolveStatus.INFEASIBLE
    assert out.values is not None and engine.meets(specs, out.values)


def test_a_real_conflict_is_still_infeasible(instance: MultiPeriodInstance) -> None:
    """The control: floors the supply cannot meet (8 regions x 1,000 units, capped at what
    each can use: 228 units, 137 delivered; without transfers, since a unit passed on after a
    region's last useful day may serve the next region's floor) are proved infeasible (phase
    1 of the column generation ends above zero), with or without a time limit, and
    explained."""
    apart = instance.with_settings(transfers=False)
    for limit in (None, 30.0):
        result = plan(apart, ["min_units:units=1000"], time_limit=limit, price_of_fairness=False)
        assert result.status == SolveStatus.INFEASIBLE
        assert result.explanation is not None and "min_units" in result.explanation


def test_no_highs_run_starts_once_the_budget_is_spent(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settling the final plan's patient flow is an improvement, never a need: with the budget
    spent it starts no HiGHS run (a run asked for 0.05 s took 0.4-1.4 s on 300 x 90 before it
    first looked at the clock: BENCHMARKS.md, "Budgets at every entry point"). The plan is
    returned as it was."""
    from optimiser.solver import MatrixHighsModel

    engine = PlanEngine(instance, (), SolverOptions())
    out = engine.solve(())
    runs: list[float | None] = []
    real = MatrixHighsModel.solve

    def counted(self: MatrixHighsModel, time_limit: float | None = None, **kw: Any) -> SolverRun:
        runs.append(time_limit)
        return real(self, time_limit, **kw)

    monkeypatch.setattr(MatrixHighsModel, "solve", counted)
    assert engine.settle_patients(out, (), Deadline(0.0)) is out
    assert runs == []
    settled = engine.settle_patients(out, (), Deadline(None))
    assert runs and settled.lives is not None and out.lives is not None
    assert settled.lives >= out.lives - 1e-6
