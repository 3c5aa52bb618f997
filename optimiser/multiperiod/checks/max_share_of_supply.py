"""max_share_of_supply(share): X_r <= floor(share S), S every unit delivered over the horizon,
X_r on the region's last useful day (the last day for a region that can never use a unit)."""

from __future__ import annotations

import numpy as np

from optimiser.errors import counted
from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import FLOOR_EPS, MAX_LISTED, Numbers, Useful
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import TOL, Simulation, Violation


@checker("max_share_of_supply")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    share = float(spec.options["share"])
    cap = float(np.floor(share * Numbers.of(instance).S + FLOOR_EPS))
    useful = Useful.of(instance)
    received = useful.received(instance, sim)
    at = useful.measure_day(instance.days)
    over = np.nonzero(received > cap + TOL)[0]
    regions = list(instance.regions)
    last = instance.days - 1
    out = [
        Violation(
            "fairness",
            int(at[r]),
            f"{spec.label}: {regions[r]} receives {counted(received[r], 'unit')} net by day "
            f"{at[r]}, more than {share:g} of the {Numbers.of(instance).S:g} delivered ({cap:g})",
        )
        for r in over[:MAX_LISTED]
    ]
    if len(over) > MAX_LISTED:
        out.append(
            Violation(
                "fairness", last, f"{spec.label}: {counted(len(over) - MAX_LISTED, 'more region')}"
            )
        )
    return out
