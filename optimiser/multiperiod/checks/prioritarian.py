"""prioritarian(weights): objective weights only; a plan cannot break it."""

from __future__ import annotations

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import Simulation, Violation


@checker("prioritarian")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    return []
