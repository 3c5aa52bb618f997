"""Column management in the column generation's master (optimiser/multiperiod/colgen_manage.py,
track growth3): priced-in candidates at 0 with a clearly non-improving reduced cost leave the
master. Checked against the whole model's LP solved directly (every lane a column, no
pricing), against the same column generation without retirement, and the planner's plans
against check-plan's replay.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.constraints import to_specs
from optimiser.multiperiod import (
    GeneratorSpec,
    check_plan,
    colgen_manage,
    generate,
    load_multiperiod,
    plan,
)
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.base import CLEANUP_COST
from optimiser.multiperiod.methods.whole import round_movements
from optimiser.solver import SolverOptions, SolveStatus
from tests.test_colgen_growth import close_rel, full_lp


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    spec = GeneratorSpec(regions=14, days=24, depots=2, neighbours=4, seed=12)
    return load_multiperiod(generate(spec, tmp_path_factory.mktemp("g") / "g"))


def consistent(cg: ColumnGeneration) -> None:
    """The master's bookkeeping after deletions: every member once, positions its inverse,
    the slacks where members say, HiGHS's column count the members'."""
    real = cg.members >= 0
    assert len(np.unique(cg.members[real])) == real.sum()
    assert np.array_equal(cg.position[cg.members[real]], np.nonzero(real)[0])
    assert (cg.position >= 0).sum() == real.sum()
    assert np.array_equal(cg.slack, np.nonzero(~real)[0])
    assert cg.highs.highs.getNumCol() == cg.highs.num_cols == len(cg.members)


def small_rounds(cg: ColumnGeneration) -> ColumnGeneration:
    cg.max_entering = 40  # many rounds on a small model, so columns age and are retired
    cg.retire_columns = True
    return cg


def test_retiring_columns_keeps_both_lps_at_the_full_lps_optimum(
    instance: MultiPeriodInstance,
) -> None:
    """The planner's order (logistics-paying LP, then the lives LP warm) with retirement on:
    both optima equal the whole model's LPs; columns were retired (and some re-entered);
    the master's bookkeeping stays consistent; and the lives LP values are those of a point
    of the full LP (its objective recomputed from them)."""
    engine = PlanEngine(instance, (), SolverOptions(), method="rounding")
    p = engine.model
    lives = engine.objective([])
    cheap = lives - CLEANUP_COST * p.logistics
    cg = small_rounds(ColumnGeneration(p, engine.data, SolverOptions(), movements_first=True))
    first = cg.solve_lp(cheap, True, None)
    second = cg.solve_lp(lives, True, None, warm=True)
    assert first.status is SolveStatus.OPTIMAL and second.status is SolveStatus.OPTIMAL
    assert cg.retired.sum() > 20
    consistent(cg)
    assert close_rel(first.objective, full_lp(engine, cheap))
    assert close_rel(second.objective, full_lp(engine, lives))
    assert second.values is not None
    assert close_rel(float(lives @ second.values), full_lp(engine, lives))
    retired_now = cg.retired & (cg.position < 0)
    assert np.all(second.values[retired_now] == 0.0)
    # the same LPs without retirement: the same optima
    plain = ColumnGeneration(p, engine.data, SolverOptions(), movements_first=True)
    plain.max_entering = 40
    assert not plain.retire_columns
    assert close_rel(plain.solve_lp(cheap, True, None).objective, first.objective or 0.0)
    assert not plain.retired.any()


def test_retire_deletes_only_clearly_non_improving_zeros(instance: MultiPeriodInstance) -> None:
    """`retire` on a solved master: what leaves had value 0 and a reduced cost below
    -RETIRE_TOL; a column once retired is never retired again; columns at bounds other than
    the model's (a branch's) stay."""
    engine = PlanEngine(instance, (), SolverOptions(), method="rounding")
    p = engine.model
    lives = engine.objective([])
    cg = ColumnGeneration(p, engine.data, SolverOptions())
    cg.include(p.ship.cols)
    held = p.ship.cols[:7]
    cg.bound_columns(held, np.zeros(7), np.zeros(7))  # a branch: fixed at 0
    run = cg.highs.solve()
    cg.set_cost(lives, True)
    run = cg.highs.solve()
    assert run.values is not None
    y = cg.highs.row_duals()[: cg.rows]
    gain = lives[cg.candidates] - (cg.transposed @ y)[cg.candidates]
    before = cg.full(run.values)
    count = colgen_manage.retire(cg, gain, run.values)
    gone = np.nonzero(cg.retired)[0]
    assert count == len(gone) > 0
    g = dict(zip(cg.candidates.tolist(), gain.tolist(), strict=True))
    assert all(g[c] < -colgen_manage.RETIRE_TOL and before[c] == 0.0 for c in gone.tolist())
    assert np.all(cg.position[held] >= 0)  # bounded by a branch: kept
    consistent(cg)
    cg.include(gone)  # back in, priced or not: never retired twice
    assert colgen_manage.retire(cg, gain, np.zeros(len(cg.members))) == 0
    consistent(cg)


def test_a_floor_with_phase_one_and_retirement_reaches_the_full_lp(
    instance: MultiPeriodInstance,
) -> None:
    """A coverage floor on (phase-1 slacks in the master, re-numbered by every deletion):
    the LP under the floor is still the whole model's."""
    specs = to_specs(["min_units:units=2"])
    engine = PlanEngine(instance, specs, SolverOptions(), method="rounding")
    p = engine.model
    rows = engine.families(specs)[0].rows
    cg = small_rounds(ColumnGeneration(p, engine.data, SolverOptions(), movements_first=True))
    for family in p.fairness.values():
        cg.highs.set_rows_active(family.rows, False)
        cg.highs.set_rows_active(family.cut_rows, False)
    cg.highs.set_rows_active(rows, True)
    lives = engine.objective(specs)
    cheap = lives - CLEANUP_COST * p.logistics
    assert close_rel(cg.solve_lp(cheap, True, None, rows).objective, full_lp(engine, cheap, rows))
    assert close_rel(
        cg.solve_lp(lives, True, None, rows, warm=True).objective, full_lp(engine, lives, rows)
    )
    assert cg.retired.any()
    consistent(cg)


def test_a_repair_basis_survives_a_retirement(instance: MultiPeriodInstance) -> None:
    """A repair LP's saved basis is re-numbered when columns leave (or dropped when one of
    them is basic in it); the settle step's restart from it still gives the repair's optimum."""
    engine = PlanEngine(instance, (), SolverOptions(), method="rounding")
    p, d = engine.model, engine.data
    lives = engine.objective([])
    cg = small_rounds(ColumnGeneration(p, d, SolverOptions(), movements_first=True))
    lp = cg.solve_lp(lives, True, None)
    assert lp.values is not None
    fixed = round_movements(p, d, lp.values, np.full(d.n, -np.inf), np.full(d.n, np.inf))
    rep = cg.repair(fixed, lives, True, None)
    assert rep.status is SolveStatus.OPTIMAL and len(cg.repaired) == 1
    cheap = lives - CLEANUP_COST * p.logistics
    cg.solve_lp(cheap, True, None, warm=True)  # more rounds: more columns retired
    for _cols, _fixed, basis in cg.repaired:
        assert len(basis.col_status) == len(cg.members)
    basis = cg.repair_basis(fixed)
    if basis is not None:
        again = cg.repair(fixed, lives, True, None)
        assert again.status is SolveStatus.OPTIMAL
        assert close_rel(again.objective, rep.objective or 0.0)


@pytest.mark.parametrize("switches", [False, True])
def test_plans_with_retirement_replay_and_match_without(
    instance: MultiPeriodInstance, switches: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner with retirement on and off (colgen_manage.IN_PLANNER): optimal plans of
    the same lives within the engine's tolerance (columns retired in the first, none in the
    second), each replayed by check-plan with the lives it reports
    (waiting and patient transfers too: the patient moves and patients sent are retired)."""
    import optimiser.multiperiod.colgen as colgen

    inst = instance.with_settings(max_wait_days=2, patient_transfers=True) if switches else instance
    monkeypatch.setattr(colgen, "MAX_ENTERING", 40)
    retired: list[int] = []
    real = colgen_manage.retire

    def counted(cg: ColumnGeneration, gain: np.ndarray, values: np.ndarray) -> int:
        retired.append(real(cg, gain, values))
        return retired[-1]

    monkeypatch.setattr(colgen_manage, "retire", counted)
    monkeypatch.setattr(colgen_manage, "IN_PLANNER", True)
    on = plan(inst, [], price_of_fairness=False, method="rounding")
    assert sum(retired) > 0
    monkeypatch.setattr(colgen_manage, "IN_PLANNER", False)
    retired.clear()
    off = plan(inst, [], price_of_fairness=False, method="rounding")
    assert not retired
    assert str(on.status) == str(off.status) == "optimal"
    assert on.lives_saved is not None and off.lives_saved is not None
    assert abs(on.lives_saved - off.lives_saved) <= 1e-6 * max(1.0, off.lives_saved)
    check = check_plan(inst, on)
    assert check.ok
    assert abs(check.survivors - on.lives_saved) <= 1e-6 * max(1.0, on.lives_saved)
