"""Probe 6: the multi-period Python API given a folder's path (the first mistake, as probe 4 found
for `optimiser.solve`) or a single-period Instance. Failed on main e279bf2 with
`AttributeError: 'str' object has no attribute 'base'` (plan, plan_under_uncertainty,
stochastic compare, scenarios.evaluate) or `... no attribute 'days'` (check_plan). (And
optimiser.stochastic's docstring named `optimiser.stochastic.baselines.compare`, a module that
does not exist: it is optimiser.stochastic.compare.compare.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optimiser.errors import InputError
from optimiser.multiperiod import check_plan, plan
from optimiser.scenarios import evaluate
from optimiser.stochastic import plan_under_uncertainty
from optimiser.stochastic.compare import compare

REPO = Path(__file__).resolve().parents[1]
ITALY = REPO / "instances" / "italy-2020-wave1"
CALLS: dict[str, Callable[[Any], Any]] = {
    "optimiser.multiperiod.plan": lambda inst: plan(inst),
    "optimiser.multiperiod.check_plan": lambda inst: check_plan(inst, "plan.csv"),
    "optimiser.stochastic.plan_under_uncertainty": lambda inst: plan_under_uncertainty(inst, None),
    "optimiser.stochastic.compare.compare": lambda inst: compare(inst, None),
    "optimiser.scenarios.evaluate": lambda inst: evaluate(inst, "plan.csv", None),
}


@pytest.mark.parametrize("function", list(CALLS))
@pytest.mark.parametrize("given", [str(ITALY), ITALY])
def test_a_folder_path_says_to_load_it(function: str, given: str | Path) -> None:
    with pytest.raises(InputError) as caught:
        CALLS[function](given)
    assert str(caught.value) == (
        "argument 'instance': must be a MultiPeriodInstance, got "
        f"{type(given).__name__}; load it first: {function}("
        f"optimiser.multiperiod.load_multiperiod({str(ITALY)!r}), ...)")


@pytest.mark.parametrize("function", list(CALLS))
def test_a_single_period_instance_points_to_solve(function: str, pugh) -> None:
    with pytest.raises(InputError, match=r"got Instance \('pugh2021', single-period: no "
                       r"demand.csv\); .* allocated by optimiser.solve"):
        CALLS[function](pugh)


def test_a_loaded_instance_still_plans(tmp_path: Path) -> None:
    from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod

    inst = load_multiperiod(generate(GeneratorSpec(regions=2, days=3, seed=1), tmp_path / "i"))
    result = plan(inst)
    assert result.status == "optimal"
    assert check_plan(inst, result).violations == []


def test_the_stochastic_docstring_names_a_function_that_exists() -> None:
    import optimiser.stochastic

    assert "optimiser.stochastic.compare.compare" in (optimiser.stochastic.__doc__ or "")
    assert "baselines" not in (optimiser.stochastic.__doc__ or "")
