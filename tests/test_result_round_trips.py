"""Every result type comes back from its JSON: `X.from_dict(x.to_dict())` is x, directly and
through json.dumps/json.loads.

"Is x" means: every field (a field from_dict dropped, or left at its default, fails here);
DataFrames with the same columns, dtypes and index (pandas.testing); NaN and None where they
were. The JSON contract writes floats to 9 decimals (timings to 6), so a float read back is
the original to that precision, and a result read back is a fixed point: written and read
again, it is equal to itself exactly, float for float.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scenario_support import load, small_instance

import optimiser
from optimiser.bedside import allocate, load_inputs
from optimiser.bedside.certify import Certificate
from optimiser.bedside.compare import CompareSpec, compare
from optimiser.multiperiod import GeneratorSpec, check_plan, generate, load_multiperiod, plan
from optimiser.multiperiod.results import PlanResult
from optimiser.multiperiod.simulate import Violation
from optimiser.results import AllocationResult
from optimiser.scenarios import (
    LognormalSpec,
    ScenarioSet,
    evaluate,
    lognormal_scenarios,
)
from optimiser.scenarios.stats import Estimate
from optimiser.solver import SolveStatus

ROOT = Path(__file__).resolve().parents[1]
DECIMALS = 1e-9  # the contract's rounding (9 decimals), with room for the float's last bit
TIMING_DECIMALS = 1e-6
TIMED = {"timings", "seconds"}


def same(a: Any, b: Any, tol: float, where: str = "") -> None:
    """a == b field by field; floats within tol (0: exactly); NaN equals NaN, None only None."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            t = TIMING_DECIMALS if f.name in TIMED and tol else tol
            same(getattr(a, f.name), getattr(b, f.name), t, f"{where}.{f.name}")
    elif isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame), where
        if tol:
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=tol, obj=where)
        else:
            pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=not tol, rtol=0, atol=tol, obj=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: {list(a)} != {list(b)}"
        for k in a:
            t = TIMING_DECIMALS if k in TIMED and tol else tol
            same(a[k], b[k], t, f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, tol, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, float | int):
        if math.isnan(a):
            assert math.isnan(b), f"{where}: {a!r} != {b!r}"
        else:
            assert (abs(a - b) <= tol) if tol else a == b, f"{where}: {a!r} != {b!r}"
    else:
        assert a == b and type(a) is type(b), f"{where}: {a!r} != {b!r}"


def round_trips(x: Any, read: Any = None) -> Any:
    """Check x against from_dict(to_dict(x)), directly and through JSON text; returns it."""
    read = read or type(x).from_dict
    back = read(x.to_dict())
    same(x, back, DECIMALS, type(x).__name__)
    via_json = read(json.loads(json.dumps(x.to_dict(), allow_nan=False)))
    same(back, via_json, 0.0, f"{type(x).__name__} (JSON)")
    assert back.to_dict() == x.to_dict()  # nothing written is lost on reading
    same(back, read(back.to_dict()), 0.0, f"{type(x).__name__} (again)")  # a fixed point
    return back


# --- the regional engine ----------------------------------------------------------------------


def test_allocation_result_with_prices_round_trips() -> None:
    inst = optimiser.load_instance(ROOT / "instances" / "us-states-2020")
    result = optimiser.solve(inst, constraints=["per_capita_floor:share=0.5"])
    assert len(result.price_of_fairness) == 1 and result.solver is not None
    back = round_trips(result)
    assert back.status is SolveStatus.OPTIMAL and back.allocation == result.allocation
    assert back.regions.index.name == "region"


def test_allocation_result_of_a_rule_and_of_an_infeasible_request_round_trip() -> None:
    inst = optimiser.load_instance(ROOT / "instances" / "pugh2021")
    rule = optimiser.solve(inst, policy="per_capita")
    assert rule.status == "rule"  # text, not a SolveStatus
    assert round_trips(rule).status == "rule"
    clipped = optimiser.solve(inst, constraints=["min_units:units=100000"])
    assert clipped.status == "infeasible" and clipped.explanation
    back = round_trips(clipped)
    assert back.explanation == clipped.explanation


def test_allocation_result_keeps_clipped_floors_and_missing_numbers() -> None:
    frame = pd.DataFrame(
        {"name": ["A", "B"], "lives": [1.5, float("nan")], "units": [3, 0]},
        index=pd.Index(["a", "b"], name="region"),
    )
    result = AllocationResult(
        instance="hand", policy="optimal", status=SolveStatus.TIME_LIMIT, supply=3,
        lives_saved=None, regions=frame, unallocated=0, constraints=("min_units:units=1",),
        price_of_fairness=pd.DataFrame(columns=optimiser.results.PRICE_COLUMNS),
        clipped_floors=pd.DataFrame(
            [["min_units:units=1", "b", 1, 0]], columns=optimiser.results.CLIPPED_COLUMNS
        ),
        violations=("min_units: b gets 0 < 1",), fingerprint="abc", price_skipped=True,
    )
    back = AllocationResult.from_dict(json.loads(result.to_json()))
    same(result, back, 0.0, "AllocationResult")
    assert math.isnan(back.regions.loc["b", "lives"]) and back.lives_saved is None


# --- the planner and check-plan ---------------------------------------------------------------


@pytest.fixture(scope="module")
def italy_plan() -> tuple[Any, PlanResult]:
    inst = load_multiperiod(ROOT / "instances" / "italy-2020-wave1")
    return inst, plan(inst)


def test_plan_result_round_trips_with_its_tables(italy_plan: tuple[Any, PlanResult]) -> None:
    _, result = italy_plan
    assert len(result.manifest) and result.start_date and result.lives_optimal_bound

    def read(data: dict[str, Any]) -> PlanResult:
        # the JSON has no daily table and no admit rows: plan --out's CSVs give them
        return PlanResult.from_dict(data, plan=result.plan, daily=result.daily)

    back = round_trips(result, read)
    assert back.lives_optimal_bound == pytest.approx(result.lives_optimal_bound, abs=DECIMALS)


def test_plan_result_manifest_is_rebuilt_from_the_json(italy_plan: tuple[Any, PlanResult]) -> None:
    """Without manifest.csv: the shipments rebuild it in its CSV form, row for row."""
    _, result = italy_plan
    back = PlanResult.from_dict(json.loads(result.to_json()))
    pd.testing.assert_frame_equal(back.manifest, result.manifest, check_exact=True)


def test_plan_manifest_with_patient_moves_is_rebuilt_from_the_json(tmp_path: Path) -> None:
    """Patient rows keep their cohort (check-plan replays the manifest by it) and status."""
    spec = GeneratorSpec(regions=6, days=14, depots=2, seed=44)
    inst = load_multiperiod(generate(spec, tmp_path / "g")).with_settings(
        max_wait_days=2, patient_transfers=True, patient_transfer_max_lead_days=3
    )
    result = plan(inst, price_of_fairness=False)
    moves = result.manifest[result.manifest["kind"] == "patients"]
    assert len(moves) and (moves["cohort_day"] != "").all()
    back = PlanResult.from_dict(json.loads(result.to_json()))
    pd.testing.assert_frame_equal(back.manifest, result.manifest, check_exact=True)
    assert check_plan(inst, back.manifest).to_dict() == check_plan(inst, result.manifest).to_dict()


def test_check_result_round_trips(italy_plan: tuple[Any, PlanResult], tmp_path: Path) -> None:
    inst, result = italy_plan
    clean = check_plan(inst, result)
    assert clean.ok
    round_trips(clean)
    bad = result.plan.copy()
    ships = bad.index[bad["kind"] == "ship"]
    bad.loc[ships[0], "units"] = "100000"
    bad.to_csv(tmp_path / "plan.csv", index=False)
    broken = check_plan(inst, tmp_path / "plan.csv")
    assert broken.violations and not broken.greedy_admissions
    back = round_trips(broken)
    assert back.to_dict()["rules_broken"] == broken.to_dict()["rules_broken"]


def test_violation_round_trips() -> None:
    for v in (Violation("depot_stock", 3, "takes 5 of 2", line=7), Violation("cover", 0, "x")):
        assert Violation.from_dict(json.loads(json.dumps(v.to_dict()))) == v


# --- bedside ------------------------------------------------------------------------------------


def test_bedside_snapshot_result_round_trips() -> None:
    result = allocate(load_inputs(ROOT / "instances" / "bedside-snapshot"))
    assert len(result.price_of_fairness) and len(result.protocols)
    assert str(result.patients["rank"].dtype) == "Int64"
    round_trips(result)


def test_bedside_horizon_result_round_trips() -> None:
    result = allocate(
        load_inputs(ROOT / "instances" / "bedside-synthetic"), price=False, protocols=False
    )
    assert result.mode == "horizon" and result.price_of_fairness.empty
    back = round_trips(result)
    assert list(back.price_of_fairness.columns) == list(result.price_of_fairness.columns)
    assert back.sites["patients"].dtype == np.int64


def test_certificate_round_trips() -> None:
    cert = Certificate(
        {"eligibility": True, "non_wastefulness": False, "respect_of_priorities": True,
         "maximum_cardinality": None},
        ("non_wastefulness: 1 unit of 'general' idle while P2 (eligible) has none",),
        served=3, maximum=4, notes=("scope: one site",),
    )
    assert Certificate.from_dict(json.loads(json.dumps(cert.to_dict()))) == cert


def test_bedside_comparison_round_trips_without_its_raw_replications() -> None:
    inputs = load_inputs(ROOT / "instances" / "bedside-synthetic")
    result = compare(inputs, CompareSpec(replications=2, seed=1, patients=60), workers=1,
                     progress=False)
    assert len(result.replications)
    # the JSON carries the summaries, not the per-replication rows (those are the CSV's)
    back = round_trips(dataclasses.replace(result, replications=pd.DataFrame()))
    assert back.replications.empty


# --- scenarios ----------------------------------------------------------------------------------


def test_scenario_set_and_evaluation_round_trip(tmp_path: Path) -> None:
    inst = load(small_instance(tmp_path / "inst", regions=4, days=10, seed=5))
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=6, seed=3))
    back = ScenarioSet.from_dict(json.loads(json.dumps(scenarios.to_dict())), inst)
    pd.testing.assert_frame_equal(back.demand, scenarios.demand, check_exact=True)
    # probabilities are renormalised on reading (they must sum to 1): equal to the last bit
    pd.testing.assert_series_equal(back.probability, scenarios.probability, rtol=1e-15)
    same(dataclasses.replace(back, demand=scenarios.demand, probability=scenarios.probability),
         scenarios, 0.0, "ScenarioSet")
    result = plan(inst, price_of_fairness=False)
    evaluation = evaluate(inst, result, scenarios)
    assert evaluation.metrics["expected_survivors"].low is not None  # sampled: intervals
    round_trips(evaluation)


def test_estimate_round_trips() -> None:
    for e in (Estimate(1.25), Estimate(2.5, 2.0, 3.0)):
        assert Estimate.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    assert math.isnan(Estimate.from_dict(Estimate(float("nan")).to_dict()).value)
