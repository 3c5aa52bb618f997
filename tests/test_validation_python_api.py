"""Bad input through the Python API: DataFrames are validated exactly like files (by row and
column), and bad constraint specs, solve and evaluate arguments are one clear InputError.
(Split from tests/test_validation_bad_inputs.py, which had grown past 600 lines.)"""

from __future__ import annotations

import pandas as pd
import pytest

import optimiser

# ---- DataFrames are validated exactly like files


def frame(**changes: object) -> pd.DataFrame:
    rows = [
        {"region": "A", "population": 100, "capacity": 0, "peak_demand": 10},
        {"region": "B", "population": 200, "capacity": 1, "peak_demand": 5},
    ]
    rows[1].update(changes)
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"population": float("nan")}, ("regions", "row 2", "'population'", "missing value")),
        ({"capacity": float("inf")}, ("regions", "row 2", "'capacity'", "finite")),
        ({"peak_demand": "many"}, ("regions", "row 2", "'peak_demand'", "not a number")),
        ({"region": "A"}, ("regions", "row 2", "duplicate region id 'A'")),
        ({"survival_with": 3}, ("regions", "row 2", "'survival_with'", "[0, 1]")),
    ],
)
def test_bad_dataframe_is_reported_by_row_and_column(
    changes: dict, fragments: tuple[str, ...]
) -> None:
    with pytest.raises(optimiser.InputError) as info:
        optimiser.instance_from_frames(frame(**changes), 5)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_dataframe_input_checks_supply_and_constraints() -> None:
    with pytest.raises(optimiser.InputError, match="supply"):
        optimiser.instance_from_frames(frame(), -2)
    with pytest.raises(optimiser.InputError, match="unknown constraint kind"):
        optimiser.instance_from_frames(frame(), 2, constraints=[{"kind": "nope"}])
    with pytest.raises(optimiser.InputError, match="empty"):
        optimiser.instance_from_frames(frame().iloc[:0], 2)


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("fair_share:level=1", ("unknown constraint kind 'fair_share'",)),
        ("coverage_floor:lvl=0.5", ("unknown parameter 'lvl'",)),
        ("coverage_floor:level=2", ("'level'", "<= 1")),
        ("coverage_floor:level=-0.1", ("'level'", ">= 0")),
        ("coverage_floor:level=nan", ("'level'", "finite")),
        ("per_capita_floor:share=x", ("'share'", "number")),
        ("min_units:units=-1", ("'units'", ">= 0")),
        ("max_coverage_gap:gap=1.1", ("'gap'", "<= 1")),
        ("capacity_per_capita_floor:beds_per_100k=-5", ("'beds_per_100k'", ">= 0")),
        ("threshold:tau=1,index=age", ("'index'", "rai")),
        ("threshold:index=rai", ("missing parameter 'tau'",)),
        ("prioritarian:weights=richest", ("'weights'",)),
        ("coverage_floor:level", ("expected KIND:param=value",)),
    ],
)
def test_bad_constraint_specs(
    spec: str, fragments: tuple[str, ...], pugh: optimiser.Instance
) -> None:
    with pytest.raises(optimiser.InputError) as info:
        optimiser.solve(pugh, constraints=[spec])
    for fragment in fragments:
        assert fragment in str(info.value)


def test_bad_solve_arguments(pugh: optimiser.Instance) -> None:
    for supply in (-1, 1.5, "10", True):
        with pytest.raises(optimiser.InputError, match="supply"):
            optimiser.solve(pugh, supply=supply)
    with pytest.raises(optimiser.InputError, match="unknown policy"):
        optimiser.solve(pugh, policy="first_come")
    with pytest.raises(optimiser.InputError, match="time_limit"):
        optimiser.solve(pugh, time_limit=0)
    with pytest.raises(optimiser.InputError, match="unknown region 'Q'"):
        optimiser.solve(pugh, constraints=[{"kind": "prioritarian", "weights": {"Q": 2.0}}])


def test_evaluate_rejects_bad_allocations(pugh: optimiser.Instance) -> None:
    for allocation, fragment in [
        ({"Z": 1}, "unknown region 'Z'"),
        ({"A": 1.5}, "whole number"),
        ({"A": -1}, "whole number"),
        ({"A": float("nan")}, "whole number"),
        ({"A": 10**30}, "units"),
    ]:
        with pytest.raises(optimiser.InputError, match=fragment):
            optimiser.evaluate(pugh, allocation)


def test_a_population_below_one_person_is_refused() -> None:
    with pytest.raises(optimiser.InputError, match=r"row 2, region 'B', column 'population'"):
        optimiser.instance_from_frames(frame(population=1e-300), 5)


@pytest.mark.parametrize(
    "spec",
    [f"min_units:units={10**400}", f"threshold:tau=-{10**400}", "min_units:units=1e300",
     "capacity_per_capita_floor:beds_per_100k=1e13"],
)
def test_parameters_beyond_any_meaning_are_refused_not_overflowed(
    spec: str, pugh: optimiser.Instance
) -> None:
    with pytest.raises(optimiser.InputError, match="must be at most 1e\\+12 in size"):
        optimiser.solve(pugh, constraints=[spec])
