"""Fairness over the horizon never asks for units a region cannot use (issue 9, "Rules that
protect patients"; docs/multiperiod.md, "Fairness over the horizon"): the rules measure X_r on
each region's last useful day D_r, leave out regions that can never use a unit and cap stop
levels and floors at U_r, the most units a region can use at once. check-plan names a plan
that parks units where they can treat no one."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multiperiod_model import exact_lives, pyomo_objective
from test_multiperiod_support import close, write_instance

from optimiser.multiperiod import check_plan, load_multiperiod, model_data, plan
from optimiser.solver import SolveStatus


def idle_member(tmp_path: Path) -> Path:
    """A and B look alike in regions.csv (no units, peak demand 4, same population: w = 1),
    but only A has patients: 4 arrive on day 1 and stay beyond the 5-day horizon. The depot
    receives 6 units on day 0 (lead 1). B can never use a unit."""
    return write_instance(
        tmp_path / "idle",
        [
            {"region": "A", "capacity": 0, "peak_demand": 4, "los_days": 9},
            {"region": "B", "capacity": 0, "peak_demand": 4, "los_days": 9},
        ],
        {"A": [0, 4, 0, 0, 0], "B": [0, 0, 0, 0, 0]},
        deliveries=[(0, 6, "D")],
        leads=[("D", "A", 1), ("D", "B", 1)],
        multiperiod={"transfers": False},
    )


def early_peak(tmp_path: Path) -> Path:
    """A: 4 patients arrive on day 1 and stay beyond the horizon (gain 1). C: 2 patients arrive
    on day 1 and stay one day (gain 0.1): C can use 2 units, on day 1 only (D_C = 1). The depot
    receives 4 units on day 0 and 2 on day 3 (lead 1: those arrive on the last day, 4)."""
    return write_instance(
        tmp_path / "early",
        [
            {"region": "A", "capacity": 0, "peak_demand": 4, "los_days": 9},
            {"region": "C", "capacity": 0, "peak_demand": 2, "los_days": 1, "survival_with": 0.1},
        ],
        {"A": [0, 4, 0, 0, 0], "C": [0, 2, 0, 0, 0]},
        deliveries=[(0, 4, "D"), (3, 2, "D")],
        leads=[("D", "A", 1), ("D", "C", 1)],
        multiperiod={"transfers": False},
    )


def write_plan(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "hand.csv"
    path.write_text("\n".join(["kind,day,from,to,units,arrives,cohort_day", *lines]) + "\n")
    return path


def test_usefulness_by_hand(tmp_path: Path) -> None:
    days, usable = model_data(load_multiperiod(idle_member(tmp_path))).usefulness()
    assert days.tolist() == [1, -1] and usable.tolist() == [4.0, 0.0]
    days, usable = model_data(load_multiperiod(early_peak(tmp_path))).usefulness()
    assert days.tolist() == [1, 1] and usable.tolist() == [4.0, 2.0]


@pytest.mark.parametrize("method", ["exact", "rounding"])
def test_threshold_sends_nothing_to_a_region_that_cannot_use_it(
    tmp_path: Path, method: str
) -> None:
    """Measured on the last day, threshold(tau=0) held X_A and X_B within one unit of each
    other: A got 3 units (3 lives) and B 2 it could never use. B is no member now: A takes 4,
    B nothing, and both models agree."""
    folder = idle_member(tmp_path)
    rule = ("threshold:tau=0",)
    inst = load_multiperiod(folder)
    result = plan(inst, list(rule), method=method, mip_gap=0.0, price_of_fairness=False)
    assert result.status is SolveStatus.OPTIMAL
    assert close(result.lives_saved, 4.0)
    assert result.regions.loc["B", "net_received"] == 0
    assert check_plan(inst, result).ok
    assert close(exact_lives(folder, rule), 4.0)
    assert close(pyomo_objective(folder, rule), 4.0)


def test_check_plan_names_units_parked_where_they_treat_no_one(tmp_path: Path) -> None:
    """The plan the last-day rule asked for (3 units to A, 2 to B sent on the second-to-last
    day, arriving on the last): check-plan's region table says when each region can use a unit
    and names B's 2 parked units; no rule asks for them (B is no member), so none is broken
    by leaving them in the depot (4 units to A)."""
    inst = load_multiperiod(idle_member(tmp_path))
    lines = ["ship,0,D,A,3,1,", "admit,1,A,A,3,1,", "ship,3,D,B,2,4,"]
    check = check_plan(inst, write_plan(tmp_path, lines), ["threshold:tau=0"])
    assert check.regions["last_useful_day"].to_dict() == {"A": 1, "B": -1}
    assert check.regions["units_parked_after_last_useful_day"].to_dict() == {"A": 0, "B": 2}
    better = ["ship,0,D,A,4,1,", "admit,1,A,A,4,1,"]
    assert check_plan(inst, write_plan(tmp_path, better), ["threshold:tau=0"]).ok


def test_a_floor_is_met_while_the_region_can_use_it(tmp_path: Path) -> None:
    """min_units(2): on the last day C's floor was met by the 2 units arriving on day 4,
    after its patients had gone (A took all 4 early units: 4 lives). On C's last useful day
    (1) it needs 2 units then: A 2, C 2 (2 + 0.2 lives), and both models agree. check-plan
    names the old plan: C short on day 1, with the 2 units that reached it on day 4."""
    folder = early_peak(tmp_path)
    rule = ("min_units:units=2",)
    inst = load_multiperiod(folder)
    result = plan(inst, list(rule), mip_gap=0.0, price_of_fairness=False)
    assert result.status is SolveStatus.OPTIMAL
    assert close(result.lives_saved, 2.2)
    assert check_plan(inst, result).ok
    assert close(pyomo_objective(folder, rule), 2.2)
    old = ["ship,0,D,A,4,1,", "admit,1,A,A,4,1,", "ship,3,D,C,2,4,"]
    check = check_plan(inst, write_plan(tmp_path, old), list(rule))
    assert [(v["rule"], v["day"]) for v in check.violations] == [("fairness", 1)]
    assert check.violations[0]["message"] == (
        "min_units(units=2): C receives 0 units net by day 1 (its last useful day), floor 2; "
        "it receives 2 more after that day (2 on day 4), which treat no one"
    )
    assert check.regions.loc["C", "units_parked_after_last_useful_day"] == 2
