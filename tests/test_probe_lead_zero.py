"""Lead times of 0 days in check-plan's replay (track probe).

lead_times.csv allows 0 days (docs/multiperiod.md, "Data"), and the model counts a unit that
leaves on day d with lead 0 as on hand in its destination on day d (h_{r,d} takes
x_{k,r,d-0}). The replay (simulate.py) delivered day d's arrivals before day d's rows left, so
a lead-0 row's units were put in transit for a day already past and never arrived: an optimal
plan that used a lead-0 lane was reported as admitting patients with no free unit (or a region
sending units it "does not hold"), and its survivors were counted short.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multiperiod_support import close, write_instance

from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.check import check_plan
from optimiser.multiperiod.planner import plan


def relay(tmp_path: Path) -> Path:
    """Depot D gets 1 unit on day 1, reaching A the same day (lead 0) and B only through A
    (A -> B lead 0; D -> B lead 9, beyond the horizon); B's patient arrives on day 1."""
    return write_instance(
        tmp_path / "relay",
        [
            {"region": "A", "capacity": 0, "los_days": 1},
            {"region": "B", "capacity": 0, "los_days": 1},
        ],
        {"A": [0, 0, 0], "B": [0, 1, 0]},
        deliveries=[(1, 1, "D")],
        leads=[("D", "A", 0), ("D", "B", 9), ("A", "B", 0)],
    )


@pytest.mark.parametrize("method", ["exact", "rounding"])
def test_plans_using_lead_zero_lanes_replay_as_planned(tmp_path: Path, method: str) -> None:
    inst = load_multiperiod(relay(tmp_path))
    result = plan(inst, price_of_fairness=False, method=method)
    assert result.lives_saved == pytest.approx(1.0)
    check = check_plan(inst, result)
    assert check.ok, check.violations
    assert close(check.survivors, result.lives_saved)


def test_a_same_day_relay_is_accepted_in_any_row_order(tmp_path: Path) -> None:
    """The transfer out of A is listed before the shipment that brings A the unit: a day's
    movements are one net flow in the model, so the order of the rows does not matter."""
    inst = load_multiperiod(relay(tmp_path))
    path = tmp_path / "hand.csv"
    path.write_text(
        "kind,day,from,to,units,arrives,cohort_day\n"
        "transfer,1,A,B,1,1,\n"
        "ship,1,D,A,1,1,\n"
        "admit,1,B,B,1,1,1\n"
    )
    check = check_plan(inst, path)
    assert check.ok, check.violations
    assert check.survivors == pytest.approx(1.0)


def test_a_lead_zero_unit_is_never_lost(tmp_path: Path) -> None:
    """A shipment that arrives the day it leaves is on hand from that day to the end."""
    inst = load_multiperiod(relay(tmp_path))
    path = tmp_path / "ship.csv"
    path.write_text("kind,day,from,to,units,arrives,cohort_day\nship,1,D,A,1,1,\n")
    check = check_plan(inst, path)
    assert check.regions.loc["A", "units_on_hand_last_day"] == pytest.approx(1.0)
    assert check.regions.loc["A", "net_received"] == pytest.approx(1.0)


def test_lead_zero_plans_replay_as_the_reference_does(tmp_path: Path) -> None:
    """The reference replay (tests/simulate_reference.py) has the same rule: both agree to the
    bit on the relay, in both row orders, and on the planner's own plan."""
    from simulate_reference import reference_simulate
    from test_simulate_fast import assert_same

    from optimiser.multiperiod.plan_io import plan_rows
    from optimiser.multiperiod.simulate import simulate

    inst = load_multiperiod(relay(tmp_path))
    head = "kind,day,from,to,units,arrives,cohort_day\n"
    texts = [
        head + "ship,1,D,A,1,1,\ntransfer,1,A,B,1,1,\nadmit,1,B,B,1,1,1\n",
        head + "transfer,1,A,B,1,1,\nship,1,D,A,1,1,\n",
        head + "ship,1,D,A,1,1,\ntransfer,1,A,B,2,1,\n",  # one unit too many
    ]
    tables = []
    for i, text in enumerate(texts):
        path = tmp_path / f"p{i}.csv"
        path.write_text(text)
        tables.append(plan_rows(path, inst, name=path.name))
    tables.append(plan_rows(plan(inst, price_of_fairness=False).plan, inst, name="plan"))
    for table in tables:
        assert_same(simulate(inst, table), reference_simulate(inst, table))
