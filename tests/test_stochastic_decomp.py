"""The two-stage plan by decomposition (method `rounding`: optimiser/stochastic/decomp.py,
compact.py, fixed_commit.py), checked against the extensive form solved whole by HiGHS
(method `exact`), its bound against that optimum, and its plans replayed through check-plan's
simulator (optimiser/multiperiod/simulate.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_support import small_instance
from test_stochastic import brute_case, hedge_case

from models.multiperiod import build_plan_model
from models.stochastic import build_extensive_form
from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.colgen import ColumnGeneration
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios import LognormalSpec, lognormal_scenarios
from optimiser.scenarios.model import ScenarioSet
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus
from optimiser.stochastic import StochasticResult, plan_under_uncertainty
from optimiser.stochastic.compact import build_compact
from optimiser.stochastic.decomp import value_at_risk
from optimiser.stochastic.engine import EXECUTED_COLUMNS, StochasticEngine, scenario_data

EQUAL = 1e-6  # the two methods' optima, both proved (every plan of these cases is exact)


def both(
    inst: MultiPeriodInstance, scenarios: ScenarioSet, **kwargs: object
) -> tuple[StochasticResult, StochasticResult]:
    exact = plan_under_uncertainty(inst, scenarios, method="exact", **kwargs)  # type: ignore[arg-type]
    decomposed = plan_under_uncertainty(inst, scenarios, method="rounding", **kwargs)  # type: ignore[arg-type]
    assert exact.solver["method"] == "exact" and decomposed.solver["method"] == "rounding"
    return exact, decomposed


def assert_same_optimum(exact: StochasticResult, decomposed: StochasticResult) -> None:
    assert exact.status == "optimal" and decomposed.status == "optimal"
    assert decomposed.expected_lives == pytest.approx(exact.expected_lives, abs=EQUAL)
    # the decomposition's bound is an upper bound of the true optimum, and proved tight
    assert decomposed.lives_bound is not None
    assert decomposed.lives_bound >= exact.expected_lives - EQUAL
    assert decomposed.gap is not None and decomposed.gap <= 1e-9 + 0.005 / max(
        1.0, decomposed.lives_bound
    )


def test_hand_solved_case_by_decomposition(tmp_path: Path) -> None:
    inst, scenarios = hedge_case(tmp_path)
    exact, decomposed = both(inst, scenarios, commit_days=1)
    assert_same_optimum(exact, decomposed)
    assert decomposed.expected_lives == pytest.approx(1.0, abs=EQUAL)
    assert decomposed.committed[["kind", "day", "from", "to", "units"]].values.tolist() == [
        ["ship", 0, "D", "A", 2.0]
    ]


def test_brute_force_case_by_decomposition(tmp_path: Path) -> None:
    inst, scenarios = brute_case(tmp_path)
    exact, decomposed = both(inst, scenarios, commit_days=2, price_of_fairness=False)
    assert_same_optimum(exact, decomposed)
    assert decomposed.per_scenario["lives"].tolist() == pytest.approx(
        exact.per_scenario["lives"].tolist(), abs=EQUAL
    )
