"""Planner memory with waiting and patient transfers (issue 12, track mem5).

1. The settle's second LP (methods/settle.py, (B)) runs afresh in a new HiGHS instance
   (`MatrixHighsModel.renew`): the master's instance, whose simplex vectors, factor and
   presolved model keep their memory after `clearSolver`, is destroyed first. The answer must
   be the one `clearSolver` gave, to the bit; the old instance must be gone.
2. A repair LP that prices patient moves in (ColumnGeneration.repair) starts on a renewed
   master, its basis put back: the same lives to the solver's tolerance.
3. The rounding method's cheap LP (`round_branch`) no longer holds its cost vector and, when
   they equal the lives LP's, its values through the repairs.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from optimiser.deadline import Deadline
from optimiser.matrix_highs_model import MatrixHighsModel
from optimiser.multiperiod import GeneratorSpec, check_plan, generate, load_multiperiod, plan
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods import rounding
from optimiser.solver import SolveStatus


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    folder = tmp_path_factory.mktemp("mem5") / "g40x20"
    spec = GeneratorSpec(regions=40, days=20, depots=2, neighbours=5, transfers=True, seed=4)
    generate(spec, folder)
    return load_multiperiod(folder).with_settings(max_wait_days=2, patient_transfers=True)


def clear_solver(self: MatrixHighsModel) -> None:
    """`renew` as the settle did before: `clearSolver` on the same instance."""
    self.highs.clearSolver()


def small_model() -> MatrixHighsModel:
    """max x0 + 2 x1 + x2, x0 + x1 <= 4, x1 + x2 <= 3, x0 + x2 >= 1, 0 <= x <= 3."""
    a = sp.csc_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]))
    m = MatrixHighsModel(
        np.zeros(3),
        np.full(3, 3.0),
        a,
        np.array([-np.inf, -np.inf, 1.0]),
        np.array([4.0, 3.0, np.inf]),
        np.zeros(3, dtype=np.int8),
    )
    m.set_cost(np.array([1.0, 2.0, 1.0]), maximize=True)
    return m


def test_renew_keeps_the_model_and_options_and_frees_the_old_instance() -> None:
    m = small_model()
    m.set_option("simplex_strategy", 4)
    first = m.solve()
    m.set_col_bounds_arrays(np.array([1]), np.array([0.5]), np.array([0.5]))
    before = m.highs.getLp()
    old = weakref.ref(m.highs)
    m.renew()
    gc.collect()
    assert old() is None  # destroyed, not kept alive anywhere
    after = m.highs.getLp()
    for name in ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_"):
        assert np.array_equal(np.asarray(getattr(before, name)), np.asarray(getattr(after, name)))
    for name in ("start_", "index_", "value_"):
        got, want = getattr(after.a_matrix_, name), getattr(before.a_matrix_, name)
        assert np.array_equal(np.asarray(got), np.asarray(want))
    assert after.sense_ == before.sense_
    assert m.highs.getOptionValue("simplex_strategy")[1] == 4
    # afresh: the same optimum as the same model after clearSolver
    other = small_model()
    other.set_option("simplex_strategy", 4)
    assert other.solve().objective == first.objective
    other.set_col_bounds_arrays(np.array([1]), np.array([0.5]), np.array([0.5]))
    other.highs.clearSolver()
    want, got = other.solve(), m.solve()
    assert got.status is SolveStatus.OPTIMAL
    # x1 held at 0.5: x0 = 3, x2 = 3 - 0.5
    assert got.objective == want.objective == pytest.approx(3.0 + 2 * 0.5 + 2.5)
    assert got.values is not None and want.values is not None
    assert np.array_equal(got.values, want.values)
    m.set_cost(np.array([1.0, 1.0, 1.0]), maximize=False)  # the held costs still track HiGHS's
    assert np.array_equal(np.asarray(m.highs.getLp().col_cost_), np.ones(3))


def settled(
    instance: MultiPeriodInstance, renew: Any = MatrixHighsModel.renew
) -> tuple[Any, PlanEngine, list[Any]]:
    """The optimal plan settled (both LPs), `renew` standing for MatrixHighsModel.renew in
    the settle only; the master instances `renew` was called on, weakly."""
    engine = PlanEngine(instance)
    out = engine.solve([])
    assert out.status is SolveStatus.OPTIMAL and engine.colgen is not None
    seen: list[Any] = []
    real = MatrixHighsModel.renew

    def spy(self: MatrixHighsModel) -> None:
        seen.append(weakref.ref(self.highs))
        renew(self)

    MatrixHighsModel.renew = spy  # type: ignore[method-assign]
    try:
        out = engine.settle_patients(out, [], Deadline(None))
    finally:
        MatrixHighsModel.renew = real  # type: ignore[method-assign]
    return out, engine, seen


def test_settle_renews_and_gives_clear_solvers_answer(instance: MultiPeriodInstance) -> None:
    out, engine, seen = settled(instance)
    assert len(engine.model.cohort_rows) and len(seen) == 1  # (B) ran afresh, renewed
    gc.collect()
    assert seen[0]() is None  # the master's instance of (A) is gone
    assert engine.colgen is not None and engine.colgen.highs.highs is not None
    old, _, _ = settled(instance, clear_solver)
    assert out.values is not None and old.values is not None
    assert np.array_equal(out.values, old.values)
    assert out.lives == old.lives and out.objective == old.objective


def test_repair_pricing_patient_moves_starts_on_a_fresh_master(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repair LP renews the master (its basis put back) when it prices patient moves in:
    the instance before it is gone; the plan saves the lives it saved without the renewal."""
    seen: list[Any] = []
    real = MatrixHighsModel.renew

    def spy(self: MatrixHighsModel) -> None:
        seen.append(weakref.ref(self.highs))
        real(self)

    monkeypatch.setattr(MatrixHighsModel, "renew", spy)
    engine = PlanEngine(instance)
    assert engine.colgen is not None and len(engine.colgen.continuous)
    out = engine.solve([])
    assert out.status is SolveStatus.OPTIMAL and seen
    gc.collect()
    assert all(ref() is None for ref in seen)
    monkeypatch.setattr(MatrixHighsModel, "renew", lambda self: None)  # the master kept
    kept = PlanEngine(instance).solve([])
    assert kept.status is SolveStatus.OPTIMAL
    assert out.lives == pytest.approx(kept.lives, abs=1e-6)
    assert out.objective == pytest.approx(kept.objective, abs=1e-6)


def test_repair_without_patient_moves_keeps_its_master(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without patient transfers the repair prices nothing in: no renewal, the plan as before."""
    calls: list[int] = []
    monkeypatch.setattr(MatrixHighsModel, "renew", lambda self: calls.append(1))
    plain = instance.with_settings(max_wait_days=0, patient_transfers=False)
    engine = PlanEngine(plain)
    assert engine.colgen is not None and not len(engine.colgen.continuous)
    out = engine.solve([])
    assert out.status is SolveStatus.OPTIMAL and not calls


def test_master_still_solves_after_the_settle(instance: MultiPeriodInstance) -> None:
    """A solve on the renewed master (as the price of fairness makes) answers as before."""
    _, engine, _ = settled(instance)
    assert engine.colgen is not None
    cg = engine.colgen
    lp = cg.solve_lp(engine.objective([]), True, None, None)
    fresh = PlanEngine(instance)
    assert fresh.colgen is not None
    want = fresh.colgen.solve_lp(fresh.objective([]), True, None, None)
    assert lp.status is SolveStatus.OPTIMAL
    assert lp.objective == pytest.approx(want.objective, abs=1e-6)


def test_plan_with_waiting_and_transfers_replays(instance: MultiPeriodInstance) -> None:
    result = plan(instance, [], price_of_fairness=False)
    assert result.lives_saved is not None
    check = check_plan(instance, result)
    assert check.ok
    assert check.survivors == pytest.approx(result.lives_saved, abs=1e-6)


def test_cheap_lp_not_held_through_the_repairs(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the cheap LP first (its threshold lowered to this small model), the first repair
    starts with its cost vector freed, and its values freed when they equal the lives LP's
    (else kept: they are repaired too)."""
    monkeypatch.setattr(rounding, "CHEAP_FIRST_CANDIDATES", 0)
    refs: list[tuple[Any, Any]] = []  # (cost, values) of each LP, weakly
    equal: list[bool] = []  # the cheap LP's values equal the lives LP's?
    at_repair: list[tuple[bool, bool]] = []
    solve_lp, repair = ColumnGeneration.solve_lp, ColumnGeneration.repair

    def spy_lp(self: ColumnGeneration, cost: np.ndarray, *a: Any, **k: Any) -> Any:
        out = solve_lp(self, cost, *a, **k)
        assert out.values is not None
        if len(refs) == 1:
            equal.append(bool(np.array_equal(refs[0][1](), out.values)))
        refs.append((weakref.ref(cost), weakref.ref(out.values)))
        return out

    def spy_repair(self: ColumnGeneration, *a: Any, **k: Any) -> Any:
        if not at_repair:
            gc.collect()
            cost, values = refs[0]
            at_repair.append((cost() is None, (values() is None) == equal[0]))
        return repair(self, *a, **k)

    monkeypatch.setattr(ColumnGeneration, "solve_lp", spy_lp)
    monkeypatch.setattr(ColumnGeneration, "repair", spy_repair)
    engine = PlanEngine(instance)
    out = engine.solve([])
    assert out.status is SolveStatus.OPTIMAL
    assert at_repair == [(True, True)]
