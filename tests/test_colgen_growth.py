"""The column generation's faster path (issue 12, planner growth; BENCHMARKS.md "Planner
growth"): on large models the logistics-paying LP is solved first and the lives LP re-starts
from its basis by the primal simplex (`warm`); a repair LP puts the LP's basis back. Checked
against the whole model's LP solved directly (every lane a column, no pricing), and against the
lives-first order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from optimiser.constraints import to_specs
from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods import rounding
from optimiser.multiperiod.methods.base import CLEANUP_COST, clean_values
from optimiser.multiperiod.methods.whole import round_movements
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus

LP_TOL = 1e-6  # relative: two LP optima of the same model


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    spec = GeneratorSpec(regions=14, days=24, depots=2, neighbours=4, seed=12)
    return load_multiperiod(generate(spec, tmp_path_factory.mktemp("g") / "g"))


def full_lp(engine: PlanEngine, cost: np.ndarray, rows: np.ndarray | None = None) -> float:
    """The whole model's LP optimum, every column present (the floor the pricing must reach);
    fairness rows off except `rows`."""
    p = engine.model
    lower, upper = p.row_lower.copy(), p.row_upper.copy()
    fair = [f.rows for f in p.fairness.values()] + [f.cut_rows for f in p.fairness.values()]
    off = np.concatenate(fair) if fair else np.zeros(0, dtype=np.int64)
    if rows is not None:
        off = np.setdiff1d(off, rows)
    lower[off], upper[off] = -np.inf, np.inf
    model = MatrixHighsModel(
        p.col_lower, p.col_upper, p.matrix, lower, upper, np.zeros(p.shape[1], dtype=np.int8)
    )
    model.set_cost(cost, maximize=True)
    run = model.solve()
    assert run.status is SolveStatus.OPTIMAL and run.objective is not None
    return float(run.objective)


def close_rel(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= LP_TOL * max(1.0, abs(b))


def test_the_lives_lp_warm_from_the_logistics_lp_is_the_full_lps_optimum(
    instance: MultiPeriodInstance,
) -> None:
    """Logistics-paying LP by column generation, then the lives LP from its basis (primal
    simplex, `warm`): both equal the whole model's LP optima; so does a lives LP solved the
    other way round in a fresh master (the order changes the vertex, never the optimum)."""
    engine = PlanEngine(instance, (), SolverOptions(), method="rounding")
    p = engine.model
    lives = engine.objective([])
    cheap = lives - CLEANUP_COST * p.logistics
    cg = ColumnGeneration(p, engine.data, SolverOptions())
    first = cg.solve_lp(cheap, True, None)
    second = cg.solve_lp(lives, True, None, warm=True)
    assert first.status is SolveStatus.OPTIMAL and second.status is SolveStatus.OPTIMAL
    assert close_rel(first.objective, full_lp(engine, cheap))
    assert close_rel(second.objective, full_lp(engine, lives))
    assert second.values is not None and close_rel(
        float(lives @ second.values), full_lp(engine, lives)
    )
    fresh = ColumnGeneration(p, engine.data, SolverOptions())
    assert close_rel(fresh.solve_lp(lives, True, None).objective, full_lp(engine, lives))
    # warm from a basis that is not primal feasible any more (bounds moved since): still the
    # optimum (the primal simplex runs its phase 1); `warm` is about speed only
    ship = p.ship.cols[cg.position[p.ship.cols] >= 0][:5]
    cg.bound_columns(ship, np.zeros(len(ship)), np.zeros(len(ship)))
    moved = cg.solve_lp(lives, True, None, warm=True)
    cg.fix_columns(ship, None)
    reference = ColumnGeneration(p, engine.data, SolverOptions())
    reference.include(ship)
    reference.bound_columns(ship, np.zeros(len(ship)), np.zeros(len(ship)))
    assert close_rel(moved.objective, reference.solve_lp(lives, True, None).objective or 0.0)


def test_a_floor_with_phase_one_reaches_the_full_lp_warm(instance: MultiPeriodInstance) -> None:
    """With a coverage floor on (phase 1 slacks priced out first), the logistics LP then the
    warm lives LP still reach the whole model's LP optimum under the floor."""
    specs = to_specs(["min_units:units=2"])
    engine = PlanEngine(instance, specs, SolverOptions(), method="rounding")
    p = engine.model
    rows = engine.families(specs)[0].rows
    cg = ColumnGeneration(p, engine.data, SolverOptions())
    for family in p.fairness.values():
        cg.highs.set_rows_active(family.rows, False)
        cg.highs.set_rows_active(family.cut_rows, False)
    cg.highs.set_rows_active(rows, True)
    lives = engine.objective(specs)
    cheap = lives - CLEANUP_COST * p.logistics
    assert close_rel(cg.solve_lp(cheap, True, None, rows).objective, full_lp(engine, cheap, rows))
    warm = cg.solve_lp(lives, True, None, rows, warm=True)
    assert close_rel(warm.objective, full_lp(engine, lives, rows))


def test_a_repair_puts_the_lps_basis_back(instance: MultiPeriodInstance) -> None:
    """After a repair LP (every movement fixed at a whole value, then freed), the next LP of
    the same costs re-starts from the LP's own basis: optimal at once, no simplex iteration
    (without restore_basis it starts from the repair's basis and pivots back)."""
    engine = PlanEngine(instance, (), SolverOptions(), method="rounding")
    p, d = engine.model, engine.data
    lives = engine.objective([])
    cg = ColumnGeneration(p, d, SolverOptions())
    lp = cg.solve_lp(lives, True, None)
    assert lp.values is not None
    lower, upper = np.full(d.n, -np.inf), np.full(d.n, np.inf)
    fixed = round_movements(p, d, lp.values, lower, upper)
    run = cg.repair(fixed, lives, True, None)
    assert run.status is SolveStatus.OPTIMAL
    again = cg.solve_lp(lives, True, None, warm=True)
    assert again.rounds == 1 and close_rel(again.objective, lp.objective or 0.0)
    assert again.values is not None
    assert cg.highs.highs.getInfo().simplex_iteration_count == 0
    assert np.allclose(clean_values(p, again.values), clean_values(p, lp.values))


@pytest.mark.parametrize("threshold", [0, 10**9])
def test_either_order_gives_a_proved_plan_of_the_same_lives(
    instance: MultiPeriodInstance, threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rounding method with the logistics LP first (threshold 0: every model) and with the
    lives LP first (never): both proved optimal within the engine's tolerance, the same lives
    to it, the same bound (the full LP's optimum); and the order asked is the order run."""
    monkeypatch.setattr(rounding, "CHEAP_FIRST_CANDIDATES", threshold)
    calls: list[tuple[np.ndarray, bool]] = []
    real = ColumnGeneration.solve_lp

    def spy(self: ColumnGeneration, cost: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        calls.append((cost.copy(), bool(kwargs.get("warm", False))))
        return real(self, cost, *args, **kwargs)

    monkeypatch.setattr(ColumnGeneration, "solve_lp", spy)
    engine = PlanEngine(instance, (), method="rounding")
    out = engine.solve([])
    assert out.status is SolveStatus.OPTIMAL and out.lives is not None
    lives = engine.objective([])
    lives_first = threshold > 0
    assert [np.array_equal(c, lives) for c, _ in calls[:2]] == [lives_first, not lives_first]
    assert [warm for _, warm in calls[:2]] == [False, True]  # the second re-starts warm
    bound = full_lp(engine, lives)
    assert close_rel(out.bound, bound)
    assert bound - out.lives <= engine.setting.tolerance(bound)
    assert engine.meets([], out.values)


def test_the_order_switches_at_the_threshold(instance: MultiPeriodInstance) -> None:
    """The shipped threshold: this instance's priced columns are below it (the lives LP
    first, as before this change; 100 x 90 with 10-nearest transfers, 115,460, is above)."""
    engine = PlanEngine(instance, (), method="rounding")
    assert engine.colgen is not None
    assert len(engine.colgen.candidates) < rounding.CHEAP_FIRST_CANDIDATES
