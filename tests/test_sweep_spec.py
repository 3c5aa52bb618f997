"""`--vary` specifications, variant tables and how one variant changes an instance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import optimiser
from optimiser.errors import InputError
from optimiser.sweeps.spec import (
    VariantError,
    apply_data,
    apply_variant,
    parse_vary,
    parse_vary_all,
    variant_constraints,
    variant_table,
    vary_from_mapping,
)


@pytest.fixture(scope="module")
def tiered(make_instance):
    rows = [
        {
            "region": "A",
            "population": 1000,
            "capacity": 10,
            "peak_demand": 30,
            "survival_with": 0.6,
            "staff_cap": 15,
        },
        {"region": "B", "population": 2000, "capacity": 5, "peak_demand": 25, "survival_with": 0.5},
        {
            "region": "C",
            "population": 1500,
            "capacity": 20,
            "peak_demand": 10,
            "survival_with": 0.7,
            "los_days": 5,
        },
    ]
    tiers = [
        {"region": "A", "share": 0.5, "survival_with": 0.8},
        {"region": "A", "share": 0.5, "survival_with": 0.4},
    ]
    return make_instance(rows, 30, tiers=tiers)


def test_grid_values_are_exact_and_include_stop(pugh):
    d = parse_vary("per_capita_floor.share=0:1:0.1", pugh)
    assert d.values == tuple(round(0.1 * i, 10) for i in range(11))
    assert 0.3 in d.values and d.values[-1] == 1.0
    s = parse_vary("supply=500:3000:100", pugh)
    assert len(s.values) == 26 and s.values[0] == 500 and s.values[-1] == 3000
    # stop not on the grid: the last grid point below it
    assert parse_vary("supply=0:10:4", pugh).values == (0, 4, 8)


def test_names_targets_and_regions(pugh):
    d = parse_vary("peak_demand*=0.9:1.1:0.1@A,B", pugh)
    assert (d.name, d.target, d.column, d.scale, d.regions) == (
        "peak_demand*@A,B",
        "column",
        "peak_demand",
        True,
        ("A", "B"),
    )
    assert len(d.values) == 3
    d = parse_vary("capacity=100,200@C", pugh)
    assert (d.name, d.scale, d.values, d.listed) == ("capacity@C", False, (100.0, 200.0), True)
    d = parse_vary("survival_with*=0.8:1.2", pugh)
    assert d.values is None and (d.low, d.high) == (0.8, 1.2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("supply", "expected NAME=VALUES"),
        ("supply=", "no values"),
        ("suply=1:2:1", "unknown input 'suply'"),
        ("supply=10:5:1", "stop 5 is below start 10"),
        ("supply=0:10:0", "step must be > 0"),
        ("supply=0:10:2.5", "whole number"),
        ("supply=-5,10", "whole number"),
        ("supply=a:b:c", "not a number"),
        ("supply=1:inf:1", "must be finite"),
        ("supply=1,2@A", "national"),
        ("per_capita_floor.share=0:2:0.5", "must be <= 1"),
        ("nosuch.share=0:1:0.5", "unknown constraint kind 'nosuch'"),
        ("per_capita_floor.level=0:1:0.5", "has no parameter 'level'"),
        ("threshold.index=0:1:1", "not numeric"),
        ("per_capita_floor.share=0,0.5@A", "drop '@'"),
        ("survival_with*=-1:1:1", "factor must be >= 0"),
        ("population*=0,1", "must stay > 0"),
        ("peak_demand*=1,2@Z", "unknown region Z"),
        ("peak_demand*=1,2@", "no region after '@'"),
        ("survival_with=0.5,1.5", "probability"),
        ("supply=1,1", "listed twice"),
        ("horizon_days=0,10", "must be > 0"),
        ("supply=0:100000000:1", "more than"),
        # the engine's supply limit (triage solve refuses the same): no int64 overflow
        ("supply=1e19", "must be at most 1,000,000,000"),
        ("supply=2e9", "must be at most 1,000,000,000"),
        ("supply=0:3e9:1e9", "must be at most 1,000,000,000"),
        ("supply=0:2e9", "supply must be in [0, 1,000,000,000]"),
        ("supply=-1:10", "supply must be in [0, 1,000,000,000]"),
    ],
)
def test_bad_specs_are_clear_input_errors(pugh, text, fragment):
    with pytest.raises(InputError) as info:
        parse_vary(text, pugh)
    assert fragment in str(info.value)


def test_varying_a_kind_twice_active_is_ambiguous(pugh):
    base = optimiser.constraint("min_units", units=1), optimiser.constraint("min_units", units=2)
    with pytest.raises(InputError, match="ambiguous"):
        parse_vary("min_units.units=0:10:5", pugh, base)


def test_duplicate_dimension_refused(pugh):
    with pytest.raises(InputError, match="varied twice"):
        parse_vary_all(["supply=1,2", "supply=3,4"], pugh)


def test_mapping_forms():
    texts = vary_from_mapping(
        {
            "supply": range(500, 3001, 500),
            "survival_with*": [0.9, 1.1],
            "peak_demand*@A,B": "0.9:1.1:0.1",
            "horizon_days": 20,
        }
    )
    assert texts == [
        "supply=500:3000:500",
        "survival_with*=0.9,1.1",
        "peak_demand*=0.9:1.1:0.1@A,B",
        "horizon_days=20",
    ]


def test_grid_order_and_size(pugh):
    dims = parse_vary_all(["supply=1,2,3", "per_capita_floor.share=0,0.5"], pugh)
    table = variant_table(dims)
    assert list(table.columns) == ["supply", "per_capita_floor.share"]
    assert table["supply"].tolist() == [1, 1, 2, 2, 3, 3]  # first dimension varies slowest
    assert table["supply"].dtype == np.int64
    with pytest.raises(InputError, match="needs --samples"):
        variant_table(parse_vary_all(["supply=1:10"], pugh))


def test_samples_are_seeded_and_within_ranges(pugh):
    dims = parse_vary_all(["supply=100:900", "survival_with*=0.5:0.9", "capacity*=0.5,2"], pugh)
    a = variant_table(dims, samples=200, seed=7)
    b = variant_table(dims, samples=200, seed=7)
    c = variant_table(dims, samples=200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a["supply"].between(100, 900).all() and (a["supply"] == a["supply"].round()).all()
    assert a["survival_with*"].between(0.5, 0.9).all() and a["survival_with*"].nunique() > 150
    assert set(a["capacity*"]) == {0.5, 2.0}


def test_apply_data_scales_named_regions_only(tiered):
    dims = parse_vary_all(["peak_demand*=0.5,2@A,C", "staff_cap*=0.5,1.5"], tiered)
    out = apply_data(tiered, dims, {"peak_demand*@A,C": 2.0, "staff_cap*": 0.5})
    assert out.regions.loc["A", "peak_demand"] == 60 and out.regions.loc["C", "peak_demand"] == 20
    assert out.regions.loc["B", "peak_demand"] == 25
    assert out.regions.loc["A", "staff_cap"] == 7  # 7.5 rounded down to whole units
    assert math.isnan(out.regions.loc["B", "staff_cap"])  # unlimited stays unlimited
    assert tiered.regions.loc["A", "peak_demand"] == 30  # the original is untouched


def test_apply_data_scales_tiers_with_survival(tiered):
    dims = parse_vary_all(["survival_with*=0.5,1.25"], tiered)
    out = apply_data(tiered, dims, {"survival_with*": 1.25})
    assert out.tiers["survival_with"].tolist() == pytest.approx([1.0, 0.5])
    assert out.regions["survival_with"].tolist() == pytest.approx([0.75, 0.625, 0.875])
    with pytest.raises(VariantError, match="region 'C': survival_with is a probability"):
        apply_data(
            tiered, parse_vary_all(["survival_with*=1.5,2"], tiered), {"survival_with*": 1.5}
        )


def test_survival_without_above_with_is_a_variant_error(pugh):
    dims = parse_vary_all(["survival_without=0.5,1"], pugh)
    assert (
        apply_data(pugh, dims, {"survival_without": 1.0}).regions["survival_without"].eq(1.0).all()
    )
    dims = parse_vary_all(["survival_with*=0.5,1"], pugh)
    ok = apply_data(pugh, dims, {"survival_with*": 0.5})
    assert ok.regions["survival_with"].eq(0.5).all()


def test_variant_constraints_replace_or_add(pugh):
    base = (optimiser.constraint("min_units", units=10),)
    dims = parse_vary_all(["min_units.units=0,20", "per_capita_floor.share=0,0.5"], pugh, base)
    specs = variant_constraints(
        base, dims, {"min_units.units": 20.0, "per_capita_floor.share": 0.5}
    )
    assert [s.label for s in specs] == ["min_units(units=20)", "per_capita_floor(share=0.5)"]
    inst, specs2 = apply_variant(pugh, base, parse_vary_all(["supply=10,20"], pugh), {"supply": 20})
    assert inst.supply == 20 and specs2 == base


def test_supply_at_the_engines_limit_is_accepted(pugh):
    assert parse_vary("supply=1e9", pugh).values == (1e9,)
    dims = parse_vary_all(["supply=999999990:1000000000"], pugh)
    table = variant_table(dims, samples=50, seed=1)
    assert table["supply"].between(999_999_990, 1_000_000_000).all()


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_a_bad_seed_is_an_input_error(pugh, seed):
    from optimiser.sweeps import run_sweep

    with pytest.raises(InputError, match=r"option 'seed': must be a whole number >= 0"):
        run_sweep(pugh, ["supply=1:10"], samples=3, seed=seed)
