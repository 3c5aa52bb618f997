"""capacity_per_capita_floor(beds_per_100k): equipped beds per 100,000 people, guaranteed.

Single period: c_r + x_r >= ceil(beds_per_100k * pop_r / 100000), clipped at cap_r. Over the
horizon the same floor on X_r (models/fairness/horizon.py, `horizon_floor`).
Checker: optimiser/multiperiod/checks/capacity_per_capita_floor.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import horizon_floor
from models.fairness.registry import FLOOR_EPS, ParamSpec, add_floor_rows, register

if TYPE_CHECKING:
    from models.regional import RegionalBuilder, RegionalData


def capacity_per_capita_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    need = np.ceil(float(params["beds_per_100k"]) * data.population / 100_000 - FLOOR_EPS)
    return np.maximum(need - data.capacity, 0.0)


def _most_per_100k(data: RegionalData) -> float:
    """The frontier's natural top: the largest peak demand per 100,000 people."""
    return float((data.peak_demand / data.population * 100_000).max())


@register(
    "capacity_per_capita_floor",
    ParamSpec(
        "beds_per_100k",
        (int, float),
        "equipped beds per 100,000 people, >= 0",
        minimum=0.0,
        top=_most_per_100k,
    ),
    floors=capacity_per_capita_floors,
    horizon=horizon_floor(capacity_per_capita_floors),
    inputs={"population", "capacity"},
)
def add_capacity_per_capita_floor(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Capacity per capita floor:

    c_r + x_r >= ceil(beds_per_100k * pop_r / 100000), clipped at cap_r.
    """
    add_floor_rows(m, capacity_per_capita_floors(data, params), data)
