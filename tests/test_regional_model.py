"""The regional model as the product builds it (models/regional.py, arrays) against the same
model stated independently in Pyomo (tests/pyomo_regional.py) and compiled by Pyomo's
standard-form compiler: the same columns in the same order, the same rows, bounds, integrality
and coefficients, bit for bit, on the shipped instances and on random ones with every family.
Also: building grows linearly with the number of regions.
"""

from __future__ import annotations

import gc
import math
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyomo_regional import build_pyomo

import optimiser
from models.regional import RegionalOptions, build_regional
from optimiser.engine import active_constraints, regional_data
from optimiser.solver import HighsModel

ALL_FAMILIES = [
    "per_capita_floor:share=0.3",
    "excess_per_capita_floor:share=0.5",
    "coverage_floor:level=0.6",
    "capacity_per_capita_floor:beds_per_100k=10",
    "min_units:units=5",
    "max_coverage_gap:gap=0.5",
    "threshold:tau=0",
    "threshold:tau=5,index=excess_demand",
    "threshold:tau=0.5,index=rai_relative",
    "prioritarian",
]


def assert_same_model(instance: optimiser.Instance, constraints: list[str]) -> None:
    active = active_constraints(instance, constraints, default_constraints=False)
    data = regional_data(instance)
    ours = build_regional(data, RegionalOptions(constraints=active))
    reference = HighsModel(build_pyomo(data, active))
    lp = reference.highs.getLp()
    p = ours.program
    pairs = {
        "column lower bounds": (p.col_lower, lp.col_lower_),
        "column upper bounds": (p.col_upper, lp.col_upper_),
        "row lower bounds": (p.row_lower, lp.row_lower_),
        "row upper bounds": (p.row_upper, lp.row_upper_),
        "column starts": (p.start, lp.a_matrix_.start_),
        "row indices": (p.index, lp.a_matrix_.index_),
        "coefficients": (p.value, lp.a_matrix_.value_),
        "integrality": (p.integrality, [int(v) for v in lp.integrality_]),
    }
    for what, (mine, theirs) in pairs.items():
        assert np.array_equal(np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float)), what
    # the handles name the same variables
    py = reference.columns
    assert [py[j].name for j in ours.x] == [f"x[{r}]" for r in data.regions]
    assert [py[j].name for j in ours.shortfall] == [
        f"shortfall[{data.regions[i]}]" for i in ours.contested
    ]
    assert [py[j].name for j in ours.u] == [
        f"u[{data.regions[r]},{k}]" for r, k in zip(ours.u_region, ours.u_tier, strict=True)
    ]
    # the objective: the lives coefficients Pyomo compiles from its expression
    model = reference.columns[0].model()
    idx, val, _ = reference.linear(model.lives)
    expected = np.zeros(len(py))
    expected[idx] = val
    assert np.array_equal(ours.lives, expected)


@pytest.mark.parametrize("name", ["pugh2021", "us-states-2020", "italy-2020-wave1"])
def test_shipped_instances_build_the_reference_model(name: str) -> None:
    instance = optimiser.load_instance(f"instances/{name}")
    if not instance.supply:
        instance = instance.with_supply(1000)
    assert_same_model(instance, [])
    assert_same_model(instance, ALL_FAMILIES)
    for family in ALL_FAMILIES:
        assert_same_model(instance, [family])


@st.composite
def instances(draw: st.DrawFn) -> optimiser.Instance:
    """Small instances with what changes a model's shape: no demand, zero gains, tiers (some of
    zero gain), fractional demand and capacity, staff caps, missing lengths of stay."""
    n = draw(st.integers(1, 6))
    rows, tiers = [], []
    for i in range(n):
        capacity = draw(st.sampled_from([0, 3, 10.5, 20]))
        rows.append(
            {
                "region": f"R{i}",
                "population": draw(st.integers(1, 10**6)),
                "capacity": capacity,
                "peak_demand": draw(st.sampled_from([0, 5, 12.25, 30, 41])),
                "survival_with": draw(st.sampled_from([0.3, 0.5, 0.9])),
                "survival_without": draw(st.sampled_from([0.0, 0.3])),
                "los_days": draw(st.sampled_from([None, 4.0, 9.5])),
                "staff_cap": draw(st.one_of(st.none(), st.integers(0, 40))),
                "weight": draw(st.sampled_from([0.5, 1.0, 3.0])),
            }
        )
        if draw(st.booleans()):
            for share in draw(st.sampled_from([(0.3, 0.7), (1.0,), (0.2, 0.3, 0.5)])):
                tiers.append(
                    {
                        "region": f"R{i}",
                        "share": share,
                        "survival_with": draw(st.sampled_from([0.3, 0.6, 1.0])),
                    }
                )
    return optimiser.instance_from_frames(
        pd.DataFrame(rows),
        draw(st.integers(0, 150)),
        tiers=pd.DataFrame(tiers) if tiers else None,
        horizon_days=draw(st.sampled_from(["mean_los", 10.0])),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instance=instances(),
    constraints=st.lists(st.sampled_from(ALL_FAMILIES), max_size=4, unique=True),
)
def test_random_instances_build_the_reference_model(instance, constraints) -> None:
    assert_same_model(instance, constraints)


def test_building_is_linear_in_regions() -> None:
    """Build time grows linearly with the regions (every family built): the slope of log(time)
    against log(regions), over 10,000 to 80,000 regions, is about 1 (quadratic building: 2).

    Under load a single timing can be several times too long (another process, a page fault),
    so the sizes are timed in interleaved rounds with the garbage collector off, each size's
    best CPU time kept, and the slope fitted through all four sizes: one slow reading of one
    size cannot make a linear build look quadratic (a ratio of two readings could)."""

    def instance(n: int) -> optimiser.Instance:
        rng = np.random.default_rng(n)
        capacity = rng.integers(10, 500, n)
        rows = pd.DataFrame(
            {
                "region": [f"R{i}" for i in range(n)],
                "population": rng.integers(100_000, 5_000_000, n),
                "capacity": capacity,
                "peak_demand": capacity + rng.integers(0, 400, n),
                "survival_with": 0.5,
                "survival_without": 0.05,
                "los_days": rng.uniform(5, 15, n).round(1),
                "staff_cap": capacity,
            }
        )
        return optimiser.instance_from_frames(rows, int(n * 100), horizon_days=30.0)

    sizes = (10_000, 20_000, 40_000, 80_000)
    inputs = {}
    for n in sizes:
        inst = instance(n)
        inputs[n] = (regional_data(inst), active_constraints(inst, ALL_FAMILIES,
                                                             default_constraints=False))
    best = dict.fromkeys(sizes, math.inf)
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(5):
            for n, (data, active) in inputs.items():
                t0 = time.process_time()
                build_regional(data, RegionalOptions(constraints=active))
                best[n] = min(best[n], time.process_time() - t0)
    finally:
        if collecting:
            gc.enable()
    slope = float(np.polyfit(np.log(sizes), np.log([best[n] for n in sizes]), 1)[0])
    assert slope < 1.4, (slope, best)


def test_generator_is_seeded_and_loads(tmp_path) -> None:
    from optimiser.generator import RegionalSpec, generate_regional, regional_frame

    spec = RegionalSpec(regions=500, seed=3)
    first, supply = regional_frame(spec)
    again, same_supply = regional_frame(spec)
    assert first.equals(again) and supply == same_supply
    assert not first.equals(regional_frame(RegionalSpec(regions=500, seed=4))[0])
    folder = generate_regional(spec, tmp_path / "synthetic")
    instance = optimiser.load_instance(folder)
    assert len(instance.regions) == 500 and instance.supply == supply
    result = optimiser.solve(instance, ["min_units:units=2"])
    assert result.status == "optimal" and sum(result.allocation.values()) <= supply
