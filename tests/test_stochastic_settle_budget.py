"""The two-stage plan's patient flow is settled even when the budget is spent before the
settling (optimiser/stochastic/settle.py): with waiting, an unsettled plan leaves patients
waiting beside free units, which check-plan's independent simulator rejects. A spent budget
is given as a Deadline already expired (no wall seconds), and the plan must still replay."""

from __future__ import annotations

import pytest
from test_stochastic_fairness import COMMIT_DAYS, SWITCHES, case, replay  # noqa: F401

from optimiser.constraints import to_specs
from optimiser.deadline import Deadline
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios import LognormalSpec, lognormal_scenarios
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic.engine import StochasticEngine
from optimiser.stochastic.settle import settle_scenarios


@pytest.mark.parametrize("method", ["exact", "rounding"])
def test_a_spent_budget_still_settles_every_scenario(
    case: tuple[MultiPeriodInstance, ScenarioSet],  # noqa: F811
    method: str,
) -> None:
    base, _ = case
    inst = base.with_settings(**SWITCHES["waiting"])
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=5))
    specs = to_specs(["coverage_floor:level=0.8"])
    engine = StochasticEngine(inst, scenarios, specs, commit_days=COMMIT_DAYS, method=method)
    out = engine.solve(specs)
    assert out.values is not None
    spent = Deadline(0.0, start=0.0)
    assert spent.expired()
    settled = settle_scenarios(engine, out, specs, spent)
    assert settled is not out  # the solver-free repair ran
    assert settled.objective is not None and out.objective is not None
    assert settled.objective >= out.objective - 1e-6  # never worse
    replay(engine, settled, "coverage_floor:level=0.8")
