"""The exact tie-break (optimiser/ties.py) against the engine's MIP stages and a brute force.

Where every active family is a floor or an objective weight, the engine solves the three stages
of docs/model.md ("Ties") without a MIP. Here it is checked:
- against the MIP stages it replaced (the engine with the exact method switched off), on random
  instances built to tie: equal lives per unit across regions, equal and proportional excess
  demands, prognosis tiers, staff caps, floors, prioritarian weights;
- against a brute force over every allocation of tiny instances, in exact rational arithmetic;
- its two ways of finding the stage-2 threshold (listing steps, or a search) against each other;
- and that it never falls back to the MIP, and serves the sweeps' tie-break path.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimiser
from optimiser import ties
from optimiser.engine import RegionalEngine, active_constraints, floor_bounds

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FLOOR_CHOICES = [
    "per_capita_floor:share=0.3",
    "per_capita_floor:share=0.8",
    "excess_per_capita_floor:share=0.5",
    "coverage_floor:level=0.5",
    "capacity_per_capita_floor:beds_per_100k=3",
    "min_units:units=2",
    "min_units:units=7",
    "prioritarian",
    "prioritarian:weights=excess_per_capita",
]


@st.composite
def tying_instances(
    draw: st.DrawFn, max_regions: int = 6, max_peak: int = 40
) -> tuple[optimiser.Instance, list[str]]:
    """Instances whose regions often save the same lives per unit (a few gains and lengths of
    stay shared by all), with equal or proportional excess demands, quarter units, tiers."""
    n = draw(st.integers(1, max_regions))
    rows, tiers = [], []
    for i in range(n):
        capacity = draw(st.integers(0, 10))
        excess = draw(st.sampled_from([0, 2, 4, 6, 8, 12])) + draw(
            st.sampled_from([0.0, 0.0, 0.25, 0.5])
        )
        excess = min(excess, max_peak)
        rows.append(
            {
                "region": f"R{i}",
                "population": draw(st.sampled_from([100_000, 200_000, 300_000, 1_000_000])),
                "capacity": capacity,
                "peak_demand": capacity + excess,
                "survival_with": draw(st.sampled_from([0.5, 0.6, 0.6, 0.9])),
                "survival_without": draw(st.sampled_from([0.1, 0.1, 0.5])),
                "los_days": draw(st.sampled_from([None, 5.0, 10.0, 10.0])),
                "staff_cap": draw(st.one_of(st.none(), st.integers(0, 14))),
                "weight": draw(st.sampled_from([1.0, 1.0, 2.0])),
            }
        )
        if draw(st.integers(0, 3)) == 0:
            for share in draw(st.sampled_from([(0.25, 0.75), (0.5, 0.5), (0.5, 0.25, 0.25)])):
                tiers.append(
                    {
                        "region": f"R{i}",
                        "share": share,
                        "survival_with": draw(st.sampled_from([0.5, 0.6, 0.9, 1.0])),
                    }
                )
    total = sum(r["peak_demand"] - r["capacity"] for r in rows)
    supply = draw(st.integers(0, int(total) + 6))
    constraints = draw(st.lists(st.sampled_from(FLOOR_CHOICES), max_size=2, unique=True))
    inst = optimiser.instance_from_frames(
        pd.DataFrame(rows),
        supply,
        tiers=pd.DataFrame(tiers) if tiers else None,
        horizon_days=10.0,
    )
    return inst, constraints


def _mip_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RegionalEngine, "_separable", lambda *a, **k: None)


def _tie_broken(inst: optimiser.Instance, constraints: list[str]) -> tuple[list[int] | None, int]:
    """The tie-broken units (None: the floors exceed the supply) and the HiGHS runs."""
    active = active_constraints(inst, constraints, default_constraints=False)
    out = RegionalEngine(inst, active).solve(active, tie_break=True)
    return (None if out.units is None else out.units.tolist()), out.solves


@SETTINGS
@given(case=tying_instances())
def test_exact_tie_break_equals_the_mip_stages(case) -> None:
    inst, constraints = case
    exact, solves = _tie_broken(inst, constraints)
    assert solves == 0  # no HiGHS run at all
    with pytest.MonkeyPatch.context() as patch:
        _mip_only(patch)
        mip, _ = _tie_broken(inst, constraints)
    assert exact == mip


def test_exact_tie_break_on_the_shipped_instances(monkeypatch) -> None:
    for name, supply in (("pugh2021", None), ("us-states-2020", 1200), ("italy-2020-wave1", 500)):
        inst = optimiser.load_instance(f"instances/{name}")
        if supply is not None:
            inst = inst.with_supply(supply)
        for constraints in ([], ["per_capita_floor:share=0.5"], ["min_units:units=20"]):
            exact, _ = _tie_broken(inst, constraints)
            with monkeypatch.context() as patch:
                _mip_only(patch)
                mip, _ = _tie_broken(inst, constraints)
            assert exact == mip, (name, constraints)


def test_coupled_families_keep_the_mip_stages(pugh) -> None:
    active = active_constraints(pugh, ["max_coverage_gap:gap=0.5"], default_constraints=False)
    out = RegionalEngine(pugh, active).solve(active, tie_break=True)
    assert out.solves > 1


# ---- brute force, in exact arithmetic


def _exact_tiers(data, i: int, weight: Fraction) -> list[tuple[Fraction, Fraction]]:
    """(units, lives per unit) of region i's tiers, best first, as exact fractions."""
    turnover = Fraction(float(data.turnover[i]))
    tiers = [(Fraction(b), weight * Fraction(g) * turnover) for b, g in data.tiers[i]]
    return sorted(tiers, key=lambda t: -t[1])


def _lives(tiers: list[tuple[Fraction, Fraction]], x: int) -> Fraction:
    total, start = Fraction(0), Fraction(0)
    for units, value in tiers:
        if value > 0:
            total += value * min(max(Fraction(x) - start, Fraction(0)), units)
            start += units
    return total


def _shortfall(e: Fraction, u: Fraction) -> Fraction:
    """(e - u)^2 / e at whole units, linear in between (and up to e)."""
    u = min(max(u, Fraction(0)), e)
    a = Fraction(int(u)) if u < e else Fraction(max(int(e) - (1 if e == int(e) else 0), 0))
    b = min(a + 1, e)
    fa, fb = (e - a) ** 2 / e, (e - b) ** 2 / e
    return fa + (fb - fa) * (u - a) / (b - a) if b > a else fa


def brute_force(inst: optimiser.Instance, constraints: list[str]) -> list[int] | None:
    """The documented lexicographic choice over every allocation: most (weighted) lives, then
    the least sum of (E_r - U_r)^2 / E_r, then fewest units, then units to earlier regions."""
    active = active_constraints(inst, constraints, default_constraints=False)
    engine = RegionalEngine(inst, active)
    data = engine.data
    n = len(data.regions)
    weights = engine._objective(active)[engine.model.u]
    lower = np.ceil(floor_bounds(data, [c for c in active if c.definition.floors]) - 1e-9)
    caps = [int(min(c, data.supply)) for c in data.staff_cap]
    contested = set(engine.model.contested.tolist())
    region_tiers, useful = [], []
    for i in range(n):
        mine = [k for k, r in enumerate(engine.model.u_region) if r == i]
        lives = engine.model.lives[engine.model.u[mine]]
        ratio = [
            Fraction(float(w)) / Fraction(float(v))
            for w, v in zip(weights[mine], lives, strict=True)
            if v
        ]
        weight = ratio[0] if ratio else Fraction(0)  # a_r: the same for every tier of r
        tiers = _exact_tiers(data, i, weight)
        region_tiers.append(tiers)
        useful.append(sum((b for b, v in tiers if v >= 0), Fraction(0)))
    ranges = [range(int(lower[i]), caps[i] + 1) for i in range(n)]
    allocations = [x for x in itertools.product(*ranges) if sum(x) <= data.supply]
    if not allocations:
        return None
    lives = [
        sum((_lives(region_tiers[i], x[i]) for i in range(n)), Fraction(0)) for x in allocations
    ]
    most = max(lives)
    # lives equal up to the rounding of the inputs' binary fractions (0.6 - 0.5 is not 0.1)
    near = Fraction(1, 10**9) * max(Fraction(1), most)
    best: tuple | None = None
    choice = None
    for x, saved in zip(allocations, lives, strict=True):
        if saved < most - near:
            continue
        spread = Fraction(0)
        for i in contested:
            e = Fraction(float(data.excess_demand[i]))
            spread += _shortfall(e, min(Fraction(x[i]), useful[i], e))
        key = (spread, sum(x), sum(i * xi for i, xi in enumerate(x)))
        if best is None or key < best:
            best, choice = key, list(x)
    return choice


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=tying_instances(max_regions=3, max_peak=6))
def test_exact_tie_break_equals_a_brute_force(case) -> None:
    inst, constraints = case
    inst = inst.with_supply(min(inst.supply, 9))
    units, _ = _tie_broken(inst, constraints)
    assert units == brute_force(inst, constraints)


# ---- the two ways of finding stage 2's threshold


@SETTINGS
@given(case=tying_instances())
def test_stage_two_search_equals_listing_the_steps(case) -> None:
    inst, constraints = case
    listed, _ = _tie_broken(inst, constraints)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ties, "ENUMERATE_LIMIT", 0)
        searched, _ = _tie_broken(inst, constraints)
    assert listed == searched


def test_webster_on_a_large_tie_by_search_and_by_listing(monkeypatch) -> None:
    """2,000 regions that all save one life per unit: the whole supply is apportioned by
    Webster; listing 10^5 steps and searching give the same answer, the known one."""
    rng = np.random.default_rng(7)
    n = 2_000
    excess = rng.integers(1, 100, n)
    rows = pd.DataFrame(
        {
            "region": [f"R{i}" for i in range(n)],
            "population": rng.integers(10_000, 10**6, n),
            "capacity": 0,
            "peak_demand": excess,
        }
    )
    inst = optimiser.instance_from_frames(rows, int(excess.sum() // 3))
    listed, solves = _tie_broken(inst, [])
    assert solves == 0
    monkeypatch.setattr(ties, "ENUMERATE_LIMIT", 0)
    searched, _ = _tie_broken(inst, [])
    assert listed == searched
    # Sainte-Lague by highest averages E / (n + 1/2), ties to the earlier region
    quotient = excess / 0.5
    given_units = np.zeros(n, dtype=np.int64)
    order_key = [(-q, i) for i, q in enumerate(quotient)]
    import heapq

    heapq.heapify(order_key)
    for _ in range(inst.supply):
        _, i = heapq.heappop(order_key)
        given_units[i] += 1
        if given_units[i] < excess[i]:
            heapq.heappush(order_key, (-excess[i] / (given_units[i] + 0.5), i))
    assert listed == given_units.tolist()


def test_the_sweeps_tie_break_path_uses_the_exact_method(pugh) -> None:
    result = optimiser.sweep(pugh, {"supply": "400,1000,1600"}, tie_break=True)
    assert (result["status"] == "optimal").all()
    for supply, row in zip((400, 1000, 1600), result.to_dict("records"), strict=True):
        direct = optimiser.solve(pugh.with_supply(supply), price_of_fairness=False)
        assert row["lives_saved"] == pytest.approx(direct.lives_saved)


def test_the_report_says_when_no_highs_run_was_needed() -> None:
    """`make run` printed "HiGHS 1.15.1, 0 solves, 0.000 s" for the exact method; the report
    names the method instead, and counts HiGHS runs when there were some."""
    from optimiser.report import allocation_text

    instance = optimiser.load_instance("instances/us-states-2020")
    separable = optimiser.solve(instance)
    assert separable.solver is not None and separable.solver.solves == 0
    assert "exact greedy, no HiGHS run needed" in allocation_text(separable, instance)
    coupled = optimiser.solve(instance, constraints=["threshold:tau=0.5"])
    assert coupled.solver is not None and coupled.solver.solves >= 1
    text = allocation_text(coupled, instance)
    assert "HiGHS run" in text and "exact greedy" not in text
