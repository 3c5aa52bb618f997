"""Over time: the online rule against the offline optimum (offline >= online, always), the
offline program against brute force, units that fall, reassessment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from bedside_cases import case
from hypothesis import given, settings
from hypothesis import strategies as st

from optimiser.bedside import allocate
from optimiser.bedside.horizon import (
    offline_optimum,
    reassessment_tier,
    run_online,
    stream_from,
)
from optimiser.bedside.scores import PROTOCOLS, rank_patients


@st.composite
def streams(draw: st.DrawFn, max_patients: int = 8):
    n = draw(st.integers(1, max_patients))
    rows = []
    for i in range(n):
        rows.append({"patient": f"p{i}", "site": draw(st.sampled_from(["A", "B"])),
                     "arrival": draw(st.integers(0, 4)),
                     "expected_days": draw(st.sampled_from([1, 2, 2.5, 3, 5])),
                     "survival_with": draw(st.sampled_from([0.2, 0.5, 0.7, 0.9])),
                     "sofa": draw(st.integers(2, 14)),
                     "life_expectancy_years": draw(st.sampled_from([5, 20, 40])),
                     "essential_health_worker": draw(st.booleans())})
    units = [{"site": s, "day": d, "units": draw(st.integers(0, 2))}
             for s in ("A", "B") for d in sorted(set(draw(st.lists(st.integers(0, 5), min_size=1,
                                                                    max_size=3))))]
    reserves = draw(st.sampled_from([[], [{"name": "hcw", "category": "essential_health_worker",
                                           "share": 0.5}]]))
    return case(rows, units, categories=["essential_health_worker"], reserves=reserves,
                method=draw(st.sampled_from(["optimal", "rule"])),
                priority=draw(st.sampled_from(["rapr", "ny2015_tiers"])))


def brute_offline(stream, benefit, excluded):
    n = len(benefit)
    best = 0.0
    for choice in itertools.product((0, 1), repeat=n):
        if any(x and excluded[i] for i, x in enumerate(choice)):
            continue
        use = np.zeros_like(stream.capacity)
        for i, x in enumerate(choice):
            if x:
                use[stream.site[i], stream.day[i]: stream.day[i] + stream.days[i]] += 1
        if (use <= stream.capacity).all():
            best = max(best, float(sum(b for b, x in zip(benefit, choice, strict=True) if x)))
    return best


@pytest.mark.slow
@settings(max_examples=50, deadline=None)
@given(streams())
def test_offline_is_at_least_online_and_equals_brute_force(inputs):
    stream = stream_from(inputs.cohort, inputs.units)
    for protocol in PROTOCOLS:
        ranking = rank_patients(inputs.cohort.patients, inputs.policy, protocol)
        online = run_online(stream, inputs.policy, ranking)
        bound = offline_optimum(stream, ranking.benefit, ranking.excluded)
        value = float(ranking.benefit[online.treated].sum())
        assert bound.value is not None and bound.value >= value - 1e-9
        # the online schedule never uses more units than the site has, on any day
        use = np.zeros_like(stream.capacity)
        for i in np.flatnonzero(online.treated):
            use[stream.site[i], stream.day[i]: stream.day[i] + stream.days[i]] += 1
        assert (use <= stream.capacity).all()
    ranking = rank_patients(inputs.cohort.patients, inputs.policy)
    bound = offline_optimum(stream, ranking.benefit, ranking.excluded)
    assert bound.value == pytest.approx(brute_offline(stream, ranking.benefit,
                                                      ranking.excluded))


@settings(max_examples=25, deadline=None)
@given(streams())
def test_allocate_reports_a_gap_that_is_never_negative(inputs):
    result = allocate(inputs, price=False, protocols=False)
    assert result.horizon["gap"] >= -1e-9
    assert result.horizon["offline_with_reserves"] <= result.horizon["offline_optimum"] + 1e-9
    assert result.summary["certified"]


def test_units_that_fall_later_are_not_given_out_now():
    """Two units on day 0, one from day 2 (a plan moves one out): two 5-day courses cannot
    both start on day 0; two 1-day courses can (a unit is offered only if it stays free for
    the longest course among the day's candidates)."""
    rows = [{"patient": "long", "arrival": 0, "expected_days": 5, "survival_with": .9},
            {"patient": "long2", "arrival": 0, "expected_days": 5, "survival_with": .8}]
    units = [{"site": "H1", "day": 0, "units": 2}, {"site": "H1", "day": 2, "units": 1}]
    result = allocate(case(rows, units), price=False, protocols=False)
    assert result.recipients == ["long"]
    rows[0]["expected_days"] = rows[1]["expected_days"] = 1
    result = allocate(case(rows, units), price=False, protocols=False)
    assert sorted(result.recipients) == ["long", "long2"]


@pytest.mark.parametrize(("before", "after", "hours", "tier"), [
    (10, 12, 48, "blue"), (10, 10, 48, "blue"), (10, 9, 48, "red"), (6, 6, 48, "yellow"),
    (9, 9, 120, "blue"), (9, 6, 120, "red"), (7, 6, 120, "yellow"), (5, 5, 120, "blue"),
])
def test_reassessment_tiers(before, after, hours, tier):
    assert reassessment_tier(before, after, hours) == tier


def test_reassessment_withdraws_only_for_a_waiting_candidate():
    """One unit. 'trial' starts on day 0 and is blue at 48 h (SOFA 10 -> 12). A candidate
    arrives on day 2: the unit is withdrawn for them. Without that candidate, it is not."""
    trial = {"patient": "trial", "arrival": 0, "expected_days": 8, "survival_with": .3,
             "sofa": 10, "sofa_48h": 12, "sofa_120h": 12}
    newcomer = {"patient": "new", "arrival": 2, "expected_days": 4, "survival_with": .8,
                "sofa": 5, "sofa_48h": 4, "sofa_120h": 3}
    on = {"reassessment": {"enabled": True}}
    result = allocate(case([trial, newcomer], 1, **on), price=False, protocols=False)
    row = result.patients.loc["trial"]
    assert bool(row["withdrawn"]) and row["decision"] == "no_unit"
    assert result.recipients == ["new"]
    alone = allocate(case([trial], 1, **on), price=False, protocols=False)
    assert alone.recipients == ["trial"]
    off = allocate(case([trial, newcomer], 1), price=False, protocols=False)
    assert off.recipients == ["trial"]
