"""The sweep's numeric variant data equals, number for number, the full path (apply_data, then
the engine's regional_data); an invalid variant is left to the full path, which names it."""

from __future__ import annotations

import numpy as np
import pytest

import optimiser
from optimiser.engine import regional_data
from optimiser.sweeps.fast import NumericBase
from optimiser.sweeps.spec import COLUMNS, VariantError, apply_data, parse_vary_all

FIELDS = (
    "population",
    "capacity",
    "peak_demand",
    "excess_demand",
    "gain",
    "turnover",
    "staff_cap",
    "weight",
    "rai",
)


@pytest.fixture(scope="module")
def mixed(make_instance) -> optimiser.Instance:
    """Missing los_days and staff caps (NaN), fractional demand, pressure and weights."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(12):
        row = {
            "region": f"Q{i}",
            "population": int(rng.integers(10_000, 900_000)),
            "capacity": int(rng.integers(0, 80)),
            "peak_demand": round(float(rng.uniform(0, 150)), 2),
            "survival_with": round(float(rng.uniform(0.3, 0.8)), 2),
            "survival_without": round(float(rng.uniform(0, 0.2)), 2),
            "pressure": round(float(rng.uniform(0.2, 1)), 2),
            "weight": round(float(rng.uniform(0, 2)), 2),
        }
        if i % 3:
            row["los_days"] = round(float(rng.uniform(4, 14)), 1)
        if i % 4 == 0:
            row["staff_cap"] = int(rng.integers(5, 60))
        rows.append(row)
    return make_instance(rows, 300, name="mixed")


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("which", ["mixed", "us"])
def test_numeric_data_equals_full_path(mixed, which, seed):
    instance = mixed if which == "mixed" else optimiser.load_instance("instances/us-states-2020")
    rng = np.random.default_rng(seed)
    ids = instance.region_ids
    texts, values = [], {}
    for column in rng.choice(COLUMNS, size=4, replace=False):
        named = rng.random() < 0.5
        regions = list(rng.choice(ids, size=3, replace=False)) if named else None
        scale = column in ("population", "los_days", "pressure") or rng.random() < 0.7
        if scale:  # may push a probability above 1: an invalid variant, on purpose
            value = round(float(rng.uniform(0.5, 1.6)), 3)
        else:
            low, high = {
                "staff_cap": (0, 50),
                "capacity": (0, 100),
                "peak_demand": (0, 200),
                "weight": (0, 3),
                "survival_with": (0, 1),
                "survival_without": (0, 1),
            }[str(column)]
            value = (
                float(rng.integers(low, high + 1))
                if column == "staff_cap"
                else round(float(rng.uniform(low, high)), 3)
            )
        text = f"{column}{'*' if scale else ''}={value}" + (
            f"@{','.join(regions)}" if regions else ""
        )
        texts.append(text)
    if rng.random() < 0.5:
        texts.append("horizon_days=9.5")
    dims = parse_vary_all(texts, instance)
    values = {d.name: d.values[0] for d in dims}
    numeric = NumericBase(instance).data(dims, values, supply=instance.supply)
    try:
        full = regional_data(apply_data(instance, dims, values))
    except VariantError:
        assert numeric is None  # left to the full path, which raised the reason
        return
    assert numeric is not None, texts
    for name in FIELDS:
        assert np.array_equal(getattr(numeric, name), getattr(full, name)), (name, texts)
    assert (
        numeric.tiers == full.tiers
        and numeric.regions == full.regions
        and numeric.supply == full.supply
    )


def test_tiered_instances_use_the_full_path(make_instance):
    inst = make_instance(
        [{"region": "A", "population": 10, "capacity": 1, "peak_demand": 5}],
        3,
        tiers=[{"region": "A", "share": 1.0, "survival_with": 0.9}],
    )
    dims = parse_vary_all(["peak_demand*=1,2"], inst)
    assert NumericBase(inst).data(dims, {"peak_demand*": 2.0}, 3) is None
