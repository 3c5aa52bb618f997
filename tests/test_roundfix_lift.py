"""The lift (methods/lift.py, track roundfix): a whole plan short of the LP bound because its
rounding put units in the wrong places is lifted by whole-unit moves the repair LP's duals
point to, each step checked by the repair LP, before any branch-and-bound.

Roundings are spoiled on purpose (units taken off the LP's rounding: depot stock left unused,
transfers not made), the lifted plans are checked against HiGHS's exact method on the whole
model and against the model's own rows, and the planner's plan is replayed by check-plan with
every branch-and-bound step refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimiser.multiperiod import GeneratorSpec, check_plan, generate, load_multiperiod, plan
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.engine import ABS_GAP, PlanEngine
from optimiser.multiperiod.methods import lift as lift_module
from optimiser.multiperiod.methods import rounding as rounding_module
from optimiser.multiperiod.methods.whole import round_movements
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

OPTIONS = SolverOptions(time_limit=None, mip_rel_gap=0.0, mip_abs_gap=ABS_GAP)


def spoil(p: Any, fixed: np.ndarray, every: int = 3) -> np.ndarray:
    """Units taken off a whole plan: one batch off every `every`-th shipment lane in use, one
    unit off every `every`-th transfer in use (always feasible: less is sent)."""
    out = fixed.copy()
    for cols in (p.ship.cols, p.transfer.cols):
        used = cols[out[cols] > 0]
        out[used[::every]] -= 1
    if len(p.uses):
        out[p.uses] = (out[p.ship.cols] > 0).astype(float)
    return out


def feasible(p: Any, x: np.ndarray) -> bool:
    """The model's own rows and bounds, and whole movements (independent of the repair)."""
    activity = p.matrix @ x
    tol = 1e-6
    whole = p.integrality == 1
    return bool(
        np.all(activity >= p.row_lower - tol)
        and np.all(activity <= p.row_upper + tol)
        and np.all(x >= p.col_lower - tol)
        and np.all(x <= p.col_upper + tol)
        and np.all(np.abs(x[whole] - np.rint(x[whole])) <= 1e-9)
    )


@pytest.mark.parametrize(
    ("regions", "days", "depots", "seed"), [(20, 20, 2, 1), (20, 20, 2, 2), (30, 25, 1, 6)]
)
def test_lift_recovers_the_lives_a_spoiled_rounding_lost(
    tmp_path: Path, regions: int, days: int, depots: int, seed: int
) -> None:
    spec = GeneratorSpec(regions=regions, days=days, depots=depots, seed=seed)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    engine = PlanEngine(inst, [], OPTIONS, method="rounding")
    cg, p = engine.colgen, engine.model
    assert cg is not None
    cost = engine.objective([])
    lp = cg.solve_lp(cost, True, None)
    assert lp.status is SolveStatus.OPTIMAL and lp.values is not None and lp.objective
    bad = spoil(p, round_movements(p, p.data, lp.values))
    start = cg.repair(bad, cost, True, None, duals=True)
    assert start.values is not None and start.duals is not None
    short = float(cost @ start.values)
    assert lp.objective - short > 1.0  # the spoiled plan is more than a life short
    # the bound apart from the column generation: the whole model's LP, in one piece
    whole = MatrixHighsModel(
        p.col_lower, p.col_upper, p.matrix, p.row_lower, p.row_upper, np.zeros(p.shape[1], np.int8)
    )
    whole.set_cost(cost, True)
    relaxed = whole.solve()
    assert relaxed.status is SolveStatus.OPTIMAL and relaxed.objective is not None
    assert relaxed.objective == pytest.approx(lp.objective, abs=1e-6)

    def repair(values: np.ndarray) -> Any:
        return cg.repair(values, cost, True, None, duals=True)

    out = lift_module.lift(
        p,
        cost,
        start.values,
        start.duals,
        repair,
        lambda objective: relaxed.objective - objective <= ABS_GAP,
        lambda: False,
    )
    # a whole plan at the LP bound: the optimum (these models have no integrality gap)
    assert out is not None and out.steps <= lift_module.MAX_STEPS
    assert relaxed.objective - out.objective <= ABS_GAP
    assert out.objective <= relaxed.objective + 1e-6
    assert float(cost @ out.values) == pytest.approx(out.objective)
    assert feasible(p, out.values)


def test_lift_never_returns_a_worse_or_infeasible_plan(tmp_path: Path) -> None:
    """With one step allowed, whatever it finds is kept only when the repair LP is optimal and
    saves more lives; with none, no plan."""
    spec = GeneratorSpec(regions=20, days=20, depots=2, seed=1)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    engine = PlanEngine(inst, [], OPTIONS, method="rounding")
    cg, p = engine.colgen, engine.model
    assert cg is not None
    cost = engine.objective([])
    lp = cg.solve_lp(cost, True, None)
    assert lp.values is not None
    start = cg.repair(spoil(p, round_movements(p, p.data, lp.values)), cost, True, None, duals=True)
    assert start.values is not None and start.duals is not None
    seen: list[float] = []

    def repair(values: np.ndarray) -> Any:
        run = cg.repair(values, cost, True, None, duals=True)
        seen.append(float(cost @ run.values) if run.values is not None else -np.inf)
        return run

    never = lift_module.lift(
        p, cost, start.values, start.duals, repair, lambda o: False, lambda: True
    )
    assert never is None and not seen  # out of time: no repair LP
    out = lift_module.lift(
        p, cost, start.values, start.duals, repair, lambda o: False, lambda: len(seen) >= 3
    )
    assert out is not None and len(seen) == 3
    assert out.objective == max(seen) > float(cost @ start.values)
    assert feasible(p, out.values)


def refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("branch-and-bound ran: the lift did not close the gap")


def test_the_planner_lifts_a_spoiled_rounding_to_the_optimum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every rounding of the planner spoiled; no branch-and-bound allowed: the plan is still
    optimal, at the exact method's lives, and check-plan replays it to those lives."""
    inst = load_multiperiod(
        generate(GeneratorSpec(regions=20, days=20, depots=2, seed=1), tmp_path)
    )
    inner = rounding_module.round_movements
    spoiled: list[float] = []

    def spoiled_rounding(program: Any, data: Any, x: np.ndarray, *args: Any) -> np.ndarray:
        fixed = inner(program, data, x, *args)
        spoiled.append(float(fixed[program.movements].sum()))
        return spoil(program, fixed)

    exact = PlanEngine(inst, [], OPTIONS, method="exact").solve([], tie_break=False)
    assert exact.status is SolveStatus.OPTIMAL and exact.objective is not None
    monkeypatch.setattr(rounding_module, "LIFT", True)  # off by default (rounding.LIFT)
    monkeypatch.setattr(rounding_module, "round_movements", spoiled_rounding)
    for name in ("neighbourhood", "transfer_neighbourhood", "polish"):
        monkeypatch.setattr(rounding_module.polish, name, refuse)
    result = plan(inst, price_of_fairness=False, method="rounding")
    assert spoiled  # the rounding ran, spoiled
    assert str(result.status) == "optimal" and result.lives_saved is not None
    assert result.lives_saved == pytest.approx(exact.objective, abs=ABS_GAP)
    replay = check_plan(inst, result)
    assert replay.ok, replay.violations[:3]
    assert replay.survivors == pytest.approx(result.lives_saved, abs=1e-5)
    # without the lift the same spoiled rounding needs the branch-and-bound refused above
    monkeypatch.setattr(rounding_module, "LIFT", False)
    with pytest.raises(AssertionError, match="branch-and-bound ran"):
        plan(inst, price_of_fairness=False, method="rounding")


def test_a_crossover_start_reaches_the_same_lp_optimum(tmp_path: Path) -> None:
    """`start_from` (the first LP from a basis crossed over from a whole plan) changes the path,
    never the LP optimum: the same objective as from nothing, by a fresh master each."""
    spec = GeneratorSpec(regions=30, days=25, depots=1, seed=3)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    engine = PlanEngine(inst, [], OPTIONS, method="rounding")
    cg, p = engine.colgen, engine.model
    assert cg is not None
    cost = engine.objective([])
    lp = cg.solve_lp(cost, True, None)
    assert lp.values is not None and lp.objective is not None
    whole = cg.repair(round_movements(p, p.data, lp.values), cost, True, None)
    assert whole.values is not None
    fresh = ColumnGeneration(p, p.data, OPTIONS, movements_first=True)
    fresh.include(p.movements[whole.values[p.movements] > 0])
    fresh.start_from(whole.values)
    crossed = fresh.solve_lp(cost, True, None)
    assert crossed.status is SolveStatus.OPTIMAL and crossed.objective is not None
    assert crossed.objective == pytest.approx(lp.objective, abs=1e-6)
    assert fresh.start is None  # used once


def test_the_lift_closes_a_real_rounding_gap_without_a_mip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/test_cliff2_transfer_polish.py's case, not spoiled: 60 regions x 30 days, waiting
    1 day; its LP's vertex rounds 0.179 lives short of the bound (3,653.2394 of 3,653.4186), which
    took a neighbourhood MIP and the transfer step. Every MIP refused, the lift reaches the bound;
    check-plan replays the plan to those lives."""
    spec = GeneratorSpec(regions=60, days=30, depots=1, seed=0, max_wait_days=1)
    inst = load_multiperiod(generate(spec, tmp_path / "g"))
    lifted: list[tuple[float, float]] = []
    inner = lift_module.lift

    def counted(p: Any, cost: np.ndarray, start: np.ndarray, *args: Any) -> Any:
        out = inner(p, cost, start, *args)
        lifted.append((float(cost @ start), -np.inf if out is None else out.objective))
        return out

    monkeypatch.setattr(rounding_module, "LIFT", True)  # off by default (rounding.LIFT)
    monkeypatch.setattr(rounding_module, "lift", counted)
    for name in ("neighbourhood", "transfer_neighbourhood", "polish"):
        monkeypatch.setattr(rounding_module.polish, name, refuse)
    result = plan(inst, price_of_fairness=False)
    assert lifted and lifted[0][0] < 3653.4185505 - 0.1  # the rounding was short
    assert lifted[0][1] == pytest.approx(3653.4185505, abs=ABS_GAP)
    assert str(result.status) == "optimal" and result.lives_saved is not None
    assert result.lives_saved == pytest.approx(3653.4185505, abs=ABS_GAP)
    replay = check_plan(inst, result)
    assert replay.ok, replay.violations[:3]
    assert replay.survivors == pytest.approx(result.lives_saved, abs=1e-5)
