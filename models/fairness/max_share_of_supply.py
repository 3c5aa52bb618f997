"""max_share_of_supply(share): no region receives more than `share` of the supply.

Single period: x_r <= floor(share * S), S the supply (a row only for a region whose staff cap
allows more). Over the horizon: X_r <= floor(share * S), X_r the units the region receives net
and S every unit delivered over the horizon (docs/multiperiod.md, "Fairness over the
horizon"). A cap against concentration: with share = 1/n every region stays within an equal
split. Checker: optimiser/multiperiod/checks/max_share_of_supply.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import HorizonFamily
from models.fairness.registry import FLOOR_EPS, INF, ConstraintSpec, ParamSpec, register

if TYPE_CHECKING:
    from models.multiperiod import MultiPeriodData, PlanBuilder
    from models.regional import RegionalBuilder, RegionalData


def ceiling(share: float, supply: float) -> float:
    """floor(share * S): the most units one region may receive (units are whole)."""
    return float(np.floor(share * supply + FLOOR_EPS))


@dataclass
class ShareCapFamily(HorizonFamily):
    """X_r <= the cap, for every region; the rounding's limits are the same caps."""

    cap: float = INF

    def limits(
        self, values: np.ndarray | None, switch: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.full(self.regions, -np.inf), np.full(self.regions, self.cap)


def horizon_share_cap(
    m: PlanBuilder, data: MultiPeriodData, spec: ConstraintSpec
) -> HorizonFamily:
    """X_r <= floor(share * S) (h_{r,D_r} <= own_{r,D_r} + floor(share * S)) for every r,
    S every unit delivered over the horizon."""
    cap = ceiling(float(spec.options["share"]), float(data.supply))
    rows = m.add_rows(data.n, -INF, m.own_measured + cap)
    m.add(rows, m.measured_hand, 1.0)
    return ShareCapFamily(spec.label, data.n, rows, cap=cap)


@register(
    "max_share_of_supply",
    ParamSpec(
        "share",
        (int, float),
        "largest share of the supply (over the horizon: of every unit delivered) one region "
        "receives, in [0, 1]",
        minimum=0.0,
        maximum=1.0,
    ),
    horizon=horizon_share_cap,
    inputs={"supply"},
)
def add_max_share_of_supply(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Share cap: no region receives more than `share` of the supply,

    x_r <= floor(share * S), a row for each region whose staff cap is above it.
    """
    cap = ceiling(float(params["share"]), float(data.supply))
    regions = np.flatnonzero(data.staff_cap > cap)
    rows = m.add_rows(len(regions), -INF, cap)
    m.add(rows, m.x[regions], 1.0)
