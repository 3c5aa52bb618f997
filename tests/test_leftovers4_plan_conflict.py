"""The planner's explanation of a share cap that cannot give a region what another constraint
forces it to receive (track leftovers4, item 1): `triage plan -c max_coverage_gap:gap=0 -c
max_share_of_supply:share=0.3` used to say only "... cannot hold together over the horizon (20
units delivered, ...)"; it now names the region and the fewest units it must receive net,
proved by a solve on the planner's model (optimiser/multiperiod/conflict.py), against the cap.

Hand-solved instances: A has no units of its own and 10 patients (day 1, 5 days each); B has
10 units and 10 patients; C (when present) no units and 8 patients; 20 or 30 units delivered on
day 0 from one depot, every lead time 1 day. Coverage y_r = (c_r + X_r) / P_r with P = 10, 10,
8. Without transfers B cannot lend, so y_B >= 1 and max_coverage_gap(gap=0) needs every
coverage at least 1: X_A >= 10 (and X_C >= 8), against a cap of floor(share * supply).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_multiperiod_support import write_instance

from optimiser.constraints import parse_constraint
from optimiser.multiperiod import conflict, load_multiperiod
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.planner import plan
from optimiser.solver import SolveStatus


def instance(tmp_path: Path, *, transfers: bool, third: bool = False, delivered: int = 20) -> Path:
    regions = [
        {"region": "A", "capacity": 0, "peak_demand": 10, "los_days": 5},
        {"region": "B", "capacity": 10, "peak_demand": 10, "los_days": 5},
    ]
    demand = {"A": [0, 10, 0, 0, 0, 0], "B": [0, 10, 0, 0, 0, 0]}
    if third:
        regions.append({"region": "C", "capacity": 0, "peak_demand": 8, "los_days": 5})
        demand["C"] = [0, 8, 0, 0, 0, 0]
    return write_instance(
        tmp_path / f"cap-{transfers}-{third}",
        regions,
        demand,
        deliveries=[(0, delivered, "D1")],
        multiperiod={"depots": ["D1"], "transfers": transfers},
    )


def explained(folder: Path, *specs: str) -> str:
    result = plan(load_multiperiod(folder), list(specs), price_of_fairness=False)
    assert result.status is SolveStatus.INFEASIBLE
    return result.explanation or ""


def test_the_gap_and_the_cap_name_the_region_and_the_units(tmp_path: Path) -> None:
    text = explained(
        instance(tmp_path, transfers=False),
        "max_coverage_gap:gap=0",
        "max_share_of_supply:share=0.3",
    )
    assert text == (
        "infeasible: max_coverage_gap(gap=0) needs at least 10 units in A, received net by its "
        "last useful day, but max_share_of_supply(share=0.3) allows a region at most 6 units "
        "(0.3 of the 20 units delivered over the horizon)"
    )
    page = (Path(__file__).parents[1] / "docs" / "multiperiod.md").read_text(encoding="utf-8")
    shown = page.split("```text\ninfeasible: max_coverage_gap(gap=0)", 1)[1].split("```", 1)[0]
    assert " ".join(("infeasible: max_coverage_gap(gap=0)" + shown).split()) == text


def test_two_regions_above_the_cap_are_both_named(tmp_path: Path) -> None:
    text = explained(
        instance(tmp_path, transfers=False, third=True, delivered=30),
        "max_coverage_gap:gap=0",
        "max_share_of_supply:share=0.2",
    )
    assert "needs at least 10 units in A and 8 in C, received net by each region's last " in text
    assert "allows a region at most 6 units (0.2 of the 30 units delivered" in text
    assert "B" not in text.split("but")[0]


def test_regions_beyond_the_named_are_counted(tmp_path: Path) -> None:
    """Four regions without units, 10 patients each, no transfers: min_units(units=8) needs 8 in
    each, the cap is floor(0.1 x 50) = 5; three are solved and named, the fourth counted."""
    names = "ABCD"
    folder = write_instance(
        tmp_path / "four",
        [{"region": r, "capacity": 0, "peak_demand": 10, "los_days": 5} for r in names],
        {r: [0, 10, 0, 0, 0, 0] for r in names},
        deliveries=[(0, 50, "D1")],
        multiperiod={"depots": ["D1"], "transfers": False},
    )
    text = explained(folder, "min_units:units=8", "max_share_of_supply:share=0.1")
    assert text == (
        "infeasible: min_units(units=8) needs at least 8 units in A, 8 in B and 8 in C, received "
        "net by each region's last useful day (and 1 more region above the cap in the plan with "
        "the fewest units received, not solved one by one), but max_share_of_supply(share=0.1) "
        "allows a region at most 5 units (0.1 of the 50 units delivered over the horizon)"
    )


def test_a_floor_against_the_cap(tmp_path: Path) -> None:
    """min_units(units=8): A (excess 10) must receive 8, whatever the transfers."""
    for transfers in (False, True):
        text = explained(
            instance(tmp_path, transfers=transfers),
            "min_units:units=8",
            "max_share_of_supply:share=0.3",
        )
        assert "min_units(units=8) needs at least 8 units in A" in text
        assert "at most 6 units" in text


def test_transfers_make_the_hand_bound_wrong(tmp_path: Path) -> None:
    """With transfers B may lend all its units (donor share 0): sent on day 1 or later they
    reach A after its last useful day (day 1), so X_A = 0 and X_B = -10 give both coverage 0
    and meet max_coverage_gap(gap=0). The 'X_A >= 10' read off the rule by hand is no bound:
    the least X_r solved on the model is 0 for A and -10 for B, and even a cap of 0 is met."""
    folder = instance(tmp_path, transfers=True)
    gap = parse_constraint("max_coverage_gap:gap=0")
    engine = PlanEngine(load_multiperiod(folder), [gap])
    least = conflict.LeastReceived(engine, [gap])
    try:
        for r, units in ((0, 0.0), (1, -10.0)):
            weights = np.zeros(2)
            weights[r] = 1.0
            status, _, bound = least.solve(weights)
            assert status is SolveStatus.OPTIMAL and bound == pytest.approx(units)
    finally:
        least.release()
    result = plan(
        load_multiperiod(folder),
        ["max_coverage_gap:gap=0", "max_share_of_supply:share=0"],
        price_of_fairness=False,
    )
    assert result.status is SolveStatus.OPTIMAL


def test_a_feasible_plan_never_runs_the_explanation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> str:
        raise AssertionError("explained a feasible plan")

    monkeypatch.setattr(conflict, "cap_conflict", boom)
    monkeypatch.setattr("optimiser.multiperiod.engine.cap_conflict", boom)
    folder = instance(tmp_path, transfers=False, delivered=30)
    constraints = [
        "max_coverage_gap:gap=0",
        "max_share_of_supply:share=0.4",
    ]
    result = plan(load_multiperiod(folder), constraints)
    assert result.status is SolveStatus.OPTIMAL
