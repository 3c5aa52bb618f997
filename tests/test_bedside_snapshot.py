"""The snapshot integer program against brute force and hand-solved cases; its families
(reserves, respect of priorities, lottery order) against their definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from bedside_cases import case
from hypothesis import given, settings
from hypothesis import strategies as st

from models.bedside import Category, SnapshotData, build_snapshot, to_pyomo
from optimiser.bedside import allocate
from optimiser.bedside.certify import certify, priority_key
from optimiser.bedside.snapshot import SnapshotIP
from optimiser.solver import HighsModel, SolveStatus


def feasible(cats: list[Category], assigned: tuple[int, ...], maximum: int,
             order: dict[int, np.ndarray] | None) -> bool:
    """Brute-force definition: capacities, eligibility, soft reserves serve their beneficiaries
    first, maximum cardinality, and (with `order`) respect of priorities in each category."""
    n = len(assigned)
    served = [a >= 0 for a in assigned]
    if sum(served) != maximum:
        return False
    for c, cat in enumerate(cats):
        holders = [i for i in range(n) if assigned[i] == c]
        if len(holders) > cat.units or any(not cat.eligible[i] for i in holders):
            return False
        others = cat.reserve and cat.soft and any(not cat.beneficiary[i] for i in holders)
        if others and not all(served[i] for i in range(n) if cat.beneficiary[i]):
            return False
        if order is not None and holders:
            key = order[c]
            worst = max(key[i] for i in holders)
            if any(not served[j] and cat.eligible[j] and key[j] < worst for j in range(n)):
                return False
    return True


def brute_force(cats: list[Category], benefit: np.ndarray, maximum: int,
                order: dict[int, np.ndarray] | None = None) -> float | None:
    best = None
    for assigned in itertools.product(range(-1, len(cats)), repeat=len(benefit)):
        if feasible(cats, assigned, maximum, order):
            value = float(sum(b for b, a in zip(benefit, assigned, strict=True) if a >= 0))
            best = value if best is None else max(best, value)
    return best


@st.composite
def snapshots(draw: st.DrawFn) -> SnapshotData:
    n = draw(st.integers(1, 5))
    benefit = np.array(draw(st.lists(st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.5, 0.8]),
                                     min_size=n, max_size=n)))
    cats = []
    for c in range(draw(st.integers(0, 2))):
        ben = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        hard = draw(st.booleans())
        cats.append(Category(f"r{c}", draw(st.integers(0, 2)),
                             ben.copy() if hard else np.ones(n, dtype=bool), ben, True, not hard))
    units = sum(c.units for c in cats) + draw(st.integers(0, 3))
    cats.insert(0, Category("unreserved", units - sum(c.units for c in cats),
                            np.ones(n, dtype=bool), np.zeros(n, dtype=bool)))
    score = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    rank = np.array(draw(st.permutations(list(range(n)))))
    lottery = np.array(draw(st.permutations(list(range(n)))))
    strict = np.lexsort((lottery, score))
    strict_rank = np.empty(n, dtype=np.int64)
    strict_rank[strict] = np.arange(n)
    _ = rank
    return SnapshotData(benefit, units, tuple(cats),
                        {"score": score, "score+lottery": strict_rank, "lottery": lottery})


def orders_of(data: SnapshotData, kind: str) -> dict[int, np.ndarray]:
    return {c: priority_key(cat, data.orders[kind]) for c, cat in enumerate(data.categories)}


@settings(max_examples=120, deadline=None)
@given(snapshots(), st.sampled_from([None, "score", "score+lottery", "lottery"]))
def test_program_against_brute_force(data, kind):
    ip = SnapshotIP(data, per_patient=True)
    active = [c.name for c in data.categories if c.reserve]
    out = ip.solve(active, kind)
    cats = list(data.categories)
    maximum = ip._switch(frozenset(active), kind)
    order = None if kind is None else orders_of(data, kind)
    expected = brute_force(cats, data.benefit, maximum, order)
    assert expected is not None  # smart reserve processing proves an allocation exists
    assert out.status is SolveStatus.OPTIMAL
    assert out.objective == pytest.approx(expected, abs=1e-9)
    assert out.assigned is not None
    assert feasible(cats, tuple(int(a) for a in out.assigned), maximum, order)


@settings(max_examples=80, deadline=None)
@given(snapshots())
def test_grouped_program_equals_per_patient_program(data):
    active = [c.name for c in data.categories if c.reserve]
    rank = data.orders["score+lottery"]
    grouped = SnapshotIP(data).solve(active, rank=rank)
    single = SnapshotIP(data, per_patient=True).solve(active, rank=rank)
    assert grouped.objective == pytest.approx(single.objective, abs=1e-9)
    assert (grouped.served == single.served).all()  # the same tie-break on the same optima


def test_tie_break_prefers_priority_among_equal_benefit():
    """Four candidates of equal benefit, two units: the two highest in the policy's order."""
    data = SnapshotData(np.full(4, 0.5), 2, (Category("unreserved", 2, np.ones(4, bool),
                                                      np.zeros(4, bool)),))
    rank = np.array([3, 0, 2, 1])
    out = SnapshotIP(data).solve([], rank=rank)
    assert out.served.tolist() == [False, True, False, True]


def test_hand_solved_snapshot_with_a_soft_reserve():
    """5 candidates, 3 units, 1 reserved for health workers (h). Benefits a .9, b .8, c .7
    (h), d .6 (h), e .2. Unrestricted: a, b, c (2.4). With the reserve: one unit to the best
    worker (c) and the two open units to a and b: the reserve costs nothing. A reserve of 2:
    c and d, plus a: 2.2, price 0.2."""
    rows = [{"patient": p, "survival_with": s, "essential_health_worker": w}
            for p, s, w in (("a", .9, False), ("b", .8, False), ("c", .7, True),
                            ("d", .6, True), ("e", .2, False))]
    common = {"categories": ["essential_health_worker"], "method": "optimal"}
    one = allocate(case(rows, 3, reserves=[{"name": "hcw", "category": "essential_health_worker",
                                            "units": 1}], **common), protocols=False)
    assert sorted(one.recipients) == ["a", "b", "c"]
    two = allocate(case(rows, 3, reserves=[{"name": "hcw", "category": "essential_health_worker",
                                            "units": 2}], **common), protocols=False)
    assert sorted(two.recipients) == ["a", "c", "d"]
    assert two.summary["lives_gained"] == pytest.approx(2.2)
    price = two.price_of_fairness.set_index("component")
    assert price.loc["reserve:hcw", "lost_alone"] == pytest.approx(0.2)


def test_the_arrays_through_pyomo_give_the_same_optimum():
    """models.bedside.to_pyomo: Pyomo's own compiler reads the program back; same optimum."""
    rng = np.random.default_rng(3)
    n = 12
    ben = rng.random(n) < 0.4
    cats = (Category("unreserved", 3, np.ones(n, bool), np.zeros(n, bool)),
            Category("r", 2, np.ones(n, bool), ben, True, True))
    data = SnapshotData(np.round(rng.random(n), 2), 5, cats)
    program = build_snapshot(data)
    model = to_pyomo(program)
    highs = HighsModel(model)  # type: ignore[arg-type]
    highs.set_objective(model.objective.expr, maximize=True)  # type: ignore[attr-defined]
    run = highs.solve()
    ours = SnapshotIP(data).solve(["r"])
    assert run.objective == pytest.approx(ours.objective, abs=1e-9)


def test_certificates_of_the_rule_and_of_the_optimum():
    rows = [{"patient": f"p{i}", "survival_with": s} for i, s in enumerate((.9, .3, .5, .7))]
    rule = allocate(case(rows, 2, method="rule"), protocols=False)
    assert all(not c["violations"] for c in rule.certificates)
    assert all(c["holds"]["respect_of_priorities"] for c in rule.certificates)
    optimal = allocate(case(rows, 2), protocols=False)
    assert sorted(optimal.recipients) == ["p0", "p3"]
    assert optimal.certificates[0]["proof"] == "lp-integral"


def test_certify_is_independent_of_the_program():
    """The same arrays, certified by certify.py after the program's choice."""
    data = SnapshotData(np.array([.5, .4, .3]), 2, (
        Category("unreserved", 1, np.ones(3, bool), np.zeros(3, bool)),
        Category("r", 1, np.array([False, False, True]), np.array([False, False, True]), True,
                 False)))
    out = SnapshotIP(data).solve(["r"], rank=np.array([0, 1, 2]))
    cert = certify(data.categories, np.array([0, 1, 2]), out.assigned, ["a", "b", "c"], True)
    assert cert.ok and out.served.tolist() == [True, False, True]
