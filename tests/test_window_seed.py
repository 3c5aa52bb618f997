"""The rolling horizon of window LPs (optimiser/multiperiod/colgen_window.py; issue 12, track
window): its plan is a feasible point of the whole LP (every row and bound met) whose objective
is at most the whole LP's optimum (solved directly, every lane a column) and, with a window as
long as the horizon, equal to it; a master seeded with its movements reaches the whole LP's
optimum (seeding changes the start, never the optimum); the same data give the same plan.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.multiperiod import (
    GeneratorSpec,
    colgen_seed,
    colgen_window,
    generate,
    load_multiperiod,
)
from optimiser.multiperiod.colgen import MAX_ENTERING_PER_ROW, ColumnGeneration
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.methods.base import CLEANUP_COST
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus


@pytest.fixture(scope="module", params=[(5, 30, 0), (9, 24, 2)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PlanEngine:
    seed, days, wait = request.param
    spec = GeneratorSpec(regions=14, days=days, depots=2, neighbours=4, transfers=True, seed=seed)
    instance = load_multiperiod(generate(spec, tmp_path_factory.mktemp("w") / "g"))
    if wait:
        instance = instance.with_settings(max_wait_days=wait)
    return PlanEngine(instance, [])


@pytest.fixture(autouse=True)
def windows_at_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """These models are far below colgen_window.MIN_CANDIDATES: the window seed on for them
    (tests/test_window_threshold.py tests the threshold itself)."""
    monkeypatch.setattr(colgen_window, "MIN_CANDIDATES", 0)


def cheap(engine: PlanEngine) -> np.ndarray:
    return engine.model.lives - CLEANUP_COST * engine.model.logistics


def whole_lp(engine: PlanEngine, cost: np.ndarray) -> float:
    p = engine.model
    full = MatrixHighsModel(
        p.col_lower, p.col_upper, p.matrix, p.row_lower, p.row_upper,
        np.zeros(p.shape[1], dtype=np.int8),
    )  # fmt: skip
    full.set_cost(cost, maximize=True)
    run = full.solve()
    assert run.status is SolveStatus.OPTIMAL and run.objective is not None
    return run.objective


def assert_feasible(engine: PlanEngine, x: np.ndarray) -> None:
    p = engine.model
    ax = p.matrix @ x
    tol = 1e-6
    assert (ax >= p.row_lower - tol).all() and (ax <= p.row_upper + tol).all()
    assert (x >= p.col_lower - tol).all() and (x <= p.col_upper + tol).all()


@pytest.mark.parametrize("shape", [(8, 4), (10, 5), (12, 12)])
def test_window_plan_is_feasible_and_below_the_optimum(
    engine: PlanEngine, shape: tuple[int, int]
) -> None:
    x, stats = colgen_window.window_plan(engine.model, window=shape[0], step=shape[1])
    assert stats.windows >= engine.data.days // shape[0]
    assert_feasible(engine, x)
    best = whole_lp(engine, cheap(engine))
    assert abs(stats.objective - float(cheap(engine) @ x)) <= 1e-9 * abs(best)
    assert stats.objective <= best + 1e-7 * abs(best)
    assert stats.objective > 0.5 * best  # a plan that treats patients, not an empty one
    assert (np.abs(x[engine.model.movements]) > 1e-9).any()


def test_one_window_over_the_horizon_is_the_whole_lp(engine: PlanEngine) -> None:
    days = engine.data.days
    x, stats = colgen_window.window_plan(engine.model, window=days, step=days)
    assert stats.windows == 1
    assert_feasible(engine, x)
    best = whole_lp(engine, cheap(engine))
    assert abs(stats.objective - best) <= 1e-7 * abs(best)


@pytest.mark.parametrize("with_start", [False, True])
def test_seeded_master_reaches_the_whole_lps_optimum(engine: PlanEngine, with_start: bool) -> None:
    p = engine.model
    start = colgen_seed.seed_columns(p, engine.data) if with_start else None
    seed = colgen_window.seed_columns(p, engine.options, window=8, step=4, start=start)
    assert len(seed) > 0 and np.isin(seed, p.movements).all()
    cost = engine.objective([]) - CLEANUP_COST * p.logistics
    best = whole_lp(engine, cost)
    cg = ColumnGeneration(
        p, engine.data, engine.options, movements_first=True, max_per_row=MAX_ENTERING_PER_ROW
    )
    cg.include(seed)
    assert (cg.position[seed] >= 0).all()
    lp = cg.solve_lp(cost, True, None)
    assert lp.status is SolveStatus.OPTIMAL and lp.objective is not None
    assert abs(lp.objective - best) <= 1e-9 * max(1.0, abs(best))


def test_window_plan_is_deterministic(engine: PlanEngine) -> None:
    p = engine.model
    a, sa = colgen_window.window_plan(p, window=8, step=4)
    b, sb = colgen_window.window_plan(p, window=8, step=4)
    assert np.array_equal(a, b) and sa == sb
    assert np.array_equal(
        colgen_window.seed_columns(p, window=8, step=4),
        colgen_window.seed_columns(p, window=8, step=4),
    )


def test_days_of_columns_and_rows(engine: PlanEngine) -> None:
    """A shipment belongs to its dispatch day and lasts to its arrival; a balance row is the
    day of its own stock / hand / occupancy column."""
    p, d = engine.model, engine.data
    day, last = colgen_window.column_days(p)
    s = p.ship
    assert np.array_equal(day[s.cols], s.day)
    assert np.array_equal(last[s.cols], s.day + d.ship_lead[s.depot, s.region])
    rows, first = colgen_window.row_days(p, day)
    assert (first <= rows).all()
    grid = np.broadcast_to(np.arange(d.days), p.hand_rows.shape)
    for family in (p.hand_rows, p.occ_rows, p.cover_rows):
        assert np.array_equal(rows[family], grid)
    assert np.array_equal(
        rows[p.depot_rows], np.broadcast_to(np.arange(d.days), p.depot_rows.shape)
    )


# ---- the engine's hook (optimiser/multiperiod/engine.py, beside seed1000's)
def test_the_engine_seeds_by_windows_only_without_a_time_limit(
    engine: PlanEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the greedy seed applies, the master starts with the window plan's movements
    (none of the greedy's that the window plan leaves at 0) and the plan's LP bound is the
    same; under any time limit (a long one too), with the greedy's alone: the seed never
    depends on the machine's load."""
    monkeypatch.setattr(colgen_seed, "MIN_CANDIDATES", 0)
    p = engine.model
    windows = colgen_window.seed_columns(
        p, engine.options, start=colgen_seed.seed_columns(p, engine.data)
    )
    greedy = colgen_seed.seed_columns(p, engine.data)
    assert not np.array_equal(np.sort(windows), np.sort(greedy))
    seeded = PlanEngine(engine.instance, [])
    assert seeded.colgen is not None
    held = seeded.model.movements[seeded.colgen.position[seeded.model.movements] >= 0]
    assert np.array_equal(np.sort(held), np.sort(windows))
    a, b = engine.solve(()), seeded.solve(())
    assert a.bound is not None and b.bound is not None
    assert abs(a.bound - b.bound) <= 1e-9 * max(1.0, abs(a.bound))
    for limit in (5.0, 3600.0):
        timed = PlanEngine(engine.instance, [], SolverOptions(time_limit=limit))
        assert timed.colgen is not None
        held = timed.model.movements[timed.colgen.position[timed.model.movements] >= 0]
        assert np.array_equal(np.sort(held), np.sort(greedy))


def test_an_incomplete_window_plan_gives_the_start_back(
    engine: PlanEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window without an optimum (its time limit) ends the plan: the seed is then the
    greedy's (`start`), whatever the windows before it found."""
    p = engine.model
    start = colgen_seed.seed_columns(p, engine.data)
    calls: list[float | None] = []
    solve = colgen_window._solve_window

    def second_fails(*a: object) -> tuple[np.ndarray | None, int]:
        calls.append(a[-1])  # type: ignore[arg-type]
        return (None, 1) if len(calls) == 2 else solve(*a)  # type: ignore[arg-type]

    monkeypatch.setattr(colgen_window, "_solve_window", second_fails)
    budget = SolverOptions(time_limit=200.0)
    _, stats = colgen_window.window_plan(p, budget, window=8, step=4, time_limit=10.0)
    assert not stats.complete and stats.windows == 2
    assert calls[0] is not None and 0 < calls[0] <= 10.0  # the windows' share of the budget
    calls.clear()
    seed = colgen_window.seed_columns(p, window=8, step=4, start=start)
    assert len(calls) == 2 and calls[0] is None  # no time limit of its own
    assert np.array_equal(seed, start)


def test_a_re_plan_from_a_later_day(engine: PlanEngine) -> None:
    """A rolling re-plan (today > 0: no movement before it) gives a feasible plan too, and
    its seeded master the whole LP's optimum."""
    later = PlanEngine(engine.instance, [], today=6)
    p = later.model
    assert later.data.first_day == 6 and p.ship.day.min() >= 6
    x, stats = colgen_window.window_plan(p, window=8, step=4)
    assert stats.complete
    assert_feasible(later, x)
    best = whole_lp(later, cheap(later))
    assert stats.objective <= best + 1e-7 * abs(best)
    seed = colgen_window.seed_columns(p, window=8, step=4)
    cg = ColumnGeneration(p, later.data, later.options, movements_first=True)
    cg.include(seed)
    lp = cg.solve_lp(cheap(later), True, None)
    assert lp.status is SolveStatus.OPTIMAL and lp.objective is not None
    assert abs(lp.objective - best) <= 1e-9 * max(1.0, abs(best))
