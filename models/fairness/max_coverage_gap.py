"""max_coverage_gap(gap): coverage may differ by at most `gap` between regions.

Coverage y_r = (c_r + x_r) / P_r over regions with P_r > 0 (x_r := X_r over the horizon),
capped at 1: max_r min(1, y_r) - min_r min(1, y_r) <= gap, linearised exactly with the
smallest coverage m_cov and one binary z (z = 1: everyone within `gap` of full coverage).
Over the horizon the rounding method branches on z (`switch`), with the cut X_r >= ceil((1 -
gap) P_r - c_r) valid in its z = 1 branch. Checker: optimiser/multiperiod/checks/
max_coverage_gap.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import EMPTY, HorizonFamily
from models.fairness.registry import INF, ConstraintSpec, ParamSpec, register

if TYPE_CHECKING:
    from models.multiperiod import MultiPeriodData, PlanBuilder
    from models.regional import RegionalBuilder, RegionalData


def coverage_peak(data: MultiPeriodData) -> np.ndarray:
    """P_r over the horizon: the peak demand, capped at what the region can use,
    min(P_r, c_r + U_r) (MultiPeriodData.usefulness): full coverage never asks for units
    nobody can use. A region that can never use a unit is fully covered by its own units
    (0 when it has none: then, like P_r = 0, it is not in the rule)."""
    _, usable = data.usefulness()
    return np.minimum(data.peak_demand, data.capacity + usable)


def coverage_big_m(data: MultiPeriodData) -> np.ndarray:
    """M_r >= (c_r + X_r) / P_r for any plan: X_r is at most every unit in the system."""
    peak = coverage_peak(data)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, (data.capacity + data.total_units()) / peak, 0.0)


@dataclass
class CoverageGapFamily(HorizonFamily):
    """Handles: m_cov and z columns, the cut rows of the z = 1 branch; what the rounding
    needs: the limits on X_r in each branch of z."""

    gap: float = 0.0
    min_coverage: int = -1  # column of m_cov
    all_near_full: int = -1  # column of z
    peak_demand: np.ndarray = field(default_factory=lambda: np.zeros(0))
    capacity: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def switch(self) -> int | None:
        return self.all_near_full if self.builds_rows else None

    def cuts(self, value: float) -> np.ndarray:
        return self.cut_rows if value == 1.0 else EMPTY

    def limits(
        self, values: np.ndarray | None, switch: float | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """z = 1: m_cov >= 1 - gap, so X_r >= (1 - gap) P_r - c_r for every r with P_r > 0
        (negative: how many units r may give away); z = 0: m <= (c_r + X_r) / P_r <= m + gap,
        with m the LP's m_cov (`values`; without values, no limit)."""
        if not self.builds_rows:
            return None
        demand = self.peak_demand > 0
        P = np.where(demand, self.peak_demand, 1.0)
        if switch is not None and switch >= 0.5:
            low = (1.0 - self.gap) * P - self.capacity
            high = np.full(len(P), np.inf)
        elif values is None:
            return None
        else:
            m = float(values[self.min_coverage])
            low = m * P - self.capacity
            high = (m + self.gap) * P - self.capacity
        return (
            np.where(demand, low - 1e-9, -np.inf),
            np.where(demand, high + 1e-9, np.inf),
        )

    def imply(self, received: np.ndarray, values: np.ndarray) -> None:
        """m_cov and z from the plan's X_r, y_r = (c_r + X_r) / P_r over P_r > 0: m_cov =
        min(1, min_r y_r) (the rows ask m_cov <= y_r; a larger m_cov only relaxes the others),
        clipped at 0 (then a row fails, as it must); z = 1 exactly where m_cov + gap >= 1 (its
        row allows it; it only relaxes the upper rows). They meet the rows whenever any values
        do: check-plan's test max min(1, y) - min min(1, y) <= gap
        (optimiser/multiperiod/checks/max_coverage_gap.py)."""
        if not self.builds_rows:
            return
        demand = self.peak_demand > 0
        cover = (self.capacity[demand] + received[demand]) / self.peak_demand[demand]
        m = min(1.0, max(0.0, float(cover.min())))
        values[self.min_coverage] = m
        values[self.all_near_full] = 1.0 if m + self.gap >= 1.0 - 1e-9 else 0.0


def horizon_coverage_gap(
    m: PlanBuilder, data: MultiPeriodData, spec: ConstraintSpec
) -> HorizonFamily:
    """y_r = (c_r + X_r) / P_r over {r : P_r > 0}, P_r capped at what r can use
    (`coverage_peak`), X_r measured on r's last useful day, M_r = (c_r + every unit) / P_r:

        m_cov <= y_r,   y_r <= m_cov + gap + M_r z,   m_cov + gap >= z,

    m_cov in [0, 1], z binary; and the cut rows h_{r,D_r} >= own_{r,D_r} + ceil((1 - gap) P_r -
    c_r), valid only when z = 1 (m_cov >= 1 - gap) and X_r whole: built switched off, switched
    on in the rounding method's z = 1 branch.
    """
    gap = float(spec.options["gap"])
    peak = coverage_peak(data)
    where = np.flatnonzero(peak > 0)
    family = CoverageGapFamily(
        spec.label, data.n, gap=gap, peak_demand=peak, capacity=data.capacity
    )
    if not len(where):
        return family
    start = m.num_rows
    mc = m.add_columns(1, 0.0, 1.0)
    z = m.add_columns(1, 0.0, 1.0, integer=True)
    P = peak[where]
    base = (data.capacity[where] - m.own_measured[where]) / P
    big_m = coverage_big_m(data)[where]
    hands = m.measured_hand[where]
    low = m.add_rows(len(where), -INF, base)
    m.add(low, np.repeat(mc, len(where)), 1.0)
    m.add(low, hands, -1.0 / P)
    up = m.add_rows(len(where), -INF, gap - base)
    m.add(up, hands, 1.0 / P)
    m.add(up, np.repeat(mc, len(where)), -1.0)
    m.add(up, np.repeat(z, len(where)), -big_m)
    switch = m.add_rows(1, -INF, gap)
    m.add(switch, z, 1.0)
    m.add(switch, mc, -1.0)
    family.rows = np.arange(start, m.num_rows, dtype=np.int64)
    whole = np.ceil((1.0 - gap) * P - data.capacity[where] - 1e-9)
    cut = m.add_rows(len(where), m.own_measured[where] + whole, INF)
    m.add(cut, hands, 1.0)
    family.cut_rows = cut
    family.columns = np.concatenate([mc, z])
    family.min_coverage, family.all_near_full = int(mc[0]), int(z[0])
    return family


@register(
    "max_coverage_gap",
    ParamSpec(
        "gap",
        (int, float),
        "largest difference in share of peak demand covered, in [0, 1]",
        minimum=0.0,
        maximum=1.0,
    ),
    horizon=horizon_coverage_gap,
    inputs={"capacity", "peak_demand", "staff_cap"},
)
def add_max_coverage_gap(m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]) -> None:
    """Coverage gap: with y_r = (c_r + x_r) / P_r over regions D = {r : P_r > 0},

    max_r min(1, y_r) - min_r min(1, y_r) <= gap, linearised exactly with a continuous
    m_cov in [0, 1] (the smallest coverage) and one binary z (z = 1: everyone is within `gap`
    of full coverage):

        m_cov <= y_r,    y_r <= m_cov + gap + M_r z,    m_cov + gap >= z,
        M_r = max y_r = (c_r + min(cap_r, S)) / P_r.
    """
    gap = float(params["gap"])
    demand = np.flatnonzero(data.peak_demand > 0)
    if not len(demand):
        return
    min_coverage = m.add_columns(1, 0.0, 1.0)[0]
    all_near_full = m.add_columns(1, 0.0, 1.0, integer=True)[0]
    x = m.x[demand]
    per_unit = 1.0 / data.peak_demand[demand]  # y_r = c_r / P_r + x_r / P_r
    base = data.capacity[demand] * per_unit
    big_m = (data.capacity[demand] + np.minimum(data.staff_cap[demand], float(data.supply))) / (
        data.peak_demand[demand]
    )
    lower = m.add_rows(len(demand), -INF, base)  # m_cov - x_r / P_r <= c_r / P_r
    m.add(lower, x, -per_unit)
    m.add(lower, min_coverage, 1.0)
    # x_r / P_r - m_cov - M_r z <= gap - c_r / P_r
    upper = m.add_rows(len(demand), -INF, gap - base)
    m.add(upper, x, per_unit)
    m.add(upper, min_coverage, -1.0)
    m.add(upper, all_near_full, -big_m)
    switch = m.add_rows(1, -INF, gap)  # z - m_cov <= gap
    m.add(switch, min_coverage, -1.0)
    m.add(switch, all_near_full, 1.0)
