"""max_coverage_gap(gap): with y_r = (c_r + X_r) / P_r over P_r > 0, capped at 1,
max min(1, y) - min min(1, y) <= gap; X_r on the region's last useful day, P_r capped at
c_r + U_r (what it can use; a region whose capped peak is 0 is left out)."""

from __future__ import annotations

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import Numbers, Useful
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import TOL, Simulation, Violation


@checker("max_coverage_gap")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    n = Numbers.of(instance)
    useful = Useful.of(instance)
    regions = list(instance.regions)
    peak = np.minimum(n.P, n.c + useful.usable)
    where = np.nonzero(peak > 0)[0]
    if not len(where):
        return []
    received = useful.received(instance, sim)
    cover = np.minimum(1.0, (n.c[where] + received[where]) / peak[where])
    low, high = int(np.argmin(cover)), int(np.argmax(cover))
    spread = float(cover[high] - cover[low])
    gap = float(spec.options["gap"])
    if spread <= gap + TOL:
        return []
    return [
        Violation(
            "fairness",
            instance.days - 1,
            f"{spec.label}: coverage (own units + units received net by the last useful "
            f"day, over peak demand capped at what the region can use, capped at 1) ranges "
            f"from {cover[low]:.4f} "
            f"({regions[where[low]]}) to {cover[high]:.4f} "
            f"({regions[where[high]]}): a gap of {spread:.4f} > {gap:g}",
        ),
    ]
