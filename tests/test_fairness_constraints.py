"""Every fairness constraint: hand-solved optima, independent checks of what each one promises,
and (hypothesis) a brute-force search over every allocation of tiny random instances.

The predicates below are written from the issue's definitions, not from models/fairness/.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tolerances import (
    COVERAGE_EPS,
    FLOOR_EPS,
    THRESHOLD_EPS,
    THRESHOLD_STRICT_MARGIN,
    approx_lives,
    lives_tol,
)

import optimiser
from optimiser import ConstraintSpec

# ---------------------------------------------------------------------------------------------
# Independent definitions


def _rows(inst: optimiser.Instance) -> list[dict[str, Any]]:
    out = []
    for rid, r in inst.regions.iterrows():
        excess = max(0.0, r["peak_demand"] - r["capacity"])
        cap = math.inf if math.isnan(r["staff_cap"]) else r["staff_cap"]
        out.append({"id": rid, **r.to_dict(), "E": excess, "cap": cap})
    return out


def floor_of(spec: ConstraintSpec, inst: optimiser.Instance, supply: int) -> dict[str, int]:
    """The units each region is guaranteed by a floor constraint, before clipping at staff caps."""
    p, rows = spec.options, _rows(inst)
    if spec.kind in ("per_capita_floor", "excess_per_capita_floor"):
        w = [
            r["population"] if spec.kind == "per_capita_floor" else r["E"] / r["population"]
            for r in rows
        ]
        total = sum(w)
        return {
            r["id"]: 0 if total == 0 else math.floor(p["share"] * supply * wr / total + FLOOR_EPS)
            for r, wr in zip(rows, w, strict=True)
        }
    if spec.kind == "coverage_floor":
        return {
            r["id"]: max(0, math.ceil(p["level"] * r["peak_demand"] - FLOOR_EPS) - r["capacity"])
            if r["peak_demand"] > 0
            else 0
            for r in rows
        }
    if spec.kind == "capacity_per_capita_floor":
        return {
            r["id"]: max(
                0, math.ceil(p["beds_per_100k"] * r["population"] / 1e5 - FLOOR_EPS) - r["capacity"]
            )
            for r in rows
        }
    if spec.kind == "min_units":
        return {
            r["id"]: math.ceil(min(p["units"], r["E"]) - FLOOR_EPS) if r["E"] > 0 else 0
            for r in rows
        }
    raise KeyError(spec.kind)


FLOOR_KINDS = (
    "per_capita_floor",
    "excess_per_capita_floor",
    "coverage_floor",
    "capacity_per_capita_floor",
    "min_units",
)


def coverage_gap(
    inst: optimiser.Instance, x: Mapping[str, int], rows: list[dict] | None = None
) -> float:
    """max - min over regions with demand of min(1, (capacity_r + x_r) / peak_demand_r)."""
    rows = rows if rows is not None else _rows(inst)
    cov = [
        min(1.0, (r["capacity"] + x[r["id"]]) / r["peak_demand"])
        for r in rows
        if r["peak_demand"] > 0
    ]
    return max(cov) - min(cov) if cov else 0.0


def threshold_members(inst: optimiser.Instance, tau: float, index: str) -> list[dict[str, Any]]:
    rows = _rows(inst)
    los = inst.los
    mean_los = float(los.mean())
    values = {
        "rai": [
            r["E"] * r["survival_with"] / (los[r["id"]] / mean_los * r["pressure"]) for r in rows
        ],
        "excess_demand": [r["E"] for r in rows],
        "excess_per_100k": [r["E"] / r["population"] * 1e5 for r in rows],
    }[index]
    return [r for r, v in zip(rows, values, strict=True) if v >= tau - FLOOR_EPS]


def threshold_terms(
    inst: optimiser.Instance, tau: float, index: str
) -> list[tuple[str, float, float]]:
    """(region, w_r, stop level) for the regions of T; [] when fewer than two compete.
    w_r = (E_r / pop_r) / max_T (E / pop); a region may stop early once it holds its stop level
    min(staff_cap_r, ceil(E_r)) (as models/fairness/ documents)."""
    members = threshold_members(inst, tau, index)
    if len(members) <= 1:
        return []
    per_capita = {r["id"]: r["E"] / r["population"] for r in members}
    scale = max(per_capita.values())
    if scale <= 0:
        return []
    return [
        (r["id"], per_capita[r["id"]] / scale, min(r["cap"], math.ceil(r["E"] - FLOOR_EPS)))
        for r in members
    ]


def lambda_interval(
    terms: list[tuple[str, float, float]], x: Mapping[str, int], margin: float = THRESHOLD_EPS
) -> tuple[float, float] | None:
    """The interval of lambda >= 0 with |x_r - lambda w_r| < 1 for every region of T (a region
    at its stop level only needs x_r < lambda w_r + 1): the intersection of one open interval per
    region. `margin` shrinks every bound. None: the intersection is empty."""
    lo, hi = 0.0, math.inf
    for rid, w, stop in terms:
        xr = x[rid]
        if w == 0:
            if xr >= 1 - margin:
                return None
            continue
        lo = max(lo, (xr - 1 + margin) / w)  # x_r < lambda w_r + 1
        if xr < stop:
            hi = min(hi, (xr + 1 - margin) / w)  # x_r > lambda w_r - 1
    return (lo, hi) if lo < hi else None


def threshold_lambda_interval(
    inst: optimiser.Instance,
    x: Mapping[str, int],
    tau: float,
    index: str = "rai",
    margin: float = THRESHOLD_EPS,
) -> tuple[float, float] | None:
    terms = threshold_terms(inst, tau, index)
    return lambda_interval(terms, x, margin) if terms else (0.0, math.inf)


class Checker:
    """Does an allocation meet a set of constraints as the issue defines them (floors clipped at
    staff caps)? Everything that does not depend on the allocation is computed once."""

    def __init__(
        self,
        inst: optimiser.Instance,
        specs: Sequence[ConstraintSpec],
        margin: float = THRESHOLD_EPS,
    ) -> None:
        self.inst, self.margin = inst, margin
        self.rows = _rows(inst)
        self.need: dict[str, int] = {r["id"]: 0 for r in self.rows}
        self.gaps: list[float] = []
        self.thresholds: list[list[tuple[str, float, float]]] = []
        for spec in specs:
            o = spec.options
            if spec.kind in FLOOR_KINDS:
                floors = floor_of(spec, inst, inst.supply)
                for r in self.rows:
                    self.need[r["id"]] = max(self.need[r["id"]], min(floors[r["id"]], r["cap"]))
            elif spec.kind == "max_coverage_gap":
                self.gaps.append(o["gap"])
            elif spec.kind == "threshold":
                terms = threshold_terms(inst, o["tau"], o.get("index", "rai"))
                if terms:
                    self.thresholds.append(terms)

    def __call__(self, x: Mapping[str, int]) -> bool:
        if any(x[rid] < need for rid, need in self.need.items()):
            return False
        if self.gaps and coverage_gap(self.inst, x, self.rows) > min(self.gaps) + COVERAGE_EPS:
            return False
        return all(lambda_interval(t, x, self.margin) is not None for t in self.thresholds)


def satisfies(spec: ConstraintSpec, inst: optimiser.Instance, x: Mapping[str, int]) -> bool:
    return Checker(inst, [spec])(x)


def brute_force(
    inst: optimiser.Instance, specs: Sequence[ConstraintSpec], lives, margin: float = THRESHOLD_EPS
) -> float | None:
    """Most lives over every integer allocation within supply and staff caps meeting `specs`
    (lives are separable: tabulated per region and units once)."""
    check = Checker(inst, specs, margin)
    rows = check.rows
    ranges = [range(int(min(r["cap"], inst.supply)) + 1) for r in rows]
    table = [
        [lives(inst, {r["id"]: u}) for u in span] for r, span in zip(rows, ranges, strict=True)
    ]
    best = None
    for combo in itertools.product(*ranges):
        if sum(combo) > inst.supply:
            continue
        x = {r["id"]: u for r, u in zip(rows, combo, strict=True)}
        if check(x):
            value = sum(t[u] for t, u in zip(table, combo, strict=True))
            best = value if best is None or value > best else best
    return best


# ---------------------------------------------------------------------------------------------
# Hand-solved: three regions, supply 20.
#   A: pop 1,000, capacity 0, peak 10, survival 0.9 -> E 10, 0.9 lives per unit
#   B: pop 3,000, capacity 5, peak 20, survival 0.5 -> E 15, 0.5 lives per unit
#   C: pop 6,000, capacity 2, peak  8, survival 0.2 -> E  6, 0.2 lives per unit
# Without fairness: A 10, B 10, C 0 -> 9 + 5 = 14 lives.

ROWS = [
    {"region": "A", "population": 1000, "capacity": 0, "peak_demand": 10, "survival_with": 0.9},
    {"region": "B", "population": 3000, "capacity": 5, "peak_demand": 20, "survival_with": 0.5},
    {"region": "C", "population": 6000, "capacity": 2, "peak_demand": 8, "survival_with": 0.2},
]

HAND_SOLVED = [
    # (constraint, allocation, lives, worked out by hand)
    # floor(0.5 * 20 * pop / 10,000) = 1, 3, 6: C's 6 forced, then A 10, B the other 4.
    ("per_capita_floor:share=0.5", {"A": 10, "B": 4, "C": 6}, 9 + 2 + 1.2),
    # w = E/pop = .01, .005, .001 (sum .016): floor(20 w / .016) = 12, 6, 1. A is forced past
    # its excess (2 useless units), the last unit goes to B: 9 + 3.5 + 0.2.
    ("excess_per_capita_floor:share=1", {"A": 12, "B": 7, "C": 1}, 9 + 3.5 + 0.2),
    # ceil(0.5 P) - c = 5, 5, 2; then 8 more: A to 10, B to 8.
    ("coverage_floor:level=0.5", {"A": 10, "B": 8, "C": 2}, 9 + 4 + 0.4),
    # ceil(100 pop / 100,000) - c = 1, 3 - 5 -> 0, 6 - 2 = 4; then A 10, B 6.
    ("capacity_per_capita_floor:beds_per_100k=100", {"A": 10, "B": 6, "C": 4}, 9 + 3 + 0.8),
    # min(3, E_r) = 3 each; then A 10, B 7.
    ("min_units:units=3", {"A": 10, "B": 7, "C": 3}, 9 + 3.5 + 0.6),
    # coverages x/10, (5+x)/20, (2+x)/8 within 0.25: C 3 (0.625), B 9 (0.70), A 8 (0.80);
    # A 9 would open a gap of 0.275 (a brute force over all 1,771 allocations agrees).
    ("max_coverage_gap:gap=0.25", {"A": 8, "B": 9, "C": 3}, 7.2 + 4.5 + 0.6),
    # All in T (excess per 100k >= 0); w = 1, .5, .1. A stops at its excess 10; B 9 and C 1 need
    # lambda in (16, 20) and (0, 20): lives 9 + 4.5 + 0.2. B 10 would need lambda > 18 and then
    # C >= 1, and lambda >= 20 forces B >= 10 and C >= 2: 22 units > 20.
    ("threshold:tau=0,index=excess_per_100k", {"A": 10, "B": 9, "C": 1}, 9 + 4.5 + 0.2),
]


@pytest.fixture(scope="module")
def three(make_instance) -> optimiser.Instance:
    return make_instance(ROWS, 20)


def test_unconstrained_hand_solved(three: optimiser.Instance) -> None:
    result = optimiser.solve(three)
    assert result.allocation == {"A": 10, "B": 10, "C": 0}
    assert result.lives_saved == approx_lives(14.0)


@pytest.mark.parametrize(
    ("spec", "allocation", "lives"), HAND_SOLVED, ids=[c[0] for c in HAND_SOLVED]
)
def test_each_constraint_hand_solved(
    spec: str, allocation: dict, lives: float, three, lives_oracle
) -> None:
    result = optimiser.solve(three, constraints=[spec])
    assert result.status == "optimal"
    assert result.allocation == allocation
    assert result.lives_saved == approx_lives(lives)
    parsed = optimiser.parse_constraint(spec)
    assert satisfies(parsed, three, result.allocation)
    # independently: no allocation meeting the constraint saves more
    best = brute_force(three, [parsed], lives_oracle)
    assert result.lives_saved == approx_lives(best)
    price = result.price_of_fairness.iloc[0]
    assert price["constraint"] == parsed.label
    assert price["lives_lost_alone"] == approx_lives(14.0 - lives)


def test_min_units_never_asks_for_more_than_the_excess(make_instance) -> None:
    # A: E 10 at 0.9; B: E 2 at 0.1. min_units 5 guarantees B min(5, 2) = 2, not 5:
    # B 2 (0.2), A 8 (7.2) = 7.4 with 10 units.
    inst = make_instance(
        [
            {
                "region": "A",
                "population": 1,
                "capacity": 0,
                "peak_demand": 10,
                "survival_with": 0.9,
            },
            {"region": "B", "population": 1, "capacity": 3, "peak_demand": 5, "survival_with": 0.1},
            {"region": "C", "population": 1, "capacity": 5, "peak_demand": 5},
        ],
        10,
    )
    result = optimiser.solve(inst, constraints=["min_units:units=5"])
    assert result.allocation == {"A": 8, "B": 2, "C": 0}  # C has no excess: no floor
    assert result.lives_saved == approx_lives(7.4)


def test_floors_are_clipped_at_staff_caps_and_listed(make_instance) -> None:
    rows = [dict(r) for r in ROWS]
    rows[2]["staff_cap"] = 3
    inst = make_instance(rows, 20)
    # per capita floors 2, 6, 12; C can staff 3 only: C 3, A 10, B 7 = 9 + 3.5 + 0.6.
    result = optimiser.solve(inst, constraints=["per_capita_floor:share=1", "min_units:units=4"])
    assert result.status == "optimal"
    assert result.allocation == {"A": 10, "B": 7, "C": 3}
    assert result.lives_saved == approx_lives(13.1)
    clipped = {
        (r.constraint, r.region): (r.requested, r.staff_cap)
        for r in result.clipped_floors.itertuples()
    }
    assert clipped == {
        ("per_capita_floor(share=1)", "C"): (12, 3),
        ("min_units(units=4)", "C"): (4, 3),
    }
    assert result.to_dict()["clipped_floors"][0]["region"] == "C"
    # nothing is clipped when the caps do not bind
    assert optimiser.solve(inst, constraints=["min_units:units=3"]).clipped_floors.empty


@pytest.mark.parametrize("gap", [0.1, 0.2, 0.35, 0.5])
def test_max_coverage_gap_is_respected_on_pugh2021(gap: float, pugh: optimiser.Instance) -> None:
    result = optimiser.solve(
        pugh, constraints=[f"max_coverage_gap:gap={gap}"], price_of_fairness=False
    )
    assert result.status == "optimal"
    realised = coverage_gap(pugh, result.allocation)
    assert realised <= gap + COVERAGE_EPS, (result.allocation, realised)
    # the engine's own coverage column agrees with the definition
    cov = result.regions["coverage_after"]
    assert cov.max() - cov.min() == pytest.approx(realised)
    assert sum(result.allocation.values()) <= 1000


def test_max_coverage_gap_too_tight_is_explained(pugh: optimiser.Instance) -> None:
    # A and D are already covered at 50%: with a gap of 0.05 C must reach 45% (990 - 300 = 690
    # units) and B 45% (1125 - 700 = 425): 1,115 units, more than the 1,000 available.
    result = optimiser.solve(
        pugh, constraints=["max_coverage_gap:gap=0.05"], price_of_fairness=False
    )
    assert result.status == "infeasible"
    assert result.allocation == {}
    for fragment in ("max_coverage_gap(gap=0.05)", "1,115", "1,000"):
        assert fragment in result.explanation


def test_max_coverage_gap_zero_splits_exactly(make_instance) -> None:
    # peaks 10 and 5, no capacity: equal coverage means x_A = 2 x_B. Supply 7 -> 4 + 2, 1 kept.
    inst = make_instance(
        [
            {"region": "A", "population": 1, "capacity": 0, "peak_demand": 10},
            {"region": "B", "population": 1, "capacity": 0, "peak_demand": 5},
        ],
        7,
    )
    result = optimiser.solve(inst, constraints=["max_coverage_gap:gap=0"])
    assert result.allocation == {"A": 4, "B": 2}
    assert result.unallocated == 1
    assert result.price_of_fairness.iloc[0]["lives_lost_alone"] == approx_lives(1.0)


@pytest.mark.parametrize(
    ("tau", "members"), [(0, "ABCD"), (1000, "ABC"), (1500, "BC"), (1850, "C")]
)
def test_threshold_on_pugh2021(tau: float, members: str, pugh: optimiser.Instance) -> None:
    # RAI = excess demand here (1000, 1800, 1900, 500).
    assert "".join(r["id"] for r in threshold_members(pugh, tau, "rai")) == members
    result = optimiser.solve(pugh, constraints=[f"threshold:tau={tau}"], price_of_fairness=False)
    assert result.status == "optimal"
    assert result.lives_saved == approx_lives(1000)
    interval = threshold_lambda_interval(pugh, result.allocation, tau)
    assert interval is not None, result.allocation
    if len(members) == 1:
        return  # one region alone trivially competes equally with itself
    # regions in T split in proportion to E_r / pop_r (up to one unit): check directly
    lam = (interval[0] + min(interval[1], interval[0] + 1)) / 2
    scale = max(float(pugh.excess_demand[r] / pugh.regions.loc[r, "population"]) for r in members)
    for r in members:
        w = float(pugh.excess_demand[r] / pugh.regions.loc[r, "population"]) / scale
        assert abs(result.allocation[r] - lam * w) < 1


def test_threshold_with_everyone_in_T_is_the_excess_per_capita_rule_up_to_one_unit(pugh) -> None:
    fair = optimiser.solve(
        pugh, constraints=["threshold:tau=0"], price_of_fairness=False
    ).allocation
    table_3 = optimiser.solve(pugh, policy="excess_per_capita", price_of_fairness=False).allocation
    assert all(abs(fair[r] - table_3[r]) <= 1 for r in fair), (fair, table_3)


def test_threshold_region_at_its_staff_cap_may_stop(make_instance) -> None:
    # Equal need per capita, so w = 1 for both. A can staff 2: it stops at its cap and B, worth
    # less per unit, takes the remaining 6 (|6 - lambda| < 1 with lambda in (5, 7)).
    inst = make_instance(
        [
            {"region": "A", "population": 100, "capacity": 0, "peak_demand": 10, "staff_cap": 2},
            {
                "region": "B",
                "population": 100,
                "capacity": 0,
                "peak_demand": 10,
                "survival_with": 0.5,
            },
        ],
        8,
    )
    result = optimiser.solve(inst, constraints=["threshold:tau=0"])
    assert result.allocation == {"A": 2, "B": 6}
    assert threshold_lambda_interval(inst, result.allocation, 0) is not None


def test_threshold_deprioritises_only_regions_below_tau(make_instance, lives_oracle) -> None:
    # A and B above tau (excess 10 >= 5) compete equally: w_A = 1 (10 per 100), w_B = 0.5.
    # C (excess 4 < 5) is left to the lives objective and, worth the most, is filled first.
    inst = make_instance(
        [
            {
                "region": "A",
                "population": 100,
                "capacity": 0,
                "peak_demand": 10,
                "survival_with": 0.3,
            },
            {
                "region": "B",
                "population": 200,
                "capacity": 0,
                "peak_demand": 10,
                "survival_with": 0.6,
            },
            {
                "region": "C",
                "population": 100,
                "capacity": 0,
                "peak_demand": 4,
                "survival_with": 0.9,
            },
        ],
        13,
    )
    spec = optimiser.parse_constraint("threshold:tau=5,index=excess_demand")
    result = optimiser.solve(inst, constraints=[spec])
    # C 4; 9 left for A:B ~ 2:1 -> 6 and 3 (lambda in (5, 7) and (4, 8)): 3.6 + 1.8 + 1.8.
    assert result.allocation == {"A": 6, "B": 3, "C": 4}
    assert result.lives_saved == approx_lives(brute_force(inst, [spec], lives_oracle))


def test_floors_with_zero_supply_and_no_demand(make_instance) -> None:
    rows = [
        {"region": "A", "population": 100, "capacity": 5, "peak_demand": 5},
        {"region": "B", "population": 100, "capacity": 0, "peak_demand": 0},
    ]
    specs = [
        "per_capita_floor:share=1",
        "min_units:units=3",
        "max_coverage_gap:gap=0",
        "coverage_floor:level=1",
    ]
    result = optimiser.solve(make_instance(rows, 0), constraints=specs)
    assert result.status == "optimal"
    assert result.allocation == {"A": 0, "B": 0}


# ---------------------------------------------------------------------------------------------
# Property: the engine's optimum under random constraints equals a brute-force search.

PARAMS = {
    "per_capita_floor": lambda d: {"share": d(st.sampled_from([0.0, 0.25, 0.5, 0.8, 1.0]))},
    "excess_per_capita_floor": lambda d: {"share": d(st.sampled_from([0.2, 0.5, 0.9, 1.0]))},
    "coverage_floor": lambda d: {"level": d(st.sampled_from([0.1, 0.3, 0.5, 0.7]))},
    "capacity_per_capita_floor": lambda d: {"beds_per_100k": d(st.sampled_from([50, 200, 400]))},
    "min_units": lambda d: {"units": d(st.integers(0, 4))},
    "max_coverage_gap": lambda d: {"gap": d(st.sampled_from([0.0, 0.1, 0.25, 0.5]))},
    "threshold": lambda d: {
        "tau": d(st.sampled_from([0, 1, 3, 200, 1000])),
        "index": d(st.sampled_from(["rai", "excess_demand", "excess_per_100k"])),
    },
}


@st.composite
def tiny_case(draw: st.DrawFn) -> tuple[list[dict], int, list[ConstraintSpec]]:
    n = draw(st.integers(2, 3))
    rows = []
    for i in range(n):
        sw = draw(st.sampled_from([0.2, 0.5, 0.8, 1.0]))
        row = {
            "region": f"R{i}",
            "population": draw(st.sampled_from([500, 1000, 2500, 4000])),
            "capacity": draw(st.integers(0, 4)),
            "peak_demand": draw(st.integers(0, 9)),
            "survival_with": sw,
            "survival_without": draw(st.sampled_from([0.0, 0.1])) if sw > 0.1 else 0.0,
            "los_days": draw(st.sampled_from([None, 4.0, 8.0])),
            "staff_cap": draw(st.sampled_from([None, None, 1, 3])),
        }
        rows.append(row)
    supply = draw(st.integers(0, 9 if n == 3 else 12))
    kinds = draw(st.lists(st.sampled_from(sorted(PARAMS)), min_size=1, max_size=2, unique=True))
    specs = [optimiser.constraint(k, **PARAMS[k](draw)) for k in kinds]
    return rows, supply, specs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=tiny_case())
def test_optimum_matches_brute_force_under_random_constraints(
    case, make_instance, lives_oracle
) -> None:
    rows, supply, specs = case
    inst = make_instance(rows, supply)
    result = optimiser.solve(inst, constraints=specs, price_of_fairness=False)
    # brute force with strict and loose threshold bounds: the engine's |x - lambda w| <= 1 - 1e-5
    # sits between the two.
    strict = brute_force(inst, specs, lives_oracle, margin=THRESHOLD_STRICT_MARGIN)
    loose = brute_force(inst, specs, lives_oracle, margin=THRESHOLD_EPS)
    if result.status == "infeasible":
        assert loose is None, (result.explanation, loose)
        assert result.explanation and "infeasible" in result.explanation
        return
    assert result.status == "optimal"
    assert loose is not None
    x = result.allocation
    assert Checker(inst, specs)(x), (x, [s.label for s in specs])
    assert sum(x.values()) <= supply
    assert result.lives_saved == approx_lives(lives_oracle(inst, x))
    assert result.lives_saved <= loose + lives_tol(loose)
    if strict is not None:
        assert result.lives_saved >= strict - lives_tol(strict)


def test_the_infeasibility_explanation_counts_whole_units(make_instance) -> None:
    """Fractional capacity makes fractional floors (x_A >= 2.5): three units, not two."""
    rows = [
        {"region": "A", "population": 100, "capacity": 0.5, "peak_demand": 6},
        {"region": "B", "population": 100, "capacity": 0.5, "peak_demand": 6},
    ]
    instance = make_instance(rows, supply=5)
    result = optimiser.solve(instance, constraints=["coverage_floor:level=0.5"])
    assert result.status == "infeasible"
    assert "needs 6 units (A: 3, B: 3), but supply is 5" in result.explanation
