"""coverage_floor(level): X_r >= f_r = max(0, ceil(level P_r) - c_r) where P_r > 0, clipped at
cap_r."""

from __future__ import annotations

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import FLOOR_EPS, Numbers, check_floors
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import Simulation, Violation


def floors(n: Numbers, params: dict) -> np.ndarray:
    need = np.ceil(float(params["level"]) * n.P - FLOOR_EPS) - n.c
    return np.where(n.P > 0, np.maximum(need, 0.0), 0.0)


@checker("coverage_floor")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    return check_floors(instance, sim, spec, floors)
