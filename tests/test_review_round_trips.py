"""Every result class of the package reads back its own JSON (`from_dict` beside `to_dict`), and
each is checked field by field by a strict round trip (test_result_round_trips.round_trips:
every dataclass field, not only the dict the class writes, so a field to_dict forgets fails).

The classes are found by walking the package, so a new class with a `to_dict` and no
`from_dict`, or with no strict round-trip test named in ROUND_TRIP_TESTS, fails here."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import pandas as pd
import test_result_round_trips as strict
from test_backtest import FIXED, write_backtest
from test_saa import hedge
from test_stochastic import hedge_case

import optimiser
from optimiser.backtest import backtest
from optimiser.stochastic import plan_under_uncertainty
from optimiser.stochastic.compare import compare
from optimiser.stochastic.replications import saa

# class (module.qualname) -> the test (module::function) that round-trips it strictly
ROUND_TRIP_TESTS = {
    "optimiser.results.AllocationResult":
        "test_result_round_trips::test_allocation_result_with_prices_round_trips",
    "optimiser.results.SolverInfo":  # a field of AllocationResult and PlanResult, compared there
        "test_result_round_trips::test_allocation_result_with_prices_round_trips",
    "optimiser.multiperiod.results.PlanResult":
        "test_result_round_trips::test_plan_result_round_trips_with_its_tables",
    "optimiser.multiperiod.results.MovementCleanup":  # a field of PlanResult, compared there
        "test_result_round_trips::test_plan_result_round_trips_with_its_tables",
    "optimiser.multiperiod.results.CheckResult":
        "test_result_round_trips::test_check_result_round_trips",
    "optimiser.multiperiod.simulation.Violation":
        "test_result_round_trips::test_violation_round_trips",
    "optimiser.bedside.results.BedsideResult":
        "test_result_round_trips::test_bedside_snapshot_result_round_trips",
    "optimiser.bedside.certify.Certificate":
        "test_result_round_trips::test_certificate_round_trips",
    "optimiser.bedside.compare.CompareResult":
        "test_result_round_trips::test_bedside_comparison_round_trips_without_its_raw_replications",
    "optimiser.scenarios.model.ScenarioSet":
        "test_result_round_trips::test_scenario_set_and_evaluation_round_trip",
    "optimiser.scenarios.evaluate.Evaluation":
        "test_result_round_trips::test_scenario_set_and_evaluation_round_trip",
    "optimiser.scenarios.stats.Estimate": "test_result_round_trips::test_estimate_round_trips",
    "optimiser.stochastic.results.StochasticResult":
        "test_review_round_trips::test_stochastic_result_and_comparison_round_trip",
    "optimiser.stochastic.comparison.Comparison":
        "test_review_round_trips::test_stochastic_result_and_comparison_round_trip",
    "optimiser.stochastic.saa_result.SaaResult":
        "test_review_round_trips::test_saa_result_round_trips",
    "optimiser.backtest.results.BacktestResult":
        "test_review_round_trips::test_backtest_result_round_trips",
}


def result_classes() -> dict[str, type]:
    """Every class defined in the package with a to_dict of its own, by module.qualname."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(optimiser.__path__, "optimiser."):
        if info.name.endswith(".__main__"):  # runs the command line when imported
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and "to_dict" in vars(cls):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_class_with_to_dict_has_from_dict_and_a_strict_round_trip_test() -> None:
    classes = result_classes()
    assert len(classes) >= 15  # the walk still finds the package's result classes
    missing = sorted(name for name, cls in classes.items() if "from_dict" not in vars(cls))
    assert not missing, f"to_dict without from_dict: {missing}"
    assert sorted(classes) == sorted(ROUND_TRIP_TESTS), "name each new class's round-trip test"
    here = Path(__file__).parent
    for name, test in ROUND_TRIP_TESTS.items():
        module, function = test.split("::")
        assert (here / f"{module}.py").is_file(), name
        assert callable(getattr(importlib.import_module(module), function, None)), (name, test)


def test_stochastic_result_and_comparison_round_trip(tmp_path: Path) -> None:
    inst, scenarios = hedge_case(tmp_path)
    result = plan_under_uncertainty(inst, scenarios, commit_days=1)
    assert result.status.value == "optimal" and len(result.committed)
    back = strict.round_trips(result)
    assert back.expected_lives == result.expected_lives
    comparison = compare(inst, scenarios, commit_days=1, stochastic=result)
    assert not comparison.not_scored
    strict.round_trips(comparison)


def test_saa_result_round_trips(tmp_path: Path) -> None:
    _, inst, dist = hedge(tmp_path)
    result = saa(inst, dist, replications=3, sample_size=2, evaluation_size=8, seed=11,
                 commit_days=1, workers=1)
    assert len(result.per_replication) == 3
    strict.round_trips(result)


def test_backtest_result_round_trips(tmp_path: Path) -> None:
    result = backtest(write_backtest(tmp_path / "tiny"), policies=FIXED, commit_days=7,
                      forecast="fc")
    assert len(result.table) and len(result.weeks)
    back = strict.round_trips(result)
    pd.testing.assert_frame_equal(back.observed, result.observed)
    assert json.loads(back.to_json()) == json.loads(result.to_json())
