"""min_units(units): X_r >= f_r = ceil(min(units, E_r)) where E_r > 0, clipped at cap_r."""

from __future__ import annotations

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import FLOOR_EPS, Numbers, check_floors
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import Simulation, Violation


def floors(n: Numbers, params: dict) -> np.ndarray:
    return np.where(n.E > 0, np.ceil(np.minimum(float(params["units"]), n.E) - FLOOR_EPS), 0.0)


@checker("min_units")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    return check_floors(instance, sim, spec, floors)
