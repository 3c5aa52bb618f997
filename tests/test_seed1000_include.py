"""A master started with movement columns (`ColumnGeneration.include` before the first solve,
as a seed would; issue 12, track seed1000, BENCHMARKS.md "seed1000") reaches the whole model's
LP optimum, solved directly (every lane a column, no pricing): seeding changes the start, never
the optimum. The final LP's own nonzero movement columns are a perfect seed: the master holding
them is already optimal for the whole model before any pricing.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.multiperiod import GeneratorSpec, colgen_seed, generate, load_multiperiod
from optimiser.multiperiod.colgen import MAX_ENTERING_PER_ROW, ColumnGeneration
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.methods.base import CLEANUP_COST
from optimiser.solver import MatrixHighsModel, SolveStatus


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> PlanEngine:
    spec = GeneratorSpec(regions=16, days=30, depots=3, neighbours=4, transfers=True, seed=5)
    return PlanEngine(load_multiperiod(generate(spec, tmp_path_factory.mktemp("s") / "g")), [])


def whole_lp(engine: PlanEngine, cost: np.ndarray) -> tuple[float, np.ndarray]:
    p = engine.model
    full = MatrixHighsModel(
        p.col_lower, p.col_upper, p.matrix, p.row_lower, p.row_upper,
        np.zeros(p.shape[1], dtype=np.int8),
    )  # fmt: skip
    full.set_cost(cost, maximize=True)
    run = full.solve()
    assert run.status is SolveStatus.OPTIMAL and run.objective is not None
    assert run.values is not None
    return run.objective, run.values


def master(engine: PlanEngine) -> ColumnGeneration:
    return ColumnGeneration(
        engine.model,
        engine.data,
        engine.options,
        movements_first=True,
        max_per_row=MAX_ENTERING_PER_ROW,
    )


@pytest.mark.parametrize("seed", ["none", "perfect", "random"])
def test_seeded_master_reaches_the_whole_lps_optimum(engine: PlanEngine, seed: str) -> None:
    p = engine.model
    cost = engine.objective([]) - CLEANUP_COST * p.logistics
    best, values = whole_lp(engine, cost)
    cg = master(engine)
    movements = p.movements
    if seed == "perfect":
        cols = movements[np.abs(values[movements]) > 1e-9]
    elif seed == "random":
        rng = np.random.default_rng(7)
        cols = rng.choice(movements, size=len(movements) // 3, replace=False)
    else:
        cols = np.zeros(0, dtype=np.int64)
    assert (seed == "none") == (len(cols) == 0)  # a seed is never silently empty here
    before = len(cg.members)
    cg.include(cols)
    assert len(cg.members) == before + len(np.unique(cols))
    assert (cg.position[cols] >= 0).all()
    if seed == "perfect":
        # before any pricing, the master holding the optimum's columns is already optimal
        cg.set_cost(cost, True)
        cg.highs.set_integrality(np.arange(len(cg.members)), False)
        run = cg.highs.solve(None)
        assert run.status is SolveStatus.OPTIMAL and run.objective is not None
        assert abs(run.objective - best) <= 1e-9 * max(1.0, abs(best))
    lp = cg.solve_lp(cost, True, None)
    assert lp.status is SolveStatus.OPTIMAL and lp.objective is not None
    assert abs(lp.objective - best) <= 1e-9 * max(1.0, abs(best))
    # then the lives-only LP from that basis (warm, as the planner's second LP)
    lives = engine.objective([])
    top, _ = whole_lp(engine, lives)
    warm = cg.solve_lp(lives, True, None, warm=True)
    assert warm.status is SolveStatus.OPTIMAL and warm.objective is not None
    assert abs(warm.objective - top) <= 1e-9 * max(1.0, abs(top))


def test_an_unseeded_master_holds_no_movement(engine: PlanEngine) -> None:
    """The seeds above are the only movements a new master holds (so `perfect` seeded them)."""
    cg = master(engine)
    assert (cg.position[engine.model.movements] < 0).all()


# ---- the planner's seed (optimiser/multiperiod/colgen_seed.py)
def test_greedy_seed_is_movements_and_keeps_the_optimum(engine: PlanEngine) -> None:
    p = engine.model
    seed = colgen_seed.seed_columns(p, engine.data)
    assert len(seed) > 0 and np.isin(seed, p.movements).all()
    cost = engine.objective([]) - CLEANUP_COST * p.logistics
    best, _ = whole_lp(engine, cost)
    cg = master(engine)
    cg.include(seed)
    lp = cg.solve_lp(cost, True, None)
    assert lp.status is SolveStatus.OPTIMAL and lp.objective is not None
    assert abs(lp.objective - best) <= 1e-9 * max(1.0, abs(best))


def test_the_engine_seeds_large_models_only(
    engine: PlanEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below MIN_CANDIDATES the master starts without movements (as before); at or above, with
    the greedy plan's, and the plan's LP bound is the same."""
    assert engine.colgen is not None
    assert (engine.colgen.position[engine.model.movements] < 0).all()  # not seeded
    monkeypatch.setattr(colgen_seed, "MIN_CANDIDATES", 0)
    seeded = PlanEngine(engine.instance, [])
    assert seeded.colgen is not None
    held = seeded.colgen.position[seeded.model.movements] >= 0
    assert held.any()
    a, b = engine.solve(()), seeded.solve(())
    assert a.bound is not None and b.bound is not None
    assert abs(a.bound - b.bound) <= 1e-9 * max(1.0, abs(a.bound))
