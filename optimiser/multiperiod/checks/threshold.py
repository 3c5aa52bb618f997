"""threshold(tau, index): the paper's threshold rule on X_r, the units received net by each
member's last useful day D_r, from its definition.

The members T = {r : index_r >= tau, U_r > 0} (regions.csv values; index rai, RAI / max RAI,
E_r, or E_r per 100,000; U_r the most units r can use at once, `Useful`) must admit one
lambda >= 0 with, for every member, X_r <= lambda w_r + s and (X_r >= lambda w_r - s or
X_r >= q_r), where w_r = (E_r / pop_r) / max_T (E / pop), q_r = min(cap_r, ceil(E_r), U_r) and
s = 1 - 1e-5 (X_r = 0 where w_r = 0). Each member gives an interval of lambda; the rule holds
when they meet.
"""

from __future__ import annotations

import math

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import FLOOR_EPS, Numbers, Useful
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import TOL, Simulation, Violation

WITHIN_ONE_UNIT = 1.0 - 1e-5  # |X_r - lambda w_r| <= this (strictly below one unit)


@checker("threshold")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    useful = Useful.of(instance)
    broken = threshold_violation(instance, useful.received(instance, sim), spec, useful)
    return (
        []
        if broken is None
        else [Violation("fairness", instance.days - 1, f"{spec.label}: {broken}")]
    )


def members_by_index(instance: MultiPeriodInstance, spec: FairnessSpec) -> np.ndarray:
    """Regions whose index is at least tau (a mask), before usefulness."""
    n = Numbers.of(instance)
    E, pop, rai = n.E, n.pop, n.rai
    index = str(spec.options.get("index", "rai"))
    values = {
        "rai": rai,
        "rai_relative": rai / rai.max() if rai.max() > 0 else rai,
        "excess_demand": E,
        "excess_per_100k": E / pop * 100_000,
    }[index]
    return np.asarray(values >= float(spec.options["tau"]) - FLOOR_EPS)


def threshold_violation(
    instance: MultiPeriodInstance,
    net_received: np.ndarray,
    spec: FairnessSpec,
    useful: Useful | None = None,
) -> str | None:
    """None when the rule holds for the units received net `net_received` (each region's X_r
    on its last useful day), else why not, naming the two members whose intervals of lambda
    do not meet. Members: index_r >= tau and able to use a unit (U_r > 0); stop levels capped
    at U_r."""
    useful = useful or Useful.of(instance)
    n = Numbers.of(instance)
    regions = list(instance.regions)
    E, pop = n.E, n.pop
    members = np.nonzero(members_by_index(instance, spec) & (useful.usable > 0))[0]
    per_capita = E / pop
    if len(members) <= 1 or float(per_capita[members].max()) <= 0:
        return None
    w = per_capita / float(per_capita[members].max())
    stop = np.minimum(np.minimum(n.cap, np.ceil(E - FLOOR_EPS)), useful.usable)
    X = np.round(net_received, 6)
    low, high = 0.0, math.inf  # the lambdas every member allows so far
    low_by, high_by = None, None
    for r in members:
        name = regions[r]
        if w[r] <= 0:
            if abs(X[r]) > TOL:
                return (
                    f"{name} has no excess demand per capita (w = 0), so it must receive 0 units "
                    f"net by its last useful day; it receives {X[r]:g}"
                )
            continue
        at_least = (X[r] - WITHIN_ONE_UNIT) / w[r]
        if at_least > low:
            low, low_by = at_least, r
        if X[r] < stop[r] - TOL:  # not stopped: X_r >= lambda w_r - s
            at_most = (X[r] + WITHIN_ONE_UNIT) / w[r]
            if at_most < high:
                high, high_by = at_most, r
    if low <= high + 1e-9 * max(1.0, abs(high)):
        return None
    assert low_by is not None and high_by is not None
    return (
        f"units net by each member's last useful day are not in proportion to excess demand "
        f"per capita: "
        f"{regions[low_by]} receives {X[low_by]:g} (w = {w[low_by]:.4f}), so lambda >= "
        f"{low:.4f}, but {regions[high_by]} receives {X[high_by]:g} (w = {w[high_by]:.4f}, "
        f"stop level {stop[high_by]:g} not reached), so lambda <= {high:.4f}"
    )
