"""min_units(units): every region with excess demand receives at least `units` (or its whole
excess demand, if less).

Single period: x_r >= min(cap_r, ceil(min(units, E_r))) for E_r > 0. Over the horizon the same
floor on X_r (models/fairness/horizon.py, `horizon_floor`).
Checker: optimiser/multiperiod/checks/min_units.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import horizon_floor
from models.fairness.registry import FLOOR_EPS, ParamSpec, add_floor_rows, register

if TYPE_CHECKING:
    from models.regional import RegionalBuilder, RegionalData


def min_units_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    units = float(params["units"])
    return np.where(
        data.excess_demand > 0, np.ceil(np.minimum(units, data.excess_demand) - FLOOR_EPS), 0.0
    )


def _largest_excess(data: RegionalData) -> float:
    """The frontier's natural top: the largest excess demand."""
    return float(data.excess_demand.max())


@register(
    "min_units",
    ParamSpec(
        "units",
        (int, float),
        "units every region with excess demand receives, >= 0",
        minimum=0.0,
        top=_largest_excess,
        whole=True,
    ),
    floors=min_units_floors,
    horizon=horizon_floor(min_units_floors),
    inputs={"capacity", "peak_demand"},
)
def add_min_units(m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]) -> None:
    """Minimum units, for every region with E_r > 0:

    x_r >= min(cap_r, ceil(min(units, E_r))).
    """
    add_floor_rows(m, min_units_floors(data, params), data)
