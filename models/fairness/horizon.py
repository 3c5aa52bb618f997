"""What a fairness kind builds over the horizon, and what the planner's methods need of it.

A kind's `horizon(m, data, spec)` (models/fairness/<kind>.py) adds its rows (and columns) to the
planner's model (models/multiperiod.py, `PlanBuilder`) and returns a `HorizonFamily`: typed
handles to what it built, plus the few things the rounding method asks of every family:

* `limits(values, switch)`: the bounds lower_r <= X_r <= upper_r the family puts on the units
  each region receives net (X_r, docs/multiperiod.md), for a whole plan rounded near an LP
  solution `values` (a family that reads its own columns, such as threshold's lambda, takes
  them from there);
* `switch`: a binary column the rounding method branches on instead of relaxing it
  (max_coverage_gap's z), with `cuts(value)`: rows valid in that branch (built switched off);
* `axis`: a lambda axis to branch on (threshold), see `LambdaAxis`;
* `complete(received, values)`: set the family's own integer columns in a whole plan (the stop
  binaries of threshold) from the units each region receives;
* `imply(received, values)`: set all the family's own columns (threshold's lambda and stop
  binaries, max_coverage_gap's m_cov and z) to those a plan's X_r imply: values that meet the
  family's rows whenever any do, so a plan is judged by its movements alone
  (PlanEngine.meets). A family with own columns must say how: the base class refuses.

Symbols: X_r units received net by the region's last useful day D_r (h_{r,D_r} - own_{r,D_r};
T-1 for a region that can never use a unit: MultiPeriodData.usefulness), f_r a floor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from models.fairness.registry import INF, ConstraintSpec

if TYPE_CHECKING:
    from models.multiperiod import MultiPeriodData, PlanBuilder
    from models.regional import RegionalData

EMPTY = np.zeros(0, dtype=np.int64)


class LambdaAxis(Protocol):
    """A common level lambda the rounding method branches on (docs/multiperiod.md, threshold):
    `lam` its column; `stopped` binary columns, each fixed once lambda passes its break point
    `breaks[i]` (inf: never); `points` the sorted break points, 0 and lambda_max included;
    `limit_rows(a, b)`: rows and bounds that hold every whole plan with lambda in [a, b];
    `node_rows`: those rows (built switched off)."""

    lam: np.ndarray
    stopped: np.ndarray
    breaks: np.ndarray
    points: np.ndarray

    @property
    def node_rows(self) -> np.ndarray: ...

    def limit_rows(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass
class HorizonFamily:
    """The rows of one fairness constraint over the horizon (switched on when it is active),
    its own columns and its cut rows (built switched off)."""

    label: str
    regions: int  # n: limits have one entry per region
    rows: np.ndarray = field(default_factory=lambda: EMPTY)
    columns: np.ndarray = field(default_factory=lambda: EMPTY)
    cut_rows: np.ndarray = field(default_factory=lambda: EMPTY)

    @property
    def builds_rows(self) -> bool:
        return len(self.rows) > 0

    def limits(
        self, values: np.ndarray | None, switch: float | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(lower, upper) on X_r for the rounding (-inf / +inf: none); None: no limit. A
        family with rows must say its limits: the base class refuses to guess."""
        if self.builds_rows:
            raise NotImplementedError(
                f"{self.label}: its horizon family builds rows but does not say the limits "
                "they put on the units each region receives (HorizonFamily.limits), which the "
                "rounding method needs"
            )
        return None

    @property
    def switch(self) -> int | None:
        """A binary column branched on by the rounding method (None: none)."""
        return None

    def cuts(self, value: float) -> np.ndarray:
        """Rows valid when `switch` is at `value` (built switched off)."""
        return EMPTY

    @property
    def axis(self) -> LambdaAxis | None:
        return None

    @property
    def completes(self) -> bool:
        """Has own integer columns that `complete` sets in a whole plan."""
        return False

    def complete(self, received: np.ndarray, values: np.ndarray) -> None:
        """Set the family's own integer columns in a whole plan `values` from X_r."""

    def imply(self, received: np.ndarray, values: np.ndarray) -> None:
        """Set every own column of the family in the plan `values` to the values its X_r
        (`received`, one per region) imply: ones that meet the family's rows whenever any
        values of those columns do. A family without own columns has nothing to set; one with
        them must say how (the base class refuses to guess: zeros would judge valid plans
        as breaking the rule)."""
        if len(self.columns):
            raise NotImplementedError(
                f"{self.label}: its horizon family has own columns but does not say the values "
                "a plan's units received imply for them (HorizonFamily.imply), which "
                "PlanEngine.meets needs"
            )


def horizon_floors(
    data: MultiPeriodData,
    floors: Callable[[RegionalData, Mapping[str, Any]], np.ndarray],
    spec: ConstraintSpec,
) -> np.ndarray:
    """f_r over the horizon: the single-period floor computed with supply S (every unit the
    depots receive), clipped at the staff cap and at U_r, the most units the region can use
    at once (0 for a region that can never use one: no floor; MultiPeriodData.usefulness)."""
    view = data.fairness_view()
    _, usable = data.usefulness()
    return np.minimum(np.minimum(floors(view, spec.options), view.staff_cap), usable)


@dataclass
class FloorFamily(HorizonFamily):
    """X_r >= f_r, a row only where f_r > 0 (a region with no floor may donate)."""

    floors: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def limits(
        self, values: np.ndarray | None, switch: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        f = self.floors
        return np.where(f > 0, f, -np.inf), np.full(len(f), np.inf)


def horizon_floor(
    floors: Callable[[RegionalData, Mapping[str, Any]], np.ndarray],
) -> Callable[[PlanBuilder, MultiPeriodData, ConstraintSpec], HorizonFamily]:
    """The horizon family of a floor kind, from its single-period `floors` function:

    X_r >= f_r  (h_{r,D_r} >= own_{r,D_r} + f_r, on the region's last useful day D_r),
    r with f_r > 0.
    """

    def horizon(m: PlanBuilder, data: MultiPeriodData, spec: ConstraintSpec) -> HorizonFamily:
        f = horizon_floors(data, floors, spec)
        where = np.flatnonzero(f > 0)
        rows = m.add_rows(len(where), m.own_measured[where] + f[where], INF)
        m.add(rows, m.measured_hand[where], 1.0)
        return FloorFamily(spec.label, data.n, rows, floors=f)

    horizon.__doc__ = horizon_floor.__doc__
    return horizon
