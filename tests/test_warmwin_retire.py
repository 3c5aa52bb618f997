"""Column retirement in the window LPs (optimiser/multiperiod/colgen_window.py, `_retire`;
track warmwin): priced-in movements at 0 with a clearly non-improving reduced cost leave a
window's master and are priced again every round. Each window LP still reaches its own
optimum (one window over the horizon is the whole LP's, as with retirement off), the plan is
feasible and the same run after run, and retirement does delete columns on these models."""

from __future__ import annotations

import math

import highspy
import numpy as np
import pytest

from optimiser.multiperiod import (
    GeneratorSpec,
    colgen_seed,
    colgen_window,
    generate,
    load_multiperiod,
)
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.methods.base import CLEANUP_COST
from optimiser.solver import MatrixHighsModel, SolveStatus


@pytest.fixture(scope="module", params=[(14, 4, 0), (30, 10, 2)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PlanEngine:
    """planner_scale.py's generator (3 depots, seed 1): movements that pay, over 30 days."""
    regions, neighbours, wait = request.param
    spec = GeneratorSpec(
        regions=regions, days=30, depots=3, neighbours=neighbours, transfers=True, seed=1
    )
    instance = load_multiperiod(generate(spec, tmp_path_factory.mktemp("r") / "g"))
    if wait:
        instance = instance.with_settings(max_wait_days=wait)
    return PlanEngine(instance, [])


@pytest.fixture
def deleted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of columns each `_retire` call deleted."""
    counts: list[int] = []
    retire = colgen_window._retire

    def counted(h: highspy.Highs, members: np.ndarray, *a: np.ndarray) -> np.ndarray:
        inside, retired = a[0], a[1]
        before = retired.copy()
        left = retire(h, members, *a)  # type: ignore[arg-type]
        gone = np.setdiff1d(members, left)
        counts.append(len(gone))
        # the master holds exactly the members left; what left it is priced again
        assert h.getNumCol() == len(left) and inside[left].all()
        assert not inside[gone].any() and retired[gone].all() and not before[gone].any()
        return left

    monkeypatch.setattr(colgen_window, "_retire", counted)
    return counts


def cheap(engine: PlanEngine) -> np.ndarray:
    return engine.model.lives - CLEANUP_COST * engine.model.logistics


def whole_lp(engine: PlanEngine) -> float:
    p = engine.model
    full = MatrixHighsModel(
        p.col_lower, p.col_upper, p.matrix, p.row_lower, p.row_upper,
        np.zeros(p.shape[1], dtype=np.int8),
    )  # fmt: skip
    full.set_cost(cheap(engine), maximize=True)
    run = full.solve()
    assert run.status is SolveStatus.OPTIMAL and run.objective is not None
    return run.objective


def feasible(engine: PlanEngine, x: np.ndarray) -> bool:
    p, tol = engine.model, 1e-6
    ax = p.matrix @ x
    rows = (ax >= p.row_lower - tol).all() and (ax <= p.row_upper + tol).all()
    return bool(rows and (x >= p.col_lower - tol).all() and (x <= p.col_upper + tol).all())


def small_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few entering columns a round, so these small windows take several rounds (each after
    the first can retire what the last one brought in)."""
    monkeypatch.setattr(colgen_window, "MAX_ENTERING", 25)


def test_retirement_deletes_columns_and_one_window_is_the_whole_lp(
    engine: PlanEngine, deleted: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    small_rounds(monkeypatch)
    days = engine.data.days
    start = colgen_seed.seed_columns(engine.model, engine.data)
    x, stats = colgen_window.window_plan(engine.model, window=days, step=days, start=start)
    assert sum(deleted) > 0  # retirement happened
    assert stats.complete and stats.windows == 1
    assert feasible(engine, x)
    best = whole_lp(engine)
    assert abs(stats.objective - best) <= 1e-7 * abs(best)


def test_retirement_keeps_each_windows_optimum(
    engine: PlanEngine, deleted: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With retirement off (no reduced cost below -inf) the windows are the same LPs: every
    window's optimum, hence the first window's kept objective and the plan's feasibility, the
    same; the plan is feasible and below the whole LP's optimum either way."""
    small_rounds(monkeypatch)
    p = engine.model
    start = colgen_seed.seed_columns(p, engine.data)
    on, s_on = colgen_window.window_plan(p, window=8, step=8, start=start)
    assert sum(deleted) > 0
    monkeypatch.setattr(colgen_window, "RETIRE_TOL", math.inf)
    deleted.clear()
    off, s_off = colgen_window.window_plan(p, window=8, step=8, start=start)
    assert sum(deleted) == 0
    # windows of 8 keeping all 8: each window the optimum given the same earlier days only
    # when the earlier windows agree in value; the first one always does
    first = colgen_window.column_days(p)[0] < 8
    c = cheap(engine)
    assert abs(float(c[first] @ on[first]) - float(c[first] @ off[first])) <= 1e-7 * max(
        1.0, abs(float(c[first] @ off[first]))
    )
    best = whole_lp(engine)
    for x, stats in ((on, s_on), (off, s_off)):
        assert stats.complete and feasible(engine, x)
        assert stats.objective <= best + 1e-7 * abs(best)


def test_retirement_is_deterministic(
    engine: PlanEngine, deleted: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    small_rounds(monkeypatch)
    p = engine.model
    start = colgen_seed.seed_columns(p, engine.data)
    a, sa = colgen_window.window_plan(p, window=8, step=4, start=start)
    first = list(deleted)
    deleted.clear()
    b, sb = colgen_window.window_plan(p, window=8, step=4, start=start)
    assert sum(first) > 0 and first == deleted
    assert np.array_equal(a, b) and sa == sb
