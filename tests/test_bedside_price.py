"""The snapshot price of fairness and its sign (optimiser/bedside/price.py, docs/bedside.md,
"Price of fairness"). A negative marginal price came from policies that are not nested (the
policy with a component is not a restriction of the policy without it), never from solver
tolerance: the brute force below finds the same optima and the same negative differences.
Nested prices are never below 0, figures within PRICE_TOL of 0 are 0, and a non-nested
negative price is reported as a proven gain with its reason. The figures reach the rows through
the engine protocol (`priced_rows` -> optimiser/engine_protocol.py, `component_optima`)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from bedside_cases import case
from hypothesis import given, settings
from test_bedside_snapshot import brute_force, snapshots

from optimiser.bedside import allocate
from optimiser.bedside.certify import priority_key
from optimiser.bedside.price import (
    PRICE_TOL,
    Priced,
    SnapshotEngine,
    components,
    nested_components,
    priced_rows,
)
from optimiser.bedside.reserves import maximum_cardinality
from optimiser.bedside.scores import lottery_draws
from optimiser.bedside.snapshot import SnapshotIP
from optimiser.deadline import Deadline
from optimiser.solver import SolveStatus


class ValueEngine:
    """V of every set of components from a table, as an engine answers the protocol (None: not
    solved in time). `solved`: the sets asked for, in order."""

    def __init__(self, value: dict[frozenset[str], float | None]) -> None:
        self.value = value
        self.solved: list[frozenset[str]] = []

    def solve(self, active: Sequence[str] = (), **_: Any) -> Priced:
        key = frozenset(active)
        self.solved.append(key)
        lives = self.value.get(key)
        return Priced(SolveStatus.OPTIMAL if lives is not None else SolveStatus.TIME_LIMIT, lives)

    def known_to_meet(self, component: str, solution: Any) -> bool:
        return False


def _kind(priority: bool, tie: bool) -> str | None:
    return {(True, True): "score+lottery", (True, False): "score",
            (False, True): "lottery"}.get((priority, tie))


@settings(max_examples=60, deadline=None)
@given(snapshots())
def test_prices_against_brute_force_and_their_signs(data):
    """Every V of every component set equals the brute force's; lost_alone is never below 0;
    a marginal price below 0 happens only where the module says the policies are not nested
    (a reserve under an order, the score beside a tie-break)."""
    ip = SnapshotIP(data, per_patient=True)
    reserves = [c.name for c in data.categories if c.reserve]
    names = [f"reserve:{r}" for r in reserves] + ["priority:score", "tie_break:lottery"]
    value = {}
    for k in range(len(names) + 1):
        for chosen in itertools.combinations(names, k):
            active = [n.split(":", 1)[1] for n in chosen if n.startswith("reserve:")]
            kind = _kind("priority:score" in chosen, "tie_break:lottery" in chosen)
            out = ip.solve(active, kind)
            cats = ip.categories(frozenset(active))
            order = None if kind is None else {
                c: priority_key(cat, data.orders[kind]) for c, cat in enumerate(cats)}
            expected = brute_force(cats, data.benefit, maximum_cardinality(cats), order)
            assert out.objective == pytest.approx(expected, abs=1e-9)
            value[frozenset(chosen)] = out.objective
    nested = {n: n == "tie_break:lottery" for n in names}  # both orders are on in `all`
    rows = priced_rows("H1", ValueEngine(value), names, nested)
    for _, _name, _, lost_alone, marginal, is_nested, exact, note in rows:
        assert lost_alone >= 0
        assert exact, note
        assert marginal == 0 or abs(marginal) > PRICE_TOL
        if is_nested:
            assert marginal >= 0
        elif marginal < 0:
            assert "proven gain" in note
    # a reserve with no order family on is nested too
    for r in reserves:
        others = frozenset(f"reserve:{o}" for o in reserves)
        assert value[others - {f"reserve:{r}"}] >= value[others] - 1e-9


def _seed_where_b_wins_the_lottery() -> int:
    for seed in range(1000):
        a, b = lottery_draws(["A", "B"], seed)
        if b > a:  # the higher draw comes first (key -ln(u))
            return seed
    raise AssertionError("no seed")


def test_hand_solved_negative_marginal_price_of_the_score():
    """One unit. A: gain 0.8, RAPR first; B: gain 0.5, first in the lottery. With the score
    and the lottery (the policy) the unit must go to A: 0.8. Without the score the lottery
    alone orders them: B, 0.5. So the score's marginal price is 0.5 - 0.8 = -0.3: a proven
    gain, the two policies not nested. Alone it costs 0 (V(unrestricted) = 0.8 = V(score));
    the tie-break costs 0.3 alone and 0 at the margin (nested: the score decides)."""
    rows = [{"patient": "A", "survival_with": 0.8, "expected_days": 5},
            {"patient": "B", "survival_with": 0.5, "expected_days": 5}]
    result = allocate(case(rows, 1, method="optimal",
                           tie_break={"seed": _seed_where_b_wins_the_lottery()}),
                      protocols=False)
    assert result.recipients == ["A"]
    price = result.price_of_fairness.set_index("component")
    score = price.loc["priority:rapr"]
    assert score["lost_alone"] == 0
    assert score["lost_marginal"] == pytest.approx(-0.3, abs=1e-12)
    assert not score["nested"] and score["exact"]
    assert "proven gain of 0.3" in score["note"]
    tie = price.loc["tie_break:lottery"]
    assert tie["lost_alone"] == pytest.approx(0.3, abs=1e-12)
    assert tie["lost_marginal"] == 0 and tie["nested"] and tie["exact"]


def test_hand_solved_negative_marginal_price_of_a_reserve():
    """One unit, a soft reserve of 1 for health workers. A: gain 0.5, 1-day course (RAPR
    0.5 x 5 = 2.5, first); B: a health worker, gain 0.8, 10 days (RAPR 0.4). With the reserve
    (and the score's order) B gets the reserve's unit: 0.8. Without the reserve the unit is
    unreserved and the score's order gives it to A: 0.5. The reserve's marginal price is
    -0.3, a proven gain; alone (no order) it costs 0 (the optimum serves B either way)."""
    rows = [{"patient": "A", "survival_with": 0.5, "expected_days": 1,
             "essential_health_worker": False},
            {"patient": "B", "survival_with": 0.8, "expected_days": 10,
             "essential_health_worker": True}]
    result = allocate(case(rows, 1, method="optimal", categories=["essential_health_worker"],
                           rapr={"mean_days": 5.0},
                           reserves=[{"name": "hcw", "category": "essential_health_worker",
                                      "units": 1}]),
                      protocols=False)
    assert result.recipients == ["B"]
    reserve = result.price_of_fairness.set_index("component").loc["reserve:hcw"]
    assert reserve["lost_alone"] == 0
    assert reserve["lost_marginal"] == pytest.approx(-0.3, abs=1e-12)
    assert not reserve["nested"] and reserve["exact"]
    assert "its beneficiaries first" in reserve["note"]


def test_a_price_within_the_tolerance_is_zero_and_a_nested_negative_is_flagged():
    names = ["reserve:r", "priority:score", "tie_break:lottery"]
    full = frozenset(names)
    value = {frozenset(): 1.0, full: 0.9, **{frozenset([n]): 1.0 for n in names}}
    value.update({full - {n}: 0.9 for n in names})
    value[full - {"tie_break:lottery"}] = 0.9 - 1e-9  # tolerance noise
    value[full - {"reserve:r"}] = 0.8  # a real negative, but the row claims nesting
    rows = {r[1]: r for r in priced_rows("H1", ValueEngine(value), names,
                                          dict.fromkeys(names, True))}
    assert rows["tie_break:lottery"][4] == 0.0 and rows["tie_break:lottery"][6]
    assert rows["reserve:r"][4] == pytest.approx(-0.1)
    assert rows["reserve:r"][6] is False
    assert "not proved" in rows["reserve:r"][7]


def test_price_rows_are_numbers_in_the_json(tmp_path):
    rows = [{"patient": "A", "survival_with": 0.8}, {"patient": "B", "survival_with": 0.5}]
    result = allocate(case(rows, 1, method="optimal"), protocols=False)
    record = result.to_dict()["price_of_fairness"][0]
    assert set(record) >= {"nested", "exact", "lost_marginal"}
    assert isinstance(record["exact"], bool)
    assert np.isfinite(record["lost_alone"])


def test_a_set_not_solved_leaves_its_prices_missing_and_says_which():
    """Each row's note names the sets of its own solves that are not optimal (alone, without
    it, all, unrestricted); its figures that need them are missing and the row is not exact."""
    names = ["reserve:r", "priority:score"]
    full = frozenset(names)
    value: dict[frozenset[str], float | None] = {frozenset(): 1.0, full: 0.9,
                                                 frozenset(["reserve:r"]): 0.95,
                                                 frozenset(["priority:score"]): None}
    rows = {r[1]: r for r in priced_rows("H1", ValueEngine(value), names)}
    reserve, score = rows["reserve:r"], rows["priority:score"]
    assert reserve[3] == pytest.approx(0.05) and reserve[4] is None and not reserve[6]
    assert reserve[7] == "priority:score: time_limit"
    assert score[2] is None and score[3] is None and score[4] == pytest.approx(0.05)
    assert score[7] == "priority:score: time_limit" and not score[6]


def test_no_price_solve_starts_past_the_request_deadline():
    """The protocol's budget holds for bedside prices too: once the request's deadline has
    passed, no program is started (one already solved would still count); every figure is then
    missing, every row says so and none is exact."""

    class NoProgram:
        def solved(self, active, kind):
            return False

        def solve(self, *args, **kwargs):
            raise AssertionError("a price solve started past the deadline")

    inputs = case([{"patient": "A", "survival_with": 0.8}, {"patient": "B", "survival_with": 0.5}],
                  1, method="optimal")
    names = components(inputs.policy)
    expired = Deadline(0.0)
    rows = priced_rows("H1", SnapshotEngine(inputs.policy, NoProgram(), expired), names,
                       nested_components(inputs.policy, names), deadline=expired)
    assert [r[1] for r in rows] == names
    for row in rows:
        assert row[2:5] == [None, None, None] and row[6] is False
        assert "unrestricted: time_limit" in row[7]
