"""Waiting and patient transfers at scale, 2 (issue 12, track waitx2): the planner's column
generation prices the unit movements alone until none improves, then every candidate (patient
moves and patients sent, which price in only in pairs); the settle's first LP restarts from the
optimal basis of the repair LP that made the plan. Neither may change an optimum: the LP is
checked against the whole model's LP solved directly, the settled plan against one settled
without the repair's basis and against check-plan's replay."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from optimiser.deadline import Deadline
from optimiser.multiperiod import GeneratorSpec, check_plan, generate, load_multiperiod, plan
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    folder = tmp_path_factory.mktemp("waitx2") / "g60x30"
    spec = GeneratorSpec(regions=60, days=30, depots=2, neighbours=6, transfers=True, seed=3)
    generate(spec, folder)
    return load_multiperiod(folder).with_settings(max_wait_days=2, patient_transfers=True)


def whole_lp(engine: PlanEngine, without_patient_moves: bool = False) -> float:
    """The LP optimum of the whole model (every column, integrality relaxed), by HiGHS
    directly: no column generation."""
    p = engine.model
    upper = p.col_upper.copy()
    if without_patient_moves:
        upper[p.ptransfer.cols] = 0.0
    model = MatrixHighsModel(
        p.col_lower,
        upper,
        p.matrix,
        p.row_lower,
        p.row_upper,
        np.zeros(p.shape[1], dtype=np.int8),
        SolverOptions(),
    )
    model.set_cost(engine.objective(()), True)
    run = model.solve()
    assert run.status is SolveStatus.OPTIMAL and run.objective is not None
    return run.objective


def test_movements_first_reaches_the_whole_models_lp(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = PlanEngine(instance)
    p, cost = engine.model, engine.objective(())
    best = whole_lp(engine)
    # patient moves matter here: stopping after the movements' stage would fall short
    assert best > whole_lp(engine, without_patient_moves=True) + 0.5
    cg = ColumnGeneration(p, engine.data, SolverOptions(), movements_first=True)
    continuous = np.zeros(p.shape[1], dtype=bool)
    continuous[np.concatenate([p.ptransfer.cols, p.send.cols])] = True
    entered: list[int] = []  # continuous columns in each round's entering set
    include = cg.include

    def counted(cols: np.ndarray) -> None:
        entered.append(int(continuous[cols].sum()))
        include(cols)

    monkeypatch.setattr(cg, "include", counted)
    lp = cg.solve_lp(cost, True, None)
    assert lp.status is SolveStatus.OPTIMAL and lp.objective is not None
    assert lp.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert lp.values is not None
    assert float(cost @ lp.values) == pytest.approx(best, rel=1e-9, abs=1e-6)
    # the movements alone first (rounds without a continuous column), then the rest
    first = next(i for i, n in enumerate(entered) if n)
    assert first >= 1 and not any(entered[:first])
    assert int((cg.position[p.ptransfer.cols] >= 0).sum()) > 0
    # a second LP (only the costs changed, warm) starts the stages again and agrees too
    again = cg.solve_lp(cost, True, None, warm=True)
    assert again.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    # and the engine's own (the planner's) ColumnGeneration is built staged
    assert engine.colgen is not None and not engine.colgen.first_stage.all()
    # the unstaged one (the stochastic decomposition's) prices everything from the start
    plain = ColumnGeneration(p, engine.data, SolverOptions())
    assert plain.first_stage.all()
    assert plain.solve_lp(cost, True, None).objective == pytest.approx(best, rel=1e-9, abs=1e-6)


def settled(instance: MultiPeriodInstance, reuse: bool) -> tuple[Any, list[int], bool]:
    """A plan solved and settled; the settle's (A) from the repair's basis or not."""
    engine = PlanEngine(instance)
    cg = engine.colgen
    assert cg is not None
    out = engine.solve([])
    assert out.status is SolveStatus.OPTIMAL and out.values is not None
    found = cg.repair_basis(out.values) is not None
    if not reuse:
        cg.repair_basis = lambda values: None  # type: ignore[method-assign]
    iterations: list[int] = []
    solve = cg.highs.solve

    def counted(*args: Any, **kwargs: Any) -> Any:
        run = solve(*args, **kwargs)
        iterations.append(int(cg.highs.highs.getInfo().simplex_iteration_count))
        return run

    cg.highs.solve = counted  # type: ignore[method-assign]
    return engine.settle_patients(out, [], Deadline(None)), iterations, found


def test_the_settle_from_the_repair_basis_is_the_settle_without_it(
    instance: MultiPeriodInstance,
) -> None:
    with_basis, its, found = settled(instance, reuse=True)
    without, its_cold, _ = settled(instance, reuse=False)
    assert found  # the plan is one a repair LP made: its basis was kept
    assert its[0] <= 5 < its_cold[0]  # (A) re-solved in a few pivots, not from the LP's basis
    assert with_basis.lives == pytest.approx(without.lives, abs=1e-6)
    assert with_basis.objective == pytest.approx(without.objective, abs=1e-6)
    # (B)'s optimum (patient-days waited, turned-away patients counted to their last day) is
    # unique in value whichever optimal basis of (A) it starts from
    engine = PlanEngine(instance)
    p, d = engine.model, engine.data
    early = np.zeros(p.shape[1])
    early[p.admit.cols] = d.group_last[p.admit.group] + 1 - p.admit.day
    early[p.send.cols] = d.group_last[p.send.group] + 1 - p.send.day
    assert with_basis.values is not None and without.values is not None
    assert float(early @ with_basis.values) == pytest.approx(
        float(early @ without.values), rel=1e-9, abs=1e-6
    )


def test_plan_replays_with_the_lives_of_the_whole_lp_bound(instance: MultiPeriodInstance) -> None:
    result = plan(instance, price_of_fairness=False, method="rounding")
    assert result.status is SolveStatus.OPTIMAL and result.lives_saved is not None
    # proved within the planner's gap tolerance of the whole model's LP bound
    engine = PlanEngine(instance)
    assert np.array_equal(engine.objective(()), engine.model.lives)  # the objective is L
    bound = whole_lp(engine)
    assert result.lives_saved <= bound + 1e-6
    assert result.lives_saved == pytest.approx(bound, abs=0.005)
    replay = check_plan(instance, result)
    assert replay.ok, replay.violations[:3]
    assert replay.survivors == pytest.approx(result.lives_saved, abs=1e-5)
