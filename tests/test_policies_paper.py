"""Baseline rules: the paper's Tables 2, 3 and 5 on instances/pugh2021, Hamilton apportionment,
staff caps, the RAI and the seeded lottery."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from tolerances import approx_lives, lives_tol

import optimiser
from optimiser.policies import POLICIES, hamilton

# The shares printed in the paper (per cent, rounded), region -> %.
TABLE_2_PER_CAPITA = {"B": 33, "A": 28, "D": 22, "C": 17}
TABLE_3_EXCESS_PER_CAPITA = {"C": 49, "B": 25, "A": 16, "D": 10}
TABLE_5_EXCESS = {"C": 36, "B": 35, "A": 19, "D": 10}
TABLES = {
    "per_capita": TABLE_2_PER_CAPITA,
    "excess_per_capita": TABLE_3_EXCESS_PER_CAPITA,
    "excess": TABLE_5_EXCESS,
}


def independent_hamilton(total: int, weights: dict[str, Fraction]) -> dict[str, int]:
    """Largest remainder in exact arithmetic (ties: larger weight, then earlier key)."""
    s = sum(weights.values())
    quotas = {k: total * w / s for k, w in weights.items()}
    units = {k: int(q) for k, q in quotas.items()}
    order = sorted(
        weights, key=lambda k: (-(quotas[k] - units[k]), -weights[k], list(weights).index(k))
    )
    for k in order[: total - sum(units.values())]:
        units[k] += 1
    return units


def paper_weights(pugh: optimiser.Instance, rule: str) -> dict[str, Fraction]:
    r = pugh.regions
    pop = {k: Fraction(int(v)) for k, v in r["population"].items()}
    excess = {k: Fraction(int(v)) for k, v in pugh.excess_demand.items()}
    return {
        "per_capita": pop,
        "excess": excess,
        "excess_per_capita": {k: excess[k] / pop[k] for k in pop},
    }[rule]


@pytest.mark.parametrize("rule", sorted(TABLES))
def test_rules_reproduce_the_paper_tables_exactly_with_100_units(
    rule: str, pugh: optimiser.Instance
) -> None:
    # With supply 100 each unit is one percentage point: the rule must print the paper's table.
    result = optimiser.solve(pugh, policy=rule, supply=100)
    assert result.allocation == TABLES[rule]
    assert result.unallocated == 0
    # ... which is the Hamilton apportionment of 100 points, computed here in exact arithmetic.
    assert result.allocation == independent_hamilton(100, paper_weights(pugh, rule))


@pytest.mark.parametrize("rule", sorted(TABLES))
def test_rules_with_the_real_supply_are_within_rounding_of_the_tables(
    rule: str, pugh: optimiser.Instance
) -> None:
    result = optimiser.solve(pugh, policy=rule)
    assert sum(result.allocation.values()) == 1000
    for region, pct in TABLES[rule].items():
        assert abs(result.allocation[region] / 10 - pct) < 1.0, (region, result.allocation)
    assert result.allocation == independent_hamilton(1000, paper_weights(pugh, rule))


def test_rules_rank_regions_as_the_paper_does(pugh: optimiser.Instance) -> None:
    # Table 2 ranks B > A > D > C, Table 3 C > B > A > D, Table 5 C > B > A > D.
    for rule, table in TABLES.items():
        alloc = optimiser.solve(pugh, policy=rule, price_of_fairness=False).allocation
        assert sorted(alloc, key=lambda r: -alloc[r]) == list(table)


def test_rules_are_scored_by_the_same_lives_function(
    pugh: optimiser.Instance, lives_oracle
) -> None:
    for rule in ("per_capita", "excess_per_capita", "excess", "rai", "lottery"):
        result = optimiser.solve(pugh, policy=rule, supply=3000)
        assert result.status == "rule"
        assert result.lives_saved == approx_lives(lives_oracle(pugh, result.allocation))
        # and the price row compares it with the optimum
        row = result.price_of_fairness.iloc[0]
        assert row["constraint"] == f"policy:{rule}"
        assert row["lives_lost_alone"] == approx_lives(result.lives_optimal - result.lives_saved)


def test_per_capita_wastes_units_where_there_is_no_excess(
    pugh: optimiser.Instance, lives_oracle
) -> None:
    # Supply 4000 per capita sends A 1125 units for 1000 patients: 125 save no one.
    result = optimiser.solve(pugh, policy="per_capita", supply=4000)
    assert result.allocation == {"A": 1125, "B": 1313, "C": 687, "D": 875}
    assert result.lives_saved == approx_lives(1000 + 1313 + 687 + 500)
    assert result.lives_optimal == approx_lives(4000)


def test_hamilton_respects_staff_caps_and_reapportions() -> None:
    # weights 5:3:2 of 10 units, region 0 capped at 2: the other 8 go 3:2 -> 4.8, 3.2 -> 5, 3.
    units = hamilton(10, np.array([5.0, 3.0, 2.0]), np.array([2.0, np.inf, np.inf]))
    assert units.tolist() == [2, 5, 3]
    # a cap that binds only after re-apportioning
    units = hamilton(10, np.array([6.0, 3.0, 1.0]), np.array([5.0, 3.0, np.inf]))
    assert units.tolist() == [5, 3, 2]
    # everyone capped: the rest stays unallocated
    units = hamilton(10, np.array([1.0, 1.0]), np.array([2.0, 3.0]))
    assert units.tolist() == [2, 3]
    # zero weight gets nothing, zero total gives nothing
    assert hamilton(3, np.array([0.0, 1.0])).tolist() == [0, 3]
    assert hamilton(3, np.array([0.0, 0.0])).tolist() == [0, 0]
    assert hamilton(0, np.array([1.0, 2.0])).tolist() == [0, 0]


def test_rule_with_a_capped_region_through_solve(make_instance) -> None:
    rows = [
        {"region": "A", "population": 500, "capacity": 0, "peak_demand": 100, "staff_cap": 10},
        {"region": "B", "population": 300, "capacity": 0, "peak_demand": 100},
        {"region": "C", "population": 200, "capacity": 0, "peak_demand": 100},
    ]
    result = optimiser.solve(make_instance(rows, supply=60), policy="per_capita")
    # A's quota 30 > cap 10; the other 50 go 3:2 -> 30, 20.
    assert result.allocation == {"A": 10, "B": 30, "C": 20}
    capped_out = optimiser.solve(
        make_instance([{**rows[0], "staff_cap": 0}], supply=5), policy="excess"
    )
    assert capped_out.allocation == {"A": 0}
    assert capped_out.unallocated == 5


def test_rai_rule_follows_the_index(make_instance) -> None:
    rows = [
        # RAI = E * s / (los / mean los * pressure); mean los = 10
        {
            "region": "A",
            "population": 1,
            "capacity": 0,
            "peak_demand": 100,
            "survival_with": 0.5,
            "los_days": 5,
            "pressure": 1,
        },
        {
            "region": "B",
            "population": 1,
            "capacity": 0,
            "peak_demand": 100,
            "survival_with": 0.5,
            "los_days": 15,
            "pressure": 0.5,
        },
        {
            "region": "C",
            "population": 1,
            "capacity": 50,
            "peak_demand": 100,
            "survival_with": 0.9,
            "los_days": 10,
            "pressure": 1,
        },
    ]
    # A: 100*.5/(0.5*1) = 100;  B: 100*.5/(1.5*.5) = 66.67;  C: 50*.9/1 = 45.  Sum 211.67.
    # 100 units: quotas 47.24, 31.50, 21.26 -> 47, 31, 21 and the last unit to B (0.50).
    result = optimiser.solve(make_instance(rows, supply=100), policy="rai")
    assert result.allocation == {"A": 47, "B": 32, "C": 21}


def test_on_pugh2021_rai_equals_excess(pugh: optimiser.Instance) -> None:
    # No survival, los or pressure data: the RAI is the excess demand.
    assert pugh.rai.tolist() == pugh.excess_demand.tolist()
    rai = optimiser.solve(pugh, policy="rai").allocation
    assert rai == optimiser.solve(pugh, policy="excess").allocation


def test_lottery_is_seeded_reproducible_and_respects_caps(make_instance) -> None:
    rows = [
        {"region": "A", "population": 1, "capacity": 0, "peak_demand": 100, "staff_cap": 3},
        {"region": "B", "population": 1, "capacity": 0, "peak_demand": 100},
        {"region": "C", "population": 1, "capacity": 0, "peak_demand": 100},
    ]
    inst = make_instance(rows, supply=40)
    first = optimiser.solve(inst, policy="lottery", seed=7).allocation
    assert first == optimiser.solve(inst, policy="lottery", seed=7).allocation
    assert sum(first.values()) == 40 and first["A"] <= 3
    draws = {
        tuple(optimiser.solve(inst, policy="lottery", seed=s).allocation.values()) for s in range(6)
    }
    assert len(draws) > 1  # the seed matters
    small = make_instance([rows[0]], supply=10)
    assert optimiser.solve(small, policy="lottery").allocation == {"A": 3}


def test_every_registered_policy_runs(pugh: optimiser.Instance) -> None:
    table = optimiser.compare(pugh)
    assert set(POLICIES) <= set(table.index)
    best = table.loc["optimal", "lives_saved"]
    assert (table["lives_saved"] <= best + lives_tol(best)).all()


def test_lottery_time_does_not_grow_with_the_supply(make_instance) -> None:
    """A billion units (the largest supply allowed) are drawn in rounds, not one by one; caps
    hold and, uncapped, the regions' shares are uniform to within sampling noise."""
    import time

    rows = [
        {"region": "A", "population": 1, "capacity": 0, "peak_demand": 10, "staff_cap": 5},
        {"region": "B", "population": 1, "capacity": 0, "peak_demand": 10},
        {"region": "C", "population": 1, "capacity": 0, "peak_demand": 10},
    ]
    inst = make_instance(rows, supply=1_000_000_000)
    started = time.perf_counter()
    units = optimiser.solve(inst, policy="lottery", seed=3, price_of_fairness=False).allocation
    assert time.perf_counter() - started < 10
    assert units["A"] == 5 and sum(units.values()) == 1_000_000_000
    assert abs(units["B"] - units["C"]) < 6 * (1e9 / 4) ** 0.5  # 6 standard deviations
