"""excess_per_capita_floor(share): Table 3's share in proportion to excess demand per capita.

Single period: x_r >= min(cap_r, floor(share * S * w_r / sum_s w_s)), w_r = E_r / pop_r. Over
the horizon the same floor on X_r (models/fairness/horizon.py, `horizon_floor`).
Checker: optimiser/multiperiod/checks/excess_per_capita_floor.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import horizon_floor
from models.fairness.registry import SHARE, add_floor_rows, register, share_floors

if TYPE_CHECKING:
    from models.regional import RegionalBuilder, RegionalData


def excess_per_capita_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    return share_floors(data, float(params["share"]), data.excess_demand / data.population)


@register(
    "excess_per_capita_floor",
    SHARE,
    floors=excess_per_capita_floors,
    horizon=horizon_floor(excess_per_capita_floors),
    inputs={"population", "capacity", "peak_demand", "supply"},
)
def add_excess_per_capita_floor(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Excess-per-capita floor (Table 3), with w_r = E_r / pop_r:

    x_r >= min(cap_r, floor(share * S * w_r / sum_s w_s)).
    """
    add_floor_rows(m, excess_per_capita_floors(data, params), data)
