"""coverage_floor(level): every region with demand covers `level` of its peak demand.

Single period: c_r + x_r >= ceil(level * P_r), clipped at cap_r. Over the horizon the same floor
on X_r (models/fairness/horizon.py, `horizon_floor`).
Checker: optimiser/multiperiod/checks/coverage_floor.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import horizon_floor
from models.fairness.registry import FLOOR_EPS, ParamSpec, add_floor_rows, register

if TYPE_CHECKING:
    from models.regional import RegionalBuilder, RegionalData


def coverage_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    need = np.ceil(float(params["level"]) * data.peak_demand - FLOOR_EPS) - data.capacity
    return np.where(data.peak_demand > 0, np.maximum(need, 0.0), 0.0)


@register(
    "coverage_floor",
    ParamSpec(
        "level", (int, float), "share of peak demand covered, in [0, 1]", minimum=0.0, maximum=1.0
    ),
    floors=coverage_floors,
    horizon=horizon_floor(coverage_floors),
    inputs={"capacity", "peak_demand"},
)
def add_coverage_floor(m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]) -> None:
    """Coverage floor, for every region with P_r > 0:

    c_r + x_r >= ceil(level * P_r), i.e. x_r >= min(cap_r, max(0, ceil(level * P_r) - c_r)).
    """
    add_floor_rows(m, coverage_floors(data, params), data)
