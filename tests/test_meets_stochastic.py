"""The two-stage planner judges a plan by its movements too (`StochasticEngine.meets_rows`,
`meets`): each scenario's fairness families' own columns at the values its plan implies
(`HorizonFamily.imply`), not as the values given hold them.

Before, they were read from the values as given: right for a solver's plan, wrong for the plan
that moves nothing (`zero_plan`, those columns at 0), refused under a coverage gap it meets in
every scenario (check-plan, no model code, is the judge here). The decomposition then had no
plan of last resort, and a HiGHS "infeasible" was not questioned by it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from optimiser.constraints import to_specs
from optimiser.multiperiod import GeneratorSpec, MultiPeriodInstance, generate, load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.extract import extract
from optimiser.scenarios import LognormalSpec, lognormal_scenarios
from optimiser.scenarios.model import ScenarioSet
from optimiser.stochastic.engine import StochasticEngine


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[MultiPeriodInstance, ScenarioSet]:
    spec = GeneratorSpec(regions=4, days=10, depots=1, seed=5, supply_share=0.4)
    inst = load_multiperiod(generate(spec, tmp_path_factory.mktemp("meets") / "inst"))
    return inst, lognormal_scenarios(inst, LognormalSpec(scenarios=3, seed=5))


def fair_in_every_scenario(engine: StochasticEngine, values: np.ndarray, label: str) -> bool:
    """check-plan's verdict on the constraint in each scenario (its fairness violations)."""
    f = engine.form
    pairs = zip(f.blocks, engine.scenarios.instances(engine.instance), strict=True)
    verdicts = []
    for s, (block, (_sid, one)) in enumerate(pairs):
        shim = SimpleNamespace(
            model=block, data=engine.data[s], instance=one, executed=engine.executed
        )
        rows = extract(shim, f.block_values(values, s))["plan"]  # type: ignore[arg-type]
        check = check_plan(one, rows, [label], default_constraints=False)
        verdicts.append(not [v for v in check.violations if v["rule"] == "fairness"])
    return all(verdicts)


@pytest.mark.parametrize("gap, expected", [(0.2, False), (0.5, True), (0.95, True)])
def test_the_zero_plan_under_a_coverage_gap(
    case: tuple[MultiPeriodInstance, ScenarioSet], gap: float, expected: bool
) -> None:
    inst, scenarios = case
    label = f"max_coverage_gap:gap={gap}"
    specs = to_specs([label])
    engine = StochasticEngine(inst, scenarios, specs, commit_days=3, method="exact")
    zero = engine.zero_plan()
    assert fair_in_every_scenario(engine, zero, label) is expected
    assert engine.meets_rows(zero, specs) is expected
    assert engine.meets([specs[0].label], zero) is expected
    if expected:  # the columns as the zero plan holds them (0) break the rows: the old verdict
        rows = engine.family_rows(specs[0].label)
        got = engine.form.matrix[rows] @ zero
        f = engine.form
        assert not (
            np.all(got >= f.row_lower[rows] - 1e-7) and np.all(got <= f.row_upper[rows] + 1e-7)
        )


def test_a_solved_threshold_plan_is_judged_by_its_movements(
    case: tuple[MultiPeriodInstance, ScenarioSet],
) -> None:
    inst, scenarios = case
    label = "threshold:tau=0"
    specs = to_specs([label])
    engine = StochasticEngine(inst, scenarios, specs, commit_days=3, method="exact")
    out = engine.solve(specs)
    assert out.values is not None
    assert fair_in_every_scenario(engine, out.values, label)
    x = out.values.copy()
    for s, block in enumerate(engine.form.blocks):
        x[engine.form.columns(s, block.fairness[specs[0].label].columns)] = 0.0
    assert engine.meets([specs[0].label], x)
    assert engine.meets_rows(out.values, specs)
