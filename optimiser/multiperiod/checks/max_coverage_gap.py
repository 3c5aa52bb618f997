"""max_coverage_gap(gap): with y_r = (c_r + X_r) / P_r over P_r > 0, capped at 1,
max min(1, y) - min min(1, y) <= gap."""

from __future__ import annotations

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import Numbers
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import TOL, Simulation, Violation


@checker("max_coverage_gap")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    n = Numbers.of(instance)
    regions = list(instance.regions)
    where = np.nonzero(n.P > 0)[0]
    if not len(where):
        return []
    received = sim.net_received
    cover = np.minimum(1.0, (n.c[where] + received[where]) / n.P[where])
    low, high = int(np.argmin(cover)), int(np.argmax(cover))
    spread = float(cover[high] - cover[low])
    gap = float(spec.options["gap"])
    if spread <= gap + TOL:
        return []
    return [
        Violation(
            "fairness",
            instance.days - 1,
            f"{spec.label}: coverage (own units + units received net by the last "
            f"day, over peak demand, capped at 1) ranges from {cover[low]:.4f} "
            f"({regions[where[low]]}) to {cover[high]:.4f} "
            f"({regions[where[high]]}): a gap of {spread:.4f} > {gap:g}",
        )
    ]
