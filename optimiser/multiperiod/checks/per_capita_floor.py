"""per_capita_floor(share): X_r >= f_r = floor(share S pop_r / sum pop), clipped at cap_r."""

from __future__ import annotations

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec, checker
from optimiser.multiperiod.checks._common import Numbers, check_floors, share_of
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import Simulation, Violation


def floors(n: Numbers, params: dict) -> np.ndarray:
    return share_of(n, float(params["share"]), n.pop)


@checker("per_capita_floor")
def check(instance: MultiPeriodInstance, sim: Simulation, spec: FairnessSpec) -> list[Violation]:
    return check_floors(instance, sim, spec, floors)
