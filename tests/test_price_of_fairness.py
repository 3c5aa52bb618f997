"""The price of fairness: alone, marginal and total, hand-solved; infeasible sets explained."""

from __future__ import annotations

import pytest
from tolerances import approx_lives

import optimiser
from optimiser.report import price_text

# Three regions, supply 20 (tests/test_fairness_constraints.py works out the same instance):
#   A: E 10, 0.9 lives per unit; B: E 15 (capacity 5, peak 20), 0.5;
#   C: E 6 (capacity 2, peak 8), 0.2.
# L* = 14 (A 10, B 10).
ROWS = [
    {"region": "A", "population": 1000, "capacity": 0, "peak_demand": 10, "survival_with": 0.9},
    {"region": "B", "population": 3000, "capacity": 5, "peak_demand": 20, "survival_with": 0.5},
    {"region": "C", "population": 6000, "capacity": 2, "peak_demand": 8, "survival_with": 0.2},
]
COVERAGE = "coverage_floor(level=0.5)"
MIN_UNITS = "min_units(units=3)"


@pytest.fixture(scope="module")
def three(make_instance) -> optimiser.Instance:
    return make_instance(ROWS, 20)


def test_price_table_hand_solved(three: optimiser.Instance) -> None:
    # coverage alone: floors 5, 5, 2 -> A 10, B 8, C 2 = 13.4 (lost 0.6)
    # min_units alone: floors 3, 3, 3 -> A 10, B 7, C 3 = 13.1 (lost 0.9)
    # both: floors 5, 5, 3 -> A 10, B 7, C 3 = 13.1
    # marginal of coverage = 13.1 (min_units alone) - 13.1 = 0; of min_units = 13.4 - 13.1 = 0.3
    result = optimiser.solve(three, constraints=["coverage_floor:level=0.5", "min_units:units=3"])
    assert result.status == "optimal"
    assert result.allocation == {"A": 10, "B": 7, "C": 3}
    assert result.lives_saved == approx_lives(13.1)
    assert result.lives_optimal == approx_lives(14.0)
    price = result.price_of_fairness.set_index("constraint")
    assert list(price.index) == [COVERAGE, MIN_UNITS]
    assert price.loc[COVERAGE, "lives_saved_alone"] == approx_lives(13.4)
    assert price.loc[COVERAGE, "lives_lost_alone"] == approx_lives(0.6)
    assert price.loc[COVERAGE, "lives_lost_marginal"] == approx_lives(0.0)
    assert price.loc[MIN_UNITS, "lives_saved_alone"] == approx_lives(13.1)
    assert price.loc[MIN_UNITS, "lives_lost_alone"] == approx_lives(0.9)
    assert price.loc[MIN_UNITS, "lives_lost_marginal"] == approx_lives(0.3)
    assert result.lives_lost_total == approx_lives(0.9)
    assert result.lives_lost_pct == pytest.approx(100 * 0.9 / 14)
    # who gains and who loses units against the L* allocation (A 10, B 10, C 0)
    assert result.regions["units_unconstrained"].to_dict() == {"A": 10, "B": 10, "C": 0}
    assert result.regions["change"].to_dict() == {"A": 0, "B": -3, "C": 3}
    text = price_text(result)
    line = " ".join(text.split())
    assert "1 region gains 3 units (C +3)" in line and "1 region loses 3 units (B -3)" in line
    assert "0.90 lives lost" in text


def test_price_alone_equals_solving_with_that_constraint_only(three: optimiser.Instance) -> None:
    specs = ["coverage_floor:level=0.5", "min_units:units=3", "max_coverage_gap:gap=0.3"]
    result = optimiser.solve(three, constraints=specs)
    price = result.price_of_fairness.set_index("constraint")
    for spec in specs:
        label = optimiser.parse_constraint(spec).label
        alone = optimiser.solve(three, constraints=[spec], price_of_fairness=False)
        assert price.loc[label, "lives_saved_alone"] == approx_lives(alone.lives_saved)
        others = [s for s in specs if s != spec]
        without = optimiser.solve(three, constraints=others, price_of_fairness=False)
        assert price.loc[label, "lives_lost_marginal"] == approx_lives(
            without.lives_saved - result.lives_saved
        )


def test_json_price_entries(three: optimiser.Instance) -> None:
    payload = optimiser.solve(three, constraints=["min_units:units=3"]).to_dict()
    (entry,) = payload["price_of_fairness"]
    assert entry["constraint"] == MIN_UNITS
    assert entry["lives_saved_alone"] == approx_lives(13.1)
    assert entry["lives_lost_alone"] == approx_lives(0.9)
    assert entry["lives_lost_marginal"] == approx_lives(0.9)


def test_no_constraint_no_price(three: optimiser.Instance) -> None:
    result = optimiser.solve(three)
    assert result.price_of_fairness.empty
    assert result.lives_lost_total == approx_lives(0.0)
    assert "no fairness constraint" in price_text(result)


def test_coverage_floors_needing_more_than_supply_are_explained(pugh: optimiser.Instance) -> None:
    # level 0.5: A ceil(1000) - 1000 = 0, B 1250 - 700 = 550, C 1100 - 300 = 800, D 0:
    # 1,350 units > 1,000.
    result = optimiser.solve(pugh, constraints=["coverage_floor:level=0.5"])
    assert result.status == "infeasible"
    assert result.allocation == {} and result.lives_saved is None
    for fragment in ("coverage_floor(level=0.5)", "1,350", "1,000"):
        assert fragment in result.explanation
    # the same numbers at another level: 0.6 -> B 800, C 1020, A 200, D 100 = 2,120
    higher = optimiser.solve(
        pugh, constraints=["coverage_floor:level=0.6"], price_of_fairness=False
    )
    assert "2,120" in higher.explanation and "1,000" in higher.explanation
    payload = result.to_dict()
    assert payload["status"] == "infeasible" and "1,350" in payload["explanation"]


def test_constraints_feasible_alone_but_not_together_are_both_named(
    three: optimiser.Instance,
) -> None:
    # coverage 0.5 alone needs 5 + 5 + 2 = 12 units; per capita share 1 needs 2 + 6 + 12 = 20;
    # together max(5, 2) + max(5, 6) + max(2, 12) = 23 > 20.
    result = optimiser.solve(
        three, constraints=["coverage_floor:level=0.5", "per_capita_floor:share=1"]
    )
    assert result.status == "infeasible"
    for fragment in (COVERAGE, "per_capita_floor(share=1)", "23", "20"):
        assert fragment in result.explanation
    price = result.price_of_fairness.set_index("constraint")
    # each is priced alone; the marginal price says why it cannot be computed
    assert price.loc[COVERAGE, "lives_saved_alone"] == approx_lives(13.4)
    assert price.loc[COVERAGE, "lives_lost_marginal"] is None
    assert "infeasible" in price.loc[COVERAGE, "note"]


def test_a_constraint_infeasible_alone_says_why(three: optimiser.Instance) -> None:
    # coverage 0.9: A 9, B 18 - 5 = 13, C ceil(7.2) - 2 = 6: 28 units > 20.
    result = optimiser.solve(three, constraints=["coverage_floor:level=0.9", "min_units:units=2"])
    assert result.status == "infeasible"
    assert "28" in result.explanation and "20" in result.explanation
    assert "min_units" not in result.explanation  # only the conflicting constraint is named
    price = result.price_of_fairness.set_index("constraint")
    row = price.loc["coverage_floor(level=0.9)"]
    assert row["lives_saved_alone"] is None or row["lives_saved_alone"] != row["lives_saved_alone"]
    assert "infeasible" in row["note"] and "28" in row["note"]
    # min_units alone: C 2 (0.4), A 10 (9), B 8 (4) = 13.4
    assert price.loc["min_units(units=2)", "lives_saved_alone"] == approx_lives(13.4)


def test_floor_beyond_a_staff_cap_is_explained(make_instance) -> None:
    # Staff caps bind whatever the supply: max_coverage_gap 0 needs A (capped at 1) at the same
    # coverage as B, B has capacity 10 of 10: impossible at any supply.
    rows = [
        {"region": "A", "population": 1, "capacity": 0, "peak_demand": 10, "staff_cap": 1},
        {"region": "B", "population": 1, "capacity": 10, "peak_demand": 10},
    ]
    result = optimiser.solve(make_instance(rows, 50), constraints=["max_coverage_gap:gap=0"])
    assert result.status == "infeasible"
    assert "max_coverage_gap(gap=0)" in result.explanation
    assert "staff" in result.explanation


def test_prioritarian_price_is_unweighted_lives(make_instance) -> None:
    rows = [
        {
            "region": "A",
            "population": 1,
            "capacity": 0,
            "peak_demand": 10,
            "survival_with": 0.9,
            "weight": 1,
        },
        {
            "region": "B",
            "population": 1,
            "capacity": 0,
            "peak_demand": 10,
            "survival_with": 0.5,
            "weight": 3,
        },
    ]
    # weighted: B 1.5 per unit > A 0.9 -> B 10, A 2 (supply 12): 5 + 1.8 = 6.8; L* = 9 + 1 = 10.
    result = optimiser.solve(
        make_instance(rows, 12), constraints=["prioritarian", "min_units:units=1"]
    )
    price = result.price_of_fairness.set_index("constraint")
    assert result.allocation == {"A": 2, "B": 10}
    assert price.loc["prioritarian(weights=column)", "lives_lost_alone"] == approx_lives(3.2)
    assert result.lives_lost_total == approx_lives(3.2)
