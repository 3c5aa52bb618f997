"""The integer program on hand-solved instances, and its documented tie-break.

Each expected allocation is worked out by hand in the comments: lives per useful unit is
g_r t_r (gain times turnover), so the optimum fills the regions with the highest g_r t_r first,
up to min(E_r, staff_cap_r), and leaves useless units in the national reserve.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from tolerances import approx_lives

import optimiser


def row(region: str, peak: float, **extra: float) -> dict:
    return {"region": region, "population": 1000, "capacity": 0, "peak_demand": peak, **extra}


def test_higher_survival_gain_is_served_first(make_instance, lives_oracle) -> None:
    # A: g = 0.9 - 0.1 = 0.8, E = 10.  B: g = 0.5, E = 10.  Supply 15.
    # A takes 10 (8.0 lives), B the other 5 (2.5 lives): 10.5.
    inst = make_instance(
        [row("A", 10, survival_with=0.9, survival_without=0.1), row("B", 10, survival_with=0.5)], 15
    )
    result = optimiser.solve(inst)
    assert result.status == "optimal"
    assert result.allocation == {"A": 10, "B": 5}
    assert result.lives_saved == approx_lives(10.5)
    assert result.lives_saved == approx_lives(lives_oracle(inst, result.allocation))
    assert result.unallocated == 0


def test_shorter_stays_treat_more_patients(make_instance) -> None:
    # los 10 and 5 days: H = mean = 7.5, t_A = 0.75, t_B = 1.5 (g = 1 for both).
    # B's units are worth twice A's: B 10 (15 lives), A the other 2 (1.5 lives) = 16.5.
    inst = make_instance([row("A", 10, los_days=10), row("B", 10, los_days=5)], 12)
    result = optimiser.solve(inst)
    assert result.allocation == {"A": 2, "B": 10}
    assert result.lives_saved == approx_lives(16.5)


def test_turnover_uses_horizon_days_when_given(make_instance) -> None:
    # horizon 30 days: t_A = 30/10 = 3, t_B = 30/5 = 6; one unit to each region with room.
    # A: g 0.9 -> 2.7 per unit; B: g 0.4 -> 2.4 per unit. Supply 3, E = 2 each: A 2, B 1.
    inst = make_instance(
        [row("A", 2, los_days=10, survival_with=0.9), row("B", 2, los_days=5, survival_with=0.4)],
        3,
        horizon_days=30,
    )
    result = optimiser.solve(inst)
    assert result.allocation == {"A": 2, "B": 1}
    assert result.lives_saved == approx_lives(2 * 2.7 + 2.4)


def test_prognosis_tiers_are_served_best_first(make_instance) -> None:
    # A: E = 10 split in tiers of 5 units at gain 0.9 and 5 units at gain 0.3.  B: gain 0.6, E = 10.
    # Supply 10: A's good tier (5 x 0.9 = 4.5), then B (5 x 0.6 = 3.0) before A's poor tier: 7.5.
    tiers = [
        {"region": "A", "share": 0.5, "survival_with": 0.3},
        {"region": "A", "share": 0.5, "survival_with": 0.9},
    ]
    inst = make_instance([row("A", 10), row("B", 10, survival_with=0.6)], 10, tiers=tiers)
    result = optimiser.solve(inst)
    assert result.allocation == {"A": 5, "B": 5}
    assert result.lives_saved == approx_lives(7.5)
    # Supply 17: both good tiers full (4.5 + 6.0), then 2 units in A's poor tier (0.6): 11.1.
    more = optimiser.solve(inst, supply=17)
    assert more.allocation == {"A": 7, "B": 10}
    assert more.lives_saved == approx_lives(11.1)
    assert more.regions.loc["A", "lives"] == approx_lives(4.5 + 0.6)


def test_staff_caps_bind(make_instance) -> None:
    # A is worth most (0.9) but can staff 4 units; B (0.5) takes the rest of the 8 units.
    # 4 x 0.9 + 4 x 0.5 = 5.6.
    inst = make_instance(
        [row("A", 10, survival_with=0.9, staff_cap=4), row("B", 10, survival_with=0.5)], 8
    )
    result = optimiser.solve(inst)
    assert result.allocation == {"A": 4, "B": 4}
    assert result.lives_saved == approx_lives(5.6)
    # a staff cap of 0 shuts a region out
    shut = make_instance([row("A", 10, staff_cap=0), row("B", 3)], 8)
    assert optimiser.solve(shut).allocation == {"A": 0, "B": 3}


def test_useless_units_stay_in_the_reserve(make_instance) -> None:
    # Total excess 10 + 5 = 15 < supply 25: 15 units sent, 10 kept; sending more saves no one.
    inst = make_instance(
        [row("A", 10, survival_with=0.9), row("B", 10, survival_with=0.5, capacity=5)], 25
    )
    result = optimiser.solve(inst)
    assert result.allocation == {"A": 10, "B": 5}
    assert result.unallocated == 10
    assert result.lives_saved == approx_lives(9 + 2.5)
    # a region whose patients gain nothing (survival_with == survival_without) gets nothing
    flat = make_instance([row("A", 10, survival_with=0.3, survival_without=0.3), row("B", 4)], 9)
    flat_result = optimiser.solve(flat)
    assert flat_result.allocation == {"A": 0, "B": 4}
    assert flat_result.unallocated == 5
    # no excess anywhere: everything stays in the reserve
    none = make_instance([row("A", 10, capacity=10), row("B", 4, capacity=9)], 6)
    assert optimiser.solve(none).allocation == {"A": 0, "B": 0}


def test_fractional_excess_demand(make_instance) -> None:
    # E_A = 2.5 (g 1), E_B = 1.25 (g 0.9). Marginal lives: A 1, 1, 0.5; B 0.9, 0.225.
    # Supply 3: A, A, B = 2.9.  Supply 5: A 3 (2.5) + B 2 (1.125) = 3.625.
    inst = make_instance([row("A", 2.5), row("B", 1.25, survival_with=0.9)], 3)
    assert optimiser.solve(inst).allocation == {"A": 2, "B": 1}
    assert optimiser.solve(inst).lives_saved == approx_lives(2.9)
    full = optimiser.solve(inst, supply=5)
    assert full.allocation == {"A": 3, "B": 2}
    assert full.lives_saved == approx_lives(3.625)
    assert full.regions["useful_units"].tolist() == [2.5, 1.25]


def test_zero_supply(make_instance) -> None:
    result = optimiser.solve(make_instance([row("A", 10)], 0))
    assert result.allocation == {"A": 0}
    assert result.lives_saved == 0 and result.unallocated == 0


def test_prioritarian_weights_change_the_objective(make_instance, lives_oracle) -> None:
    # A saves 0.9 per unit with weight 1, B 0.5 with weight 2 (weighted 1.0 > 0.9): B first.
    # Supply 10: B takes all 10 (5 lives). Unweighted optimum: A 10 (9 lives). Price: 4 lives.
    inst = make_instance(
        [row("A", 10, survival_with=0.9, weight=1), row("B", 10, survival_with=0.5, weight=2)], 10
    )
    result = optimiser.solve(inst, constraints=["prioritarian"])
    assert result.allocation == {"A": 0, "B": 10}
    assert result.lives_saved == approx_lives(5.0)
    assert result.lives_optimal == approx_lives(9.0)
    price = result.price_of_fairness.set_index("constraint").loc["prioritarian(weights=column)"]
    assert price["lives_saved_alone"] == approx_lives(5.0)
    assert price["lives_lost_alone"] == approx_lives(4.0)  # the unweighted lives given up
    # Weights given as a mapping: 1.5 x 0.5 = 0.75 < 0.9, so A keeps priority.
    mapped = optimiser.solve(
        inst, constraints=[{"kind": "prioritarian", "weights": {"A": 1, "B": 1.5}}]
    )
    assert mapped.allocation == {"A": 10, "B": 0}
    # 'excess_per_capita' weights: A's shortfall per capita is 3x B's, equal gains: A first.
    per_capita = make_instance([row("A", 30), {**row("B", 10)}], 12)
    assert optimiser.solve(
        per_capita, constraints=["prioritarian:weights=excess_per_capita"]
    ).allocation == {
        "A": 12,
        "B": 0,
    }


def test_result_tables(make_instance) -> None:
    inst = make_instance(
        [row("A", 10, capacity=5, survival_with=0.9), row("B", 8, capacity=4, survival_with=0.5)], 7
    )
    # E = 5 and 4. A 5 (4.5 lives), B 2 (1.0).
    result = optimiser.solve(inst)
    table = result.regions
    assert table.index.tolist() == ["A", "B"]
    assert table["units"].tolist() == [5, 2]
    assert table["useful_units"].tolist() == [5, 2]
    assert table["lives"].tolist() == [approx_lives(4.5), approx_lives(1.0)]
    assert table["coverage_before"].tolist() == pytest.approx([0.5, 0.5])
    assert table["coverage_after"].tolist() == pytest.approx([1.0, 0.75])
    assert table["excess_demand"].tolist() == [5, 4]
    payload = json.loads(result.to_json())
    assert payload["allocation"] == {"A": 5, "B": 2}
    assert payload["unallocated"] == 0


# ---------------------------------------------------------------------------------------------
# Ties: on pugh2021 every useful unit saves one life, so the secondary criterion decides.


def webster(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Sainte-Lague / Webster by highest averages w / (n + 1/2), ties to the earlier region."""
    units = dict.fromkeys(weights, 0)
    names = list(weights)
    for _ in range(total):
        best = max(
            names,
            key=lambda r: (Fraction(weights[r], 1) / (units[r] + Fraction(1, 2)), -names.index(r)),
        )
        units[best] += 1
    return units


def is_webster(units: dict[str, int], weights: dict[str, int]) -> bool:
    """Webster's min-max condition: max_r w/(x+1/2) <= min_{x_r>0} w/(x-1/2) (exact)."""
    high = max(Fraction(weights[r]) / (units[r] + Fraction(1, 2)) for r in units)
    low = min(
        (Fraction(weights[r]) / (units[r] - Fraction(1, 2)) for r in units if units[r] > 0),
        default=math.inf,
    )
    return high <= low


@pytest.mark.parametrize("supply", [1, 2, 3, 4, 7, 10, 37, 100, 333, 999, 1000, 2500, 5199])
def test_ties_are_broken_by_webster_in_proportion_to_excess(
    supply: int, pugh: optimiser.Instance
) -> None:
    excess = {r: int(e) for r, e in pugh.excess_demand.items()}
    result = optimiser.solve(pugh, supply=supply)
    assert result.lives_saved == approx_lives(supply)  # every unit useful: lives first
    assert is_webster(result.allocation, excess), result.allocation
    assert result.allocation == webster(supply, excess)


def test_tie_break_at_the_paper_supply(pugh: optimiser.Instance) -> None:
    # Webster of 1000 by 1000:1800:1900:500 (quotas 192.3, 346.2, 365.4, 96.2): C wins the
    # 1000th unit (1900/365.5 = 5.198 > 1000/192.5 = 1800/346.5 = 5.195 > 500/96.5 = 5.181).
    assert optimiser.solve(pugh).allocation == {"A": 192, "B": 346, "C": 366, "D": 96}


def test_supply_beyond_total_excess_fills_every_region(pugh: optimiser.Instance) -> None:
    result = optimiser.solve(pugh, supply=6000)
    assert result.allocation == {"A": 1000, "B": 1800, "C": 1900, "D": 500}
    assert result.unallocated == 800


def test_tie_break_never_costs_lives(make_instance) -> None:
    # A and B tie (g t = 0.5), C is worth more (0.8): C is filled first, the tie-break only
    # splits the rest between A and B by Webster on E (6 : 3 -> 4 : 2 of 6).
    inst = make_instance(
        [
            row("A", 6, survival_with=0.5),
            row("B", 3, survival_with=0.5),
            row("C", 4, survival_with=0.8),
        ],
        10,
    )
    result = optimiser.solve(inst)
    assert result.allocation == {"A": 4, "B": 2, "C": 4}
    assert result.lives_saved == approx_lives(0.8 * 4 + 0.5 * 6)


@pytest.mark.slow
def test_same_allocation_in_repeated_runs_and_in_a_subprocess(
    pugh: optimiser.Instance, run_cli
) -> None:
    # every unit saves one life: many optima, one answer (gap 0.3 ties as much as the plain case)
    cases = [[], ["max_coverage_gap:gap=0.3", "min_units:units=100"]]
    expected = []
    for constraints in cases:
        results = [optimiser.solve(pugh, constraints=constraints) for _ in range(3)]
        assert all(r.status == "optimal" for r in results)
        runs = {json.dumps(r.allocation) for r in results}
        assert len(runs) == 1, runs
        expected.append(json.loads(runs.pop()))
    for constraints, allocation in zip(cases, expected, strict=True):
        args = [a for c in constraints for a in ("-c", c)]
        run = run_cli("solve", "instances/pugh2021", "--json", "--no-price", *args)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["allocation"] == allocation


def test_one_constraint_may_be_given_alone_and_weights_keyed_by_numeric_ids(make_instance) -> None:
    # numeric region ids become text; weights keyed by the same numbers apply to them
    inst = make_instance(
        [
            {"region": 1, "population": 1, "capacity": 0, "peak_demand": 5},
            {"region": 2, "population": 1, "capacity": 0, "peak_demand": 5, "survival_with": 0.5},
        ],
        6,
    )
    assert inst.region_ids == ["1", "2"]
    # region 2: 0.5 x 3 = 1.5 weighted lives per unit > region 1's 1.0: 2 is filled first
    weighted = optimiser.solve(inst, constraints=[{"kind": "prioritarian", "weights": {2: 3.0}}])
    assert weighted.allocation == {"1": 1, "2": 5}
    mixed = {"kind": "prioritarian", "weights": {"1": 1, 2: 3.0}}
    assert optimiser.solve(inst, constraints=[mixed]).allocation == {"1": 1, "2": 5}
    # a single constraint (string, table or spec) is not a list of characters or keys
    expected = optimiser.solve(inst, constraints=["min_units:units=3"]).allocation
    assert expected == {"1": 3, "2": 3}
    for one in (
        "min_units:units=3",
        {"kind": "min_units", "units": 3},
        optimiser.constraint("min_units", units=3),
    ):
        assert optimiser.solve(inst, constraints=one).allocation == expected
