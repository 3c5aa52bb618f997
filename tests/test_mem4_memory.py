"""Planner memory with waiting and patient transfers (issue 12, track mem4): the movement
cleanup reads the model's rows without copying them (`meets`, `_cleanup_lp`), and `plan` frees
the engine's HiGHS models once no solve follows (`PlanEngine.release_solvers`). Neither may
change a plan: the cleanup's products and LP are compared, to the bit, with the row-copying
construction they replace, and whole plans with the release switched off and with the old
cleanup, then replayed by check-plan."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from optimiser.constraints import parse_constraint
from optimiser.multiperiod import GeneratorSpec, check_plan, generate, load_multiperiod, plan
from optimiser.multiperiod import planner as planner_module
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods import cleanup
from optimiser.multiperiod.methods.base import clean_values

CLEANUP_LP = cleanup._cleanup_lp  # the current one (a test patches the module's)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    folder = tmp_path_factory.mktemp("mem4") / "g40x20"
    spec = GeneratorSpec(regions=40, days=20, depots=2, neighbours=5, transfers=True, seed=4)
    generate(spec, folder)
    return load_multiperiod(folder).with_settings(max_wait_days=2, patient_transfers=True)


@pytest.fixture(scope="module")
def solved(instance: MultiPeriodInstance) -> tuple[PlanEngine, np.ndarray]:
    """An engine (with a fairness family, so some rows are left out of the cleanup) and its
    optimal plan's clean values."""
    engine = PlanEngine(instance, [parse_constraint("coverage_floor:level=0.5")])
    out = engine.solve([])
    assert out.values is not None
    return engine, clean_values(engine.model, out.values)


def old_meets(
    model: Any, rows: np.ndarray, values: np.ndarray, tol: float = cleanup.ROW_TOL
) -> bool:
    """`meets` as it was: the rows copied out of the matrix first."""
    got = model.matrix[rows] @ values
    return bool(
        np.all(got >= model.row_lower[rows] - tol)
        and np.all(got <= model.row_upper[rows] + tol)
        and np.all(values >= model.col_lower - tol)
        and np.all(values <= model.col_upper + tol)
    )


def old_cleanup_lp(p: Any, rows: np.ndarray, x0: np.ndarray) -> cleanup._Lp:
    """`_cleanup_lp` as it was: the considered rows copied out of the matrix first (then the
    rest as now). Run as the current function on a model cut to those rows, all of them
    considered: there `(A @ x)[rows]` is `A[rows] @ x` and the row selection a copy."""
    cut = replace(
        p,
        matrix=sp.csc_matrix(p.matrix[rows]),
        program=replace(p.program, row_lower=p.row_lower[rows], row_upper=p.row_upper[rows]),
    )
    return CLEANUP_LP(cut, np.arange(len(rows)), x0)


def rows_of(engine: PlanEngine, active: bool) -> np.ndarray:
    family = next(iter(engine.model.fairness.values()))
    return cleanup.considered_rows(engine.model, family.rows if active else np.zeros(0, int))


@pytest.mark.parametrize("active", [False, True])
def test_row_products_are_the_row_copys_to_the_bit(
    solved: tuple[PlanEngine, np.ndarray], active: bool
) -> None:
    engine, x = solved
    p = engine.model
    rows = rows_of(engine, active)
    assert 0 < len(rows) <= p.shape[0]
    assert (len(rows) < p.shape[0]) is not active  # the family's rows, when off, are left out
    assert np.array_equal((p.matrix @ x)[rows], p.matrix[rows] @ x)
    assert cleanup.meets(p, rows, x) and old_meets(p, rows, x)
    bent = x.copy()
    bent[p.hand.ravel()[:5]] += 3.0  # units on hand out of balance: a row fails
    assert not cleanup.meets(p, rows, bent) and not old_meets(p, rows, bent)


@pytest.mark.parametrize("active", [False, True])
def test_cleanup_lp_is_the_row_copys(solved: tuple[PlanEngine, np.ndarray], active: bool) -> None:
    engine, x = solved
    p = engine.model
    rows = rows_of(engine, active)
    new = cleanup._cleanup_lp(p, rows, x)
    # the old construction: every considered row copied out of the matrix, then the columns
    free = np.concatenate([p.ship.cols, p.transfer.cols, p.stock.ravel(), p.hand.ravel()])
    held = x.copy()
    held[free] = 0.0
    block = p.matrix[rows]
    sub = sp.csr_matrix(block[:, free])
    sub.eliminate_zeros()
    assert np.array_equal((p.matrix @ held)[rows], block @ held)
    got = sp.csr_matrix(p.matrix[:, free])[rows]
    got.eliminate_zeros()
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(got, name), getattr(sub, name)), name
    old = old_cleanup_lp(p, rows, x)
    for name in ("row_lower", "row_upper", "lower", "upper", "cost", "start"):
        assert np.array_equal(getattr(new, name), getattr(old, name)), name
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(new.matrix, name), getattr(old.matrix, name)), name


def test_meets_copies_no_rows(solved: tuple[PlanEngine, np.ndarray]) -> None:
    """The row check allocates vectors, not a copy of the matrix's rows (12 bytes an entry:
    on 300 x 90 with patient transfers, 22 MB at the cleanup's peak)."""
    engine, x = solved
    p = engine.model
    rows = rows_of(engine, False)
    copy_bytes = 12 * p.matrix.nnz
    tracemalloc.start()
    try:
        cleanup.meets(p, rows, x)
        _, new_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        old_meets(p, rows, x)
        _, old_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert old_peak > copy_bytes  # the old way did copy them (the measure can fail)
    assert new_peak < copy_bytes / 2


def plan_and_engine(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch, release: bool
) -> tuple[Any, PlanEngine]:
    engines: list[PlanEngine] = []

    class Kept(PlanEngine):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            engines.append(self)

    with monkeypatch.context() as m:
        m.setattr(planner_module, "PlanEngine", Kept)
        if not release:
            m.setattr(Kept, "release_solvers", lambda self: None)
        result = plan(instance, [], price_of_fairness=False)
    return result, engines[0]


def test_plan_frees_its_highs_models_and_keeps_the_plan(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    freed, engine = plan_and_engine(instance, monkeypatch, release=True)
    kept, other = plan_and_engine(instance, monkeypatch, release=False)
    assert engine.colgen is not None and engine.colgen.highs.highs is None
    assert other.colgen is not None and other.colgen.highs.highs is not None
    with pytest.raises(AttributeError):
        engine.colgen.highs.solve()  # a solve after the release raises
    assert freed.lives_saved == kept.lives_saved
    assert freed.movement_cleanup.status == kept.movement_cleanup.status
    for frame in ("manifest", "plan", "daily", "regions"):
        assert getattr(freed, frame).equals(getattr(kept, frame)), frame
    check = check_plan(instance, freed)
    assert check.ok
    assert abs(check.survivors - freed.lives_saved) < 0.005


def test_plan_with_the_old_cleanup_is_the_same(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = plan(instance, [], price_of_fairness=False)
    assert new.movement_cleanup.status in ("cleaned", "unchanged")
    with monkeypatch.context() as m:
        m.setattr(cleanup, "meets", old_meets)
        m.setattr(cleanup, "_cleanup_lp", old_cleanup_lp)
        old = plan(instance, [], price_of_fairness=False)
    assert new.lives_saved == old.lives_saved
    assert new.movement_cleanup == old.movement_cleanup or (
        new.movement_cleanup.status == old.movement_cleanup.status
        and new.movement_cleanup.cost_after == old.movement_cleanup.cost_after
    )
    for frame in ("manifest", "plan", "daily", "regions"):
        assert getattr(new, frame).equals(getattr(old, frame)), frame
