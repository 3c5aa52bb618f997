"""capacity_per_capita_floor(b): X_r >= f_r = max(0, ceil(b pop_r / 100,000) - c_r), clipped
at cap_r."""

from __future__ import annotations

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import FLOOR_EPS, Numbers, check_floors
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import Simulation, Violation


def floors(n: Numbers, params: dict) -> np.ndarray:
    beds = np.ceil(float(params["beds_per_100k"]) * n.pop / 100_000 - FLOOR_EPS)
    return np.maximum(beds - n.c, 0.0)


@checker("capacity_per_capita_floor")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    return check_floors(instance, sim, spec, floors)
