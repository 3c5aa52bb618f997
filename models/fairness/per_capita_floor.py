"""per_capita_floor(share): part of Table 2's egalitarian share, guaranteed.

Single period: x_r >= min(cap_r, floor(share * S * pop_r / sum_s pop_s)). Over the horizon the
same floor on X_r, with S every unit delivered (models/fairness/horizon.py, `horizon_floor`).
Checker: optimiser/multiperiod/checks/per_capita_floor.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import horizon_floor
from models.fairness.registry import SHARE, add_floor_rows, register, share_floors

if TYPE_CHECKING:
    from models.regional import RegionalBuilder, RegionalData


def per_capita_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    return share_floors(data, float(params["share"]), data.population)


@register(
    "per_capita_floor",
    SHARE,
    floors=per_capita_floors,
    horizon=horizon_floor(per_capita_floors),
    inputs={"population", "supply"},
)
def add_per_capita_floor(m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]) -> None:
    """Per-capita floor (part of Table 2's egalitarian share, guaranteed):

    x_r >= min(cap_r, floor(share * S * pop_r / sum_s pop_s)).
    """
    add_floor_rows(m, per_capita_floors(data, params), data)
