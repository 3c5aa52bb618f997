"""Loading instances (folder and DataFrames) and the derived quantities of the model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import optimiser
from optimiser.engine import regional_data

ROW = {"population": 1000, "capacity": 0, "peak_demand": 10}


def test_pugh2021_is_table_1_of_the_paper(pugh: optimiser.Instance) -> None:
    # Table 1: population, critical care capacity, projected peak demand, excess demand.
    assert pugh.region_ids == ["A", "B", "C", "D"]
    assert pugh.supply == 1000
    regions = pugh.regions
    assert regions["population"].tolist() == [9_000_000, 10_500_000, 5_500_000, 7_000_000]
    assert regions["capacity"].tolist() == [1000, 700, 300, 500]
    assert regions["peak_demand"].tolist() == [2000, 2500, 2200, 1000]
    assert pugh.excess_demand.tolist() == [1000, 1800, 1900, 500]
    # No survival, length-of-stay or staffing data: the documented defaults.
    assert regions["survival_with"].tolist() == [1.0] * 4
    assert regions["survival_without"].tolist() == [0.0] * 4
    assert pugh.turnover.tolist() == [1.0] * 4
    assert pugh.staff_cap.tolist() == [math.inf] * 4
    assert pugh.constraints == ()
    assert regions.loc["A", "name"] == "Capital"


def test_excess_demand_is_clipped_at_zero(make_instance) -> None:
    inst = make_instance(
        [{"region": "A", **ROW, "capacity": 25}, {"region": "B", **ROW, "capacity": 4}], supply=3
    )
    assert inst.excess_demand.tolist() == [0.0, 6.0]


def test_horizon_defaults_to_unweighted_mean_los_and_missing_los_uses_it(make_instance) -> None:
    # H = mean(2, 4, 12) = 6 (not the median 4, nor population-weighted); the region without
    # los_days is not counted and uses H itself.
    inst = make_instance(
        [
            {"region": "A", **ROW, "los_days": 2},
            {"region": "B", **ROW, "los_days": 4, "population": 10**6},
            {"region": "C", **ROW, "los_days": 12},
            {"region": "D", **ROW},
        ],
        supply=3,
    )
    assert inst.horizon == 6.0
    assert inst.los.tolist() == [2.0, 4.0, 12.0, 6.0]
    # t_r = H / los_r
    assert inst.turnover.tolist() == pytest.approx([3.0, 1.5, 0.5, 1.0])


def test_horizon_days_overrides_the_mean_and_default_is_one(make_instance) -> None:
    rows = [{"region": "A", **ROW, "los_days": 5}, {"region": "B", **ROW}]
    inst = make_instance(rows, supply=3, horizon_days=20)
    assert inst.horizon == 20.0
    assert inst.turnover.tolist() == [4.0, 1.0]
    no_los = make_instance([{"region": "A", **ROW}], supply=3)
    assert no_los.horizon == 1.0
    assert no_los.turnover.tolist() == [1.0]


def test_gain_and_defaults_table(make_instance) -> None:
    # [defaults] fills every row that leaves a column blank; explicit cells win.
    inst = make_instance(
        [
            {"region": "A", **ROW, "survival_with": 0.8},
            {"region": "B", **ROW, "survival_with": None},
        ],
        supply=3,
        defaults={"survival_with": 0.6, "survival_without": 0.1, "staff_cap": 7},
    )
    assert inst.gain.tolist() == pytest.approx([0.7, 0.5])
    assert inst.staff_cap.tolist() == [7.0, 7.0]


def test_rai_is_excess_times_survival_over_relative_los_and_pressure(make_instance) -> None:
    inst = make_instance(
        [
            {"region": "A", **ROW, "survival_with": 0.5, "los_days": 5, "pressure": 0.5},
            {"region": "B", **ROW, "survival_with": 0.8, "los_days": 15, "pressure": 1.0},
        ],
        supply=3,
    )
    # mean los 10: relative los 0.5 and 1.5; E = 10 for both.
    assert inst.rai.tolist() == pytest.approx([10 * 0.5 / (0.5 * 0.5), 10 * 0.8 / (1.5 * 1.0)])


def test_folder_and_frames_give_the_same_instance(pugh: optimiser.Instance) -> None:
    frame = pd.read_csv(pugh.path / "regions.csv")
    built = optimiser.instance_from_frames(frame, 1000, name="pugh2021")
    pd.testing.assert_frame_equal(built.regions, pugh.regions)
    assert built.fingerprint() == pugh.fingerprint()
    # a frame indexed by region is accepted too
    indexed = optimiser.instance_from_frames(frame.set_index("region"), 1000, name="pugh2021")
    pd.testing.assert_frame_equal(indexed.regions, pugh.regions)


def test_dict_round_trip(make_instance) -> None:
    inst = make_instance(
        [{"region": "A", **ROW, "staff_cap": 3}, {"region": "B", **ROW, "los_days": 2}],
        supply=5,
        tiers=[
            {"region": "A", "share": 0.25, "survival_with": 0.9},
            {"region": "A", "share": 0.75, "survival_with": 0.3},
        ],
        constraints=[optimiser.constraint("min_units", units=2)],
    )
    again = optimiser.instance_from_dict(optimiser.instance_to_dict(inst))
    pd.testing.assert_frame_equal(again.regions, inst.regions)
    pd.testing.assert_frame_equal(again.tiers, inst.tiers)
    assert again.constraints == inst.constraints
    assert again.fingerprint() == inst.fingerprint()


def test_tiers_split_excess_demand(make_instance) -> None:
    inst = make_instance(
        [{"region": "A", **ROW, "survival_without": 0.1}, {"region": "B", **ROW}],
        supply=5,
        tiers=[
            {"region": "A", "share": 0.3, "survival_with": 0.9},
            {"region": "A", "share": 0.7, "survival_with": 0.4},
        ],
    )
    data = regional_data(inst)
    # tier bounds share_k * E_r, gains survival_with_k - survival_without_r
    assert [b for b, _ in data.tiers[0]] == pytest.approx([3.0, 7.0])
    assert [g for _, g in data.tiers[0]] == pytest.approx([0.8, 0.3])
    assert data.tiers[1] == ((10.0, 1.0),)


def test_constraints_in_toml_are_active_by_default(instance_dir) -> None:
    toml = instance_dir / "instance.toml"
    toml.write_text(toml.read_text() + '\n[[constraints]]\nkind = "min_units"\nunits = 50\n')
    inst = optimiser.load_instance(instance_dir)
    assert [c.label for c in inst.constraints] == ["min_units(units=50)"]
    result = optimiser.solve(inst, price_of_fairness=False)
    assert result.constraints == ("min_units(units=50)",)
    without = optimiser.solve(inst, default_constraints=False, price_of_fairness=False)
    assert without.constraints == ()


def test_with_supply_validates(pugh: optimiser.Instance) -> None:
    assert pugh.with_supply(7).supply == 7
    assert pugh.with_supply(7).fingerprint() != pugh.fingerprint()
    for bad in (-1, 2.5, "3", True, math.nan):
        with pytest.raises(optimiser.InputError, match="supply"):
            pugh.with_supply(bad)


def test_regional_data_arrays_follow_file_order(pugh: optimiser.Instance) -> None:
    data = regional_data(pugh, supply=12)
    assert data.regions == ("A", "B", "C", "D")
    assert data.supply == 12
    np.testing.assert_array_equal(data.excess_demand, [1000, 1800, 1900, 500])
