"""Probe 6: the text of an allocation a time limit cut short. `triage solve
instances/us-states-2020 -c threshold:tau=0.3 --time-limit 4` on a loaded machine (HiGHS
stopped with a gap of 2,400 lives) printed, on main e279bf2:

    Expected extra survivors: 9.4, against 7,730.9 without fairness constraints (they cost
      7,721.6 lives, 99.9%)
    Kept in the national reserve (no region can use them): 2,397
    All active together: 7,721.57 lives lost (99.88% of 7,730.94)

Neither is proved: the constraint's cost lies between 0 (the solve's own bound) and 7,721.6,
and the 2,397 units were left by an unfinished search while NY, MA, NJ were short. The text
now gives the proven interval and says why the units are not allocated (the price-of-fairness
table already gave the interval)."""

from __future__ import annotations

import optimiser
from optimiser.notebook import allocation_html
from optimiser.report import allocation_text, price_text


def _time_limited(pugh) -> optimiser.AllocationResult:
    data = optimiser.solve(pugh, constraints=["coverage_floor:level=0.3"]).to_dict()
    data.update(status="time_limit", lives_saved=6.0, lives_saved_bound=950.0,
                lives_optimal=1000.0, lives_optimal_bound=1000.0, lives_lost_total=994.0,
                lives_lost_pct=99.4, unallocated=994)
    return optimiser.AllocationResult.from_dict(data)


def test_a_time_limited_cost_is_the_proven_interval(pugh) -> None:
    result = _time_limited(pugh)
    text = " ".join(allocation_text(result).split())
    assert "(they cost between 50.0 and 994.0 (not proved) lives, at most 99.4%)" in text
    assert "no region can use them" not in text
    assert "Not allocated by the best allocation found (status time_limit): 994" in text
    prices = " ".join(price_text(result).split()) if price_text(result) else ""
    assert "All active together: between 50.00 and 994.00 (not proved) lives lost" in prices
    assert "they cost between 50.0 and 994.0 (not proved) lives" in allocation_html(result)


def test_an_optimal_cost_is_still_one_number(pugh) -> None:
    result = optimiser.solve(pugh, constraints=["coverage_floor:level=0.3"], supply=1500)
    text = " ".join(allocation_text(result).split())
    assert "not proved" not in text and "between" not in text
    assert f"they cost {result.lives_lost_total:,.1f} lives" in text
