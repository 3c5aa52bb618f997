"""max_share_of_supply(share): X_r <= floor(share S), S every unit delivered over the horizon."""

from __future__ import annotations

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import FLOOR_EPS, MAX_LISTED, Numbers
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import TOL, Simulation, Violation


@checker("max_share_of_supply")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    share = float(spec.options["share"])
    cap = float(np.floor(share * Numbers.of(instance).S + FLOOR_EPS))
    received = sim.net_received
    over = np.nonzero(received > cap + TOL)[0]
    regions = list(instance.regions)
    last = instance.days - 1
    out = [
        Violation(
            "fairness",
            last,
            f"{spec.label}: {regions[r]} receives {received[r]:g} units net by the last day, "
            f"more than {share:g} of the {Numbers.of(instance).S:g} delivered ({cap:g})",
        )
        for r in over[:MAX_LISTED]
    ]
    if len(over) > MAX_LISTED:
        out.append(
            Violation("fairness", last, f"{spec.label}: {len(over) - MAX_LISTED} more region(s)")
        )
    return out
