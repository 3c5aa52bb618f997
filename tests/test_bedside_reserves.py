"""Reserve systems (Pathak et al. 2024) checked by the independent certifier, on random
instances (hypothesis), and the certifier checked on allocations broken on purpose."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.bedside import Category
from optimiser.bedside.certify import certify, max_served
from optimiser.bedside.horizon import _sequential_soft
from optimiser.bedside.policy import Approval, Policy, ReserveSpec
from optimiser.bedside.reserves import (
    NONE,
    allocate,
    categories_for,
    maximum_cardinality,
    sequential,
    smart,
)


@st.composite
def instances(draw: st.DrawFn, hard: bool | None = None) -> tuple[list[Category], np.ndarray]:
    n = draw(st.integers(0, 9))
    reserves = draw(st.integers(0, 3))
    cats = []
    for c in range(reserves):
        ben = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        is_hard = draw(st.booleans()) if hard is None else hard
        eligible = ben.copy() if is_hard else np.ones(n, dtype=bool)
        cats.append(Category(f"r{c}", draw(st.integers(0, 4)), eligible, ben, True, not is_hard))
    cats.insert(draw(st.integers(0, len(cats))), Category(
        "unreserved", draw(st.integers(0, 4)), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)))
    rank = np.array(draw(st.permutations(list(range(n)))), dtype=np.int64)
    return cats, rank


def ids(n: int) -> list[str]:
    return [f"p{i}" for i in range(n)]


@settings(max_examples=300, deadline=None)
@given(instances())
def test_smart_reserves_meet_all_four_axioms(case):
    cats, rank = case
    allocation = smart(cats, rank)
    cert = certify(cats, rank, allocation.assigned, ids(len(rank)), promise_maximum=True)
    assert cert.ok, cert.violations
    assert all(cert.holds.values())


@settings(max_examples=300, deadline=None)
@given(instances())
def test_sequential_reserves_meet_three_axioms(case):
    cats, rank = case
    cert = certify(cats, rank, sequential(cats, rank).assigned, ids(len(rank)),
                   promise_maximum=False)
    assert cert.ok, cert.violations
    assert cert.holds["eligibility"] and cert.holds["non_wastefulness"]
    assert cert.holds["respect_of_priorities"]


@settings(max_examples=200, deadline=None)
@given(instances())
def test_signature_count_equals_max_flow(case):
    cats, _ = case
    assert maximum_cardinality(cats) == max_served(cats)


def test_sequential_can_waste_with_overlapping_hard_reserves_and_smart_does_not():
    """Two hard reserves of one unit: p0 (first in priority) is eligible for both, p1 only for
    a. Sequential gives a's unit to p0 and b's unit idles (p1 is not eligible for it): one
    patient served where two could be. Smart places p0 in b and p1 in a."""
    ben_a = np.array([True, True])
    ben_b = np.array([True, False])
    cats = [Category("a", 1, ben_a.copy(), ben_a, True, False),
            Category("b", 1, ben_b.copy(), ben_b, True, False)]
    rank = np.array([0, 1])
    seq = certify(cats, rank, sequential(cats, rank).assigned, ids(2), promise_maximum=True)
    assert not seq.ok and seq.holds["maximum_cardinality"] is False
    sm = certify(cats, rank, smart(cats, rank).assigned, ids(2), promise_maximum=True)
    assert sm.ok and sm.served == 2


def test_the_certifier_catches_each_broken_property():
    n = 4
    ben = np.array([True, False, False, False])
    cats = [Category("unreserved", 2, np.ones(n, bool), np.zeros(n, bool)),
            Category("hcw", 1, ben.copy(), ben, True, False)]
    rank = np.array([0, 1, 2, 3])
    good = smart(cats, rank).assigned
    assert certify(cats, rank, good, ids(n), True).ok
    ineligible = good.copy()
    ineligible[:] = NONE
    ineligible[[1, 2]] = 0
    ineligible[3] = 1  # p3 is not a beneficiary of the hard reserve
    assert any(v.startswith("eligibility") for v in
               certify(cats, rank, ineligible, ids(n), True).violations)
    wasteful = np.array([0, NONE, NONE, NONE])
    cert = certify(cats, rank, wasteful, ids(n), True)
    assert any(v.startswith("non_wastefulness") for v in cert.violations)
    assert any(v.startswith("maximum_cardinality") for v in cert.violations)
    unfair = np.array([1, 0, NONE, 0])  # p3 holds an open unit while p2 (higher) waits
    cert = certify(cats, rank, unfair, ids(n), True)
    assert [v for v in cert.violations if v.startswith("respect_of_priorities")] == [
        "respect_of_priorities: p3 holds a unit of 'unreserved' while p2, higher in its "
        "order, has none"]
    over = np.array([0, 0, 0, 1])
    assert any("gives 3 units but has 2" in v for v in
               certify(cats, rank, over, ids(n), True).violations)


def brute_force_maximum(cats: list[Category]) -> int:
    n = len(cats[0].eligible) if cats else 0
    best = 0
    for choice in itertools.product(range(-1, len(cats)), repeat=n):
        used = [sum(1 for x in choice if x == c) for c in range(len(cats))]
        if all(u <= c.units for u, c in zip(used, cats, strict=True)) and all(
                x == -1 or cats[x].eligible[i] for i, x in enumerate(choice)):
            best = max(best, sum(1 for x in choice if x >= 0))
    return best


@settings(max_examples=60, deadline=None)
@given(instances())
def test_max_flow_against_brute_force(case):
    cats, _ = case
    if len(cats[0].eligible) > 6:
        return
    assert max_served(cats) == brute_force_maximum(cats)


def _policy(specs: tuple[ReserveSpec, ...]) -> Policy:
    return Policy(name="t", approval=Approval("c", "2024-01-01"), reserves=specs)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12), st.integers(0, 8), st.data())
def test_fast_soft_path_equals_the_general_sequential(n, free, data):
    """horizon._sequential_soft is reserves.sequential over categories_for, specialised."""
    specs = tuple(ReserveSpec(f"r{k}", f"f{k}", units=data.draw(st.integers(0, 4)))
                  for k in range(data.draw(st.integers(0, 2))))
    policy = _policy(specs)
    flags = {s.category: np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                                  dtype=bool) for s in specs}
    rank = np.array(data.draw(st.permutations(list(range(n)))), dtype=np.int64)
    cats = categories_for(policy, flags, n, free)
    general = allocate(cats, rank, "sequential").assigned
    ranked = np.argsort(rank, kind="stable")
    chosen, labels = _sequential_soft(policy.order, list(specs),
                                      {c: f.tolist() for c, f in flags.items()},
                                      ranked.tolist(), free,
                                      {s.name: s.size(free) for s in specs})
    assert sorted(chosen) == sorted(np.flatnonzero(general >= 0).tolist())
    for i, label in zip(chosen, labels, strict=True):
        assert cats[general[i]].name == label
