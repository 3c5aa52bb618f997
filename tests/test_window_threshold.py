"""The window seed's own size threshold (optimiser/multiperiod/colgen_window.py,
MIN_CANDIDATES; track window2): below it `seed_columns` gives the greedy seed back without
solving a window LP, and the engine's master starts with the greedy's movements alone; at or
above it, with the window plan's. Either way the plan's LP bound is the same."""

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
from optimiser.multiperiod.engine import PlanEngine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> PlanEngine:
    spec = GeneratorSpec(regions=14, days=30, depots=2, neighbours=4, transfers=True, seed=5)
    return PlanEngine(load_multiperiod(generate(spec, tmp_path_factory.mktemp("t") / "g")), [])


def held(engine: PlanEngine) -> np.ndarray:
    assert engine.colgen is not None
    moves = engine.model.movements
    return np.sort(moves[engine.colgen.position[moves] >= 0])


def test_the_greedy_threshold_is_below_the_windows() -> None:
    # the window seed is started from the greedy's: it can apply only where that one does
    assert 0 < colgen_seed.MIN_CANDIDATES < colgen_window.MIN_CANDIDATES


def test_below_the_window_threshold_the_greedy_seed_alone(
    engine: PlanEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = engine.model
    candidates = len(p.ship.cols) + len(p.transfer.cols)
    greedy = colgen_seed.seed_columns(p, engine.data)
    assert len(greedy) > 0
    monkeypatch.setattr(colgen_seed, "MIN_CANDIDATES", 0)
    calls: list[int] = []
    plan = colgen_window.window_plan

    def counted(*a: object, **k: object) -> object:
        calls.append(1)
        return plan(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(colgen_window, "window_plan", counted)
    monkeypatch.setattr(colgen_window, "MIN_CANDIDATES", candidates + 1)
    assert np.array_equal(colgen_window.seed_columns(p, start=greedy), greedy)
    assert len(colgen_window.seed_columns(p)) == 0
    below = PlanEngine(engine.instance, [])
    assert not calls  # no window LP solved
    assert np.array_equal(held(below), np.sort(greedy))
    monkeypatch.setattr(colgen_window, "MIN_CANDIDATES", candidates)
    windows = colgen_window.seed_columns(p, engine.options, start=greedy)
    assert calls and not np.array_equal(np.sort(windows), np.sort(greedy))
    at = PlanEngine(engine.instance, [])
    assert np.array_equal(held(at), np.sort(windows))
    a, b = below.solve(()), at.solve(())
    assert a.bound is not None and b.bound is not None
    assert abs(a.bound - b.bound) <= 1e-9 * max(1.0, abs(a.bound))
