"""The threshold rule over the horizon under a time limit (issue 12): the bound reported is the
best one proven, and a plan that meets the rule and ships units is found where rounding at the
LP's own lambda misses the rule.

Measured before (BENCHMARKS.md, "The threshold rule over the horizon"): 300 x 90 with
`threshold:tau=0` ended at its time limit with the plan of last resort (nothing shipped) and
the trivial bound "every patient admitted", although the root LP by column generation, a valid
bound, had finished. The budgets here are not seconds but events (a deadline that runs out
once a given HiGHS run is over), so the same thing happens whatever the machine's load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
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
from optimiser.multiperiod import engine as engine_module
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.solver import SolverOptions, SolveStatus

THRESHOLD = ("threshold:tau=0",)
LONG = 3_600.0  # a budget no run here comes near: it ends by the script, never by the clock


class Script:
    """Deadlines that expire when the test says so (`spend`), not by the clock: the engine's
    solves get one of these instead of a wall-clock Deadline."""

    def __init__(self) -> None:
        self.spent = False
        script = self

        class Scripted(Deadline):
            def left(self) -> float | None:
                if script.spent:
                    return -1.0
                return super().left()

        self.deadline_class = Scripted

    def spend(self) -> None:
        self.spent = True


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Iterator[Script]:
    s = Script()
    monkeypatch.setattr(engine_module, "Deadline", s.deadline_class)
    yield s


def after_runs(
    monkeypatch: pytest.MonkeyPatch, name: str, count: int, then: Callable[[], None]
) -> None:
    """Call `then` once the column generation's `name` (solve_lp, repair) has run `count`
    times."""
    real = getattr(ColumnGeneration, name)
    runs = [0]

    def counted(self: ColumnGeneration, *args: Any, **kwargs: Any) -> Any:
        out = real(self, *args, **kwargs)
        runs[0] += 1
        if runs[0] == count:
            then()
        return out

    monkeypatch.setattr(ColumnGeneration, name, counted)


def generated(
    tmp_path_factory: pytest.TempPathFactory, regions: int, days: int, seed: int
) -> MultiPeriodInstance:
    spec = GeneratorSpec(
        regions=regions, days=days, depots=3, neighbours=10, transfers=True, seed=seed
    )
    return load_multiperiod(generate(spec, tmp_path_factory.mktemp(f"g{regions}x{days}")))


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    """70 regions x 90 days, every region a member at tau = 0 (69 with w_r > 0): rounding the
    lowest lambda leaf's LP at its own lambda leaves members a unit short of the rule, with
    every depot unit shipped (the repair LP is infeasible)."""
    return generated(tmp_path_factory, 70, 90, 3)


def holds(engine: PlanEngine, specs: Any, values: Any) -> bool:
    """Every row of the active families holds at the plan's own values (lambda and the stop
    binaries as the plan sets them; `PlanEngine.meets` judges the movements alone, each
    family's own columns at the values the movements imply)."""
    p = engine.model
    rows = np.concatenate([f.rows for f in engine.families(specs)])
    got = p.matrix[rows] @ values
    return bool(np.all(got >= p.row_lower[rows] - 1e-7) and np.all(got <= p.row_upper[rows] + 1e-7))


def everyone_admitted(engine: PlanEngine) -> float:
    """The trivial bound: every patient admitted (methods/fallback.py)."""
    d = engine.data
    return float((d.gain[d.group_region] * d.group_size).sum())


def test_the_root_lp_is_the_bound_when_the_search_is_cut_off(
    instance: MultiPeriodInstance, script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget runs out once the root LP (column generation) has finished: the lambda
    search leaves its first leaf unsolved and no plan is found, so the plan of last resort is
    returned, but against the root LP's bound (a valid upper bound on every plan), not the
    trivial "every patient admitted". Before: the leaf dived into counted as unbounded, the
    bound was lost, and the gap reported was the trivial one's."""
    specs = to_specs(THRESHOLD)
    engine = PlanEngine(instance, specs, SolverOptions(), method="rounding")
    lps: list[float | None] = []
    real = ColumnGeneration.solve_lp

    def first_lp(self: ColumnGeneration, *args: Any, **kwargs: Any) -> Any:
        out = real(self, *args, **kwargs)
        lps.append(out.objective)
        script.spend()
        return out

    monkeypatch.setattr(ColumnGeneration, "solve_lp", first_lp)
    out = engine.solve(specs, time_limit=LONG)
    assert out.status is SolveStatus.TIME_LIMIT
    assert len(lps) == 1 and lps[0] is not None
    root = lps[0]
    assert root is not None
    assert out.bound == pytest.approx(root, abs=1e-6)
    assert root < everyone_admitted(engine) - 1.0  # a better bound than the trivial one
    assert out.values is not None and engine.meets(specs, out.values)
    assert out.lives is not None
    assert out.gap == pytest.approx((root - out.lives) / root, rel=1e-9)
    assert out.lives_bound == pytest.approx(root, abs=1e-6)


def test_plan_reports_the_root_bound_in_its_result_and_price_row(
    instance: MultiPeriodInstance, script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `plan`: the result's objective_bound and gap, and the price row's interval
    (lives given up alone at most L*'s bound - the plan's lives, at least L*'s plan - the
    root bound), come from the root LP."""
    lps: list[float | None] = []
    real = ColumnGeneration.solve_lp

    def first_lp(self: ColumnGeneration, *args: Any, **kwargs: Any) -> Any:
        out = real(self, *args, **kwargs)
        lps.append(out.objective)
        script.spend()
        return out

    monkeypatch.setattr(ColumnGeneration, "solve_lp", first_lp)
    result = plan(instance, THRESHOLD, time_limit=LONG, method="rounding")
    assert result.status == SolveStatus.TIME_LIMIT
    root = lps[0]
    assert root is not None
    assert result.objective_bound == pytest.approx(root, abs=1e-6)
    assert result.lives_saved is not None and result.solver is not None
    assert result.solver.gap == pytest.approx((root - result.lives_saved) / root, rel=1e-6)
    row = result.price_of_fairness.iloc[0]
    assert not row["exact"]
    assert row["lives_lost_alone_low"] is None or row["lives_lost_alone_low"] >= 0.0


def test_a_time_limited_threshold_plan_meets_the_rule_and_ships_units(
    instance: MultiPeriodInstance,
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The budget runs out once the first rounded plan of the lowest lambda leaf is repaired
    (before its second LP): rounding at the LP's own lambda misses the rule here (the repair
    LP infeasible: before, no plan, and the plan of last resort that ships nothing); a lambda
    a little lower gives a whole plan that meets it. The plan ships units, saves more lives
    than the plan of last resort, and check-plan's independent simulator replays it: every
    rule met, the same survivors."""
    specs = to_specs(THRESHOLD)
    engine = PlanEngine(instance, specs, SolverOptions(), method="rounding")
    after_runs(monkeypatch, "repair", 1, script.spend)
    out = engine.solve(specs, time_limit=LONG)
    assert out.status is SolveStatus.TIME_LIMIT
    assert out.values is not None and out.lives is not None
    fallback = engine.lives_of(engine.fallback_values())
    assert out.lives > fallback + 1.0
    p = engine.model
    assert out.values[p.ship.cols].sum() > 0  # units shipped
    assert holds(engine, specs, out.values)
    assert engine.meets(specs, out.values)
    assert out.bound is not None and out.lives <= out.bound + 1e-6


def test_the_time_limited_plan_passes_check_plan(
    instance: MultiPeriodInstance, script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same budget through `plan`: the result's plan replayed by check-plan (no model
    code) meets the threshold rule and saves the lives the planner reports."""
    after_runs(monkeypatch, "repair", 1, script.spend)
    result = plan(instance, THRESHOLD, time_limit=LONG, method="rounding", price_of_fairness=False)
    assert result.status == SolveStatus.TIME_LIMIT
    assert result.lives_saved is not None
    moves = result.manifest[result.manifest["kind"].isin(["ship", "transfer"])]
    assert float(moves["units"].astype(float).sum()) > 0
    check = check_plan(instance, result)
    assert check.ok, check
    assert abs(check.survivors - result.lives_saved) < 1e-6
    assert result.objective_bound is not None
    assert result.lives_saved <= result.objective_bound + 1e-6
