"""The greedy seed with patient transfers (waiting + patient transfers on 300 x 90: 0.74-0.77x
in interleaved pairs, BENCHMARKS.md "pseed"): the master starts with the greedy plan's movement
columns; the LP optimum is the whole model's, solved directly, and the plan's lives are the
unseeded plan's; check-plan replays the seeded plan with no rule broken. The window seed stays
off with patient transfers (its window LPs hold no patient-move column)."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.multiperiod import (
    GeneratorSpec,
    check_plan,
    colgen_seed,
    colgen_window,
    generate,
    load_multiperiod,
    plan,
)
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.methods.base import CLEANUP_COST
from tests.test_seed1000_include import master, whole_lp


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> MultiPeriodInstance:
    spec = GeneratorSpec(
        regions=16, days=30, depots=2, neighbours=4, seed=5, max_wait_days=2,
        patient_transfers=True,
    )  # fmt: skip
    return load_multiperiod(generate(spec, tmp_path_factory.mktemp("pt") / "g"))


def test_the_greedy_seed_applies_with_patient_transfers(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(colgen_seed, "MIN_CANDIDATES", 0)
    monkeypatch.setattr(colgen_window, "MIN_CANDIDATES", 0)
    engine = PlanEngine(instance, [])
    p = engine.model
    assert engine.data.patient_transfers and len(p.ptransfer.cols)
    assert engine.colgen is not None
    held = engine.colgen.position[p.movements] >= 0
    greedy = colgen_seed.seed_columns(p, engine.data)
    # the greedy plan's columns exactly (no window LP ran: its seed would differ)
    assert held.sum() == len(greedy) > 0
    assert (engine.colgen.position[greedy] >= 0).all()
    cost = engine.objective([]) - CLEANUP_COST * p.logistics
    best, _ = whole_lp(engine, cost)
    cg = master(engine)
    cg.include(greedy)
    lp = cg.solve_lp(cost, True, None)
    assert lp.objective is not None
    assert abs(lp.objective - best) <= 1e-9 * max(1.0, abs(best))


def test_a_seeded_plan_saves_the_unseeded_plans_lives(
    instance: MultiPeriodInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    unseeded = plan(instance, price_of_fairness=False)
    monkeypatch.setattr(colgen_seed, "MIN_CANDIDATES", 0)
    seeded = plan(instance, price_of_fairness=False)
    assert seeded.status == unseeded.status == "optimal"
    assert seeded.lives_saved is not None and unseeded.lives_saved is not None
    assert abs(seeded.lives_saved - unseeded.lives_saved) <= 1e-6
    check = check_plan(instance, seeded)
    assert check.ok, check.violations
    assert check.survivors == pytest.approx(seeded.lives_saved, abs=1e-6)
    assert np.isfinite(seeded.lives_saved)
