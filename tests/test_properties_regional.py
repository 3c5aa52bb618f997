"""Property tests (hypothesis) of the regional engine on random small instances.

- Without fairness constraints lives are separable and concave in each region's units, so the
  integer optimum equals an exact greedy: each unit to the highest marginal lives g_rk t_r among
  tiers with room, respecting staff caps.
- No allocation exceeds the supply or a staff cap, whatever constraints are active.
- Prices of fairness are >= 0 (alone and marginal).
- Every baseline rule saves at most the optimum.
- evaluate(result.allocation) gives back the same lives.
"""

from __future__ import annotations

import heapq
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tolerances import approx_lives, lives_tol

import optimiser

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw: st.DrawFn, max_regions: int = 5, max_supply: int = 60) -> optimiser.Instance:
    """Random instances: fractional demands, staff caps, lengths of stay, prognosis tiers."""
    n = draw(st.integers(1, max_regions))
    rows, tiers = [], []
    for i in range(n):
        rid = f"R{i}"
        sw = draw(st.integers(0, 20)) / 20
        swo = draw(st.integers(0, int(sw * 20))) / 20
        peak = draw(
            st.one_of(
                st.integers(0, 40), st.floats(0, 40, allow_nan=False).map(lambda v: round(v, 2))
            )
        )
        rows.append(
            {
                "region": rid,
                "population": draw(st.integers(1, 10**6)),
                "capacity": draw(st.integers(0, 25)),
                "peak_demand": peak,
                "survival_with": sw,
                "survival_without": swo,
                "los_days": draw(st.one_of(st.none(), st.integers(1, 20))),
                "staff_cap": draw(st.one_of(st.none(), st.integers(0, 30))),
            }
        )
        if draw(st.booleans()):
            parts = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
            for k, part in enumerate(parts):
                # shares sum to 1 exactly: the last tier takes the rest
                share = (
                    part / sum(parts)
                    if k < len(parts) - 1
                    else 1 - sum(p / sum(parts) for p in parts[:-1])
                )
                tier_survival = draw(st.integers(round(swo * 20), 20)) / 20
                tiers.append(
                    {"region": rid, "share": max(share, 0.0), "survival_with": tier_survival}
                )
    horizon = draw(st.one_of(st.none(), st.integers(1, 30)))
    return optimiser.instance_from_frames(
        pd.DataFrame(rows),
        draw(st.integers(0, max_supply)),
        tiers=pd.DataFrame(tiers) if tiers else None,
        horizon_days=horizon,
    )


def greedy_lives(instance: optimiser.Instance, marginal_gains) -> float:
    """Exact greedy: the `supply` best unit gains over all regions (each region's gains are
    non-increasing, so the best units of a region always form a prefix)."""
    caps = instance.staff_cap
    gains = []
    for rid in instance.region_ids:
        room = min(caps[rid], instance.supply, math.ceil(instance.excess_demand[rid]))
        gains += [g for g in marginal_gains(instance, rid, int(room)) if g > 0]
    return sum(heapq.nlargest(instance.supply, gains))


def assert_within_supply_and_caps(instance: optimiser.Instance, allocation: dict[str, int]) -> None:
    assert set(allocation) == set(instance.region_ids)
    assert all(u >= 0 for u in allocation.values())
    assert sum(allocation.values()) <= instance.supply
    for rid, units in allocation.items():
        assert units <= instance.staff_cap[rid], (rid, units)


@pytest.mark.slow
@SETTINGS
@given(instance=instances())
def test_optimum_equals_exact_greedy(instance, marginal_gains, lives_oracle) -> None:
    result = optimiser.solve(instance, price_of_fairness=False)
    assert result.status == "optimal"
    expected = greedy_lives(instance, marginal_gains)
    assert abs(result.lives_saved - expected) <= lives_tol(expected), (result.allocation, expected)
    assert result.lives_saved == approx_lives(lives_oracle(instance, result.allocation))
    assert_within_supply_and_caps(instance, result.allocation)
    # units that save no one stay in the reserve: no region gets more than its excess demand
    for rid, units in result.allocation.items():
        assert units <= math.ceil(instance.excess_demand[rid])


FLOORS = st.one_of(
    st.builds(lambda v: f"per_capita_floor:share={v}", st.sampled_from([0.1, 0.3, 0.6, 1.0])),
    st.builds(lambda v: f"excess_per_capita_floor:share={v}", st.sampled_from([0.2, 0.5, 1.0])),
    st.builds(lambda v: f"coverage_floor:level={v}", st.sampled_from([0.2, 0.4, 0.6])),
    st.builds(
        lambda v: f"capacity_per_capita_floor:beds_per_100k={v}", st.sampled_from([1, 3, 10])
    ),
    st.builds(lambda v: f"min_units:units={v}", st.integers(1, 6)),
    st.builds(lambda v: f"max_coverage_gap:gap={v}", st.sampled_from([0.1, 0.3, 0.6])),
)


@SETTINGS
@given(
    instance=instances(max_regions=4, max_supply=40),
    specs=st.lists(FLOORS, min_size=1, max_size=3, unique=True),
)
def test_prices_are_non_negative_and_allocations_within_supply_and_caps(instance, specs) -> None:
    result = optimiser.solve(instance, constraints=specs)
    price = result.price_of_fairness
    assert price["constraint"].tolist() == list(result.constraints)
    star = result.lives_optimal
    for row in price.itertuples():
        if row.lives_lost_alone is not None and row.lives_lost_alone == row.lives_lost_alone:
            assert row.lives_lost_alone >= -lives_tol(star), row
            assert row.lives_saved_alone <= star + lives_tol(star)
        else:
            assert "infeasible" in row.note
        if (
            row.lives_lost_marginal is not None
            and row.lives_lost_marginal == row.lives_lost_marginal
        ):
            assert row.lives_lost_marginal >= -lives_tol(star), row
        else:
            assert row.note
    if result.status == "infeasible":
        assert result.explanation.startswith("infeasible: ")
        return
    assert result.status == "optimal"
    assert_within_supply_and_caps(instance, result.allocation)
    assert result.lives_lost_total >= -lives_tol(star)
    # every clipped floor is reported at its staff cap
    for row in result.clipped_floors.itertuples():
        assert row.requested > row.staff_cap
        assert result.allocation[row.region] >= row.staff_cap


@SETTINGS
@given(instance=instances())
def test_baseline_rules_never_beat_the_optimum(instance) -> None:
    table = optimiser.compare(instance)
    best = table.loc["optimal", "lives_saved"]
    units = table[[c for c in table.columns if c.startswith("units:")]]
    for policy, row in table.iterrows():
        assert row["lives_saved"] <= best + lives_tol(best), policy
        allocation = {c.split(":", 1)[1]: int(v) for c, v in units.loc[policy].items()}
        assert_within_supply_and_caps(instance, allocation)


@SETTINGS
@given(instance=instances(max_regions=4, max_supply=40), spec=st.one_of(st.none(), FLOORS))
def test_evaluate_round_trips_the_lives(instance, spec, lives_oracle) -> None:
    specs = [spec] if spec else []
    result = optimiser.solve(instance, constraints=specs, price_of_fairness=False)
    if result.status == "infeasible":
        return
    again = optimiser.evaluate(instance, result.allocation, specs)
    assert again.lives_saved == approx_lives(result.lives_saved)
    assert again.allocation == result.allocation
    assert again.violations == ()  # the optimum breaks none of its own constraints
    assert again.lives_optimal == approx_lives(result.lives_optimal)
    assert again.lives_saved == approx_lives(lives_oracle(instance, result.allocation))
