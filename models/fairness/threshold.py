"""threshold(tau, index): the paper's threshold rule.

Regions whose index is at least tau compete on an equal level: units in proportion to excess
demand per capita, exact up to rounding, for one common lambda, unless a region has reached
its stop level (its staff cap, or its whole excess demand). Single period on x_r; over the
horizon on X_r (docs/multiperiod.md, "Fairness over the horizon"), where the rounding method
branches on lambda (`ThresholdAxis`). Checker: optimiser/multiperiod/checks/threshold.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import EMPTY, HorizonFamily
from models.fairness.registry import (
    FLOOR_EPS,
    INF,
    THRESHOLD_SLACK,
    ConstraintSpec,
    ParamSpec,
    register,
)

if TYPE_CHECKING:
    from models.multiperiod import MultiPeriodData, PlanBuilder
    from models.regional import RegionalBuilder, RegionalData

THRESHOLD_INDEXES = ("rai", "rai_relative", "excess_demand", "excess_per_100k")


def threshold_members(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    """Boolean mask of regions whose index is at least tau."""
    index = str(params.get("index", "rai"))
    values = {
        "rai": data.rai,
        "rai_relative": data.rai / data.rai.max() if data.rai.max() > 0 else data.rai,
        "excess_demand": data.excess_demand,
        "excess_per_100k": data.excess_demand / data.population * 100_000,
    }[index]
    return np.asarray(values >= float(params["tau"]) - FLOOR_EPS)


def threshold_lambda_max(weight: np.ndarray, cap: np.ndarray, supply: float) -> float:
    """The largest lambda a threshold needs: max over members with w_r > 0 of
    (min(cap_r, S) + 1) / w_r. x_r <= min(cap_r, S) in every plan, so at that lambda every
    upper row x_r <= lambda w_r + s holds, and lowering lambda only relaxes the lower rows:
    any solution with a larger lambda stays one with lambda there (same x). It bounds the
    big-M of the lower rows, M_r = lambda_max w_r, by the units a member can hold."""
    positive = weight > 0
    reach = np.minimum(cap[positive], supply) + 1.0
    return float((reach / weight[positive]).max())


def _largest_rai(data: RegionalData) -> float:
    """The frontier's natural top: the largest RAI."""
    return float(data.rai.max())


@dataclass(frozen=True)
class HorizonThreshold:
    """The numbers of threshold(tau, index) over the horizon, on X_r (docs/multiperiod.md):
    members T = {r : index_r >= tau and U_r > 0} (regions.csv values, the single-period index;
    U_r the most units r can use at once), weights w_r = (E_r / pop_r) / max_T (E / pop), stop
    levels q_r = min(cap_r, ceil(E_r), U_r), the
    members that can stop (q_r below every unit in the system), lambda_max and the big-M of
    the lower rows, M_r = lambda_max w_r."""

    members: np.ndarray  # region positions in T (empty: no rows, fewer than two members)
    weight: np.ndarray  # w_r of each member
    stop: np.ndarray  # q_r of each member
    stoppable: np.ndarray  # bool per member
    lambda_max: float

    @property
    def slack(self) -> np.ndarray:
        """s_r = 1 - 1e-5; 0 where w_r = 0: X_r is whole, and 0 is the only whole number
        within one unit of lambda * 0 (a tighter LP, the same whole plans)."""
        return np.where(self.weight > 0, 1.0 - THRESHOLD_SLACK, 0.0)

    def big_m(self) -> np.ndarray:
        return self.lambda_max * self.weight

    def limits(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """For a fixed lambda the rule is a pair of bounds on each member's whole X_r:
        ceil(min(lambda w_r - s_r, q_r)) <= X_r <= floor(lambda w_r + s_r) (min only where the
        member can stop)."""
        low = self.weight * lam - self.slack
        low = np.where(self.stoppable, np.minimum(low, self.stop), low)
        return np.ceil(low - FLOOR_EPS), np.floor(self.weight * lam + self.slack + FLOOR_EPS)


def horizon_threshold(data: MultiPeriodData, spec: ConstraintSpec) -> HorizonThreshold:
    """threshold(tau, index) on the units received net by each member's last useful day D_r
    (X_r := x_r, supply: every unit in the system, since transfers can bring a member more than
    the depots hold). A region that can never use a unit is no member; stop levels are capped
    at U_r, the most units the region can use at once (MultiPeriodData.usefulness)."""
    view = data.fairness_view()
    _, usable = data.usefulness()
    members = np.nonzero(threshold_members(view, spec.options) & (usable > 0))[0]
    per_capita = view.excess_demand / view.population
    scale = float(per_capita[members].max()) if len(members) else 0.0
    if len(members) <= 1 or scale <= 0:
        empty = np.zeros(0)
        return HorizonThreshold(members[:0], empty, empty, empty.astype(bool), 0.0)
    weight = per_capita[members] / scale
    stop = np.minimum(view.staff_cap[members], np.ceil(view.excess_demand[members] - FLOOR_EPS))
    stop = np.minimum(stop, usable[members])
    units = data.total_units()
    positive = weight[weight > 0]
    return HorizonThreshold(
        members=members,
        weight=weight,
        stop=stop,
        stoppable=stop < units,
        lambda_max=(units + 1.0) / float(positive.min()),
    )


@dataclass
class ThresholdAxis:
    """The lambda axis of one threshold for the rounding method's lambda search (models/
    fairness/horizon.py, `LambdaAxis`): member r must stop exactly when lambda >= b_r =
    (q_r + s_r) / w_r; `low_rows` hold h_{r,D_r} >= own + ceil(min(a w_r - s_r, q_r)),
    `high_rows` h_{r,D_r} <= own + floor(b w_r + s_r) for a node [a, b]."""

    lam: np.ndarray
    stopped: np.ndarray
    breaks: np.ndarray
    points: np.ndarray
    rule: HorizonThreshold
    low_rows: np.ndarray
    high_rows: np.ndarray
    own_measured: np.ndarray  # own_{r,D_r} per member

    @property
    def node_rows(self) -> np.ndarray:
        return np.concatenate([self.low_rows, self.high_rows])

    def limit_rows(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows and bounds (lower, upper) of the node [a, b]'s limits on X_r."""
        low, _ = self.rule.limits(a)
        _, high = self.rule.limits(b)
        inf = np.full(len(low), np.inf)
        lower = np.concatenate([self.own_measured + low, -inf])
        upper = np.concatenate([inf, self.own_measured + high])
        return self.node_rows, lower, upper


@dataclass
class ThresholdFamily(HorizonFamily):
    """Handles: lambda, the stop binaries k_r, the node rows; what the rounding method needs:
    the limits a lambda sets, the lambda axis, and k_r set from a whole plan."""

    rule: HorizonThreshold | None = None
    lam: np.ndarray = field(default_factory=lambda: EMPTY)
    stopped: np.ndarray = field(default_factory=lambda: EMPTY)
    threshold_axis: ThresholdAxis | None = None

    @property
    def axis(self) -> ThresholdAxis | None:
        return self.threshold_axis

    def limits(
        self, values: np.ndarray | None, switch: float | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The limits of the LP's lambda on each member's X_r (`HorizonThreshold.limits`)."""
        if values is None or self.rule is None or not len(self.rule.members):
            return None
        low, high = self.rule.limits(float(values[self.lam[0]]))
        lower, upper = np.full(self.regions, -np.inf), np.full(self.regions, np.inf)
        lower[self.rule.members], upper[self.rule.members] = low, high
        return lower, upper

    @property
    def completes(self) -> bool:
        return len(self.stopped) > 0

    def complete(self, received: np.ndarray, values: np.ndarray) -> None:
        """k_r = 1 where member r receives at least its stop level q_r net by the last day
        (the least restrictive choice), else 0."""
        rule = self.rule
        if rule is None or not len(self.stopped):
            return
        which = rule.members[rule.stoppable]
        values[self.stopped] = (received[which] >= rule.stop[rule.stoppable] - 1e-9).astype(float)

    def imply(self, received: np.ndarray, values: np.ndarray) -> None:
        """lambda and k_r from the plan's X_r. For a fixed lambda, k_r = 1 exactly where
        X_r >= q_r is best (it only relaxes the lower row; `complete`). The upper rows then ask
        lambda >= (X_r - s_r) / w_r (w_r > 0), and every other row only asks lambda to be
        small (the lower rows of members not stopped, lambda <= (X_r + s_r) / w_r; lambda <=
        lambda_max): the least lambda, max(0, max_r (X_r - s_r) / w_r) (capped at lambda_max),
        meets the rows whenever any lambda does (check-plan's interval test,
        optimiser/multiperiod/checks/threshold.py)."""
        rule = self.rule
        if rule is None or not len(self.lam):
            return
        positive = rule.weight > 0
        X = received[rule.members[positive]]
        least = (X - rule.slack[positive]) / rule.weight[positive]
        values[self.lam] = min(max(0.0, float(least.max(initial=0.0))), rule.lambda_max)
        self.complete(received, values)


def horizon_rule(m: PlanBuilder, data: MultiPeriodData, spec: ConstraintSpec) -> HorizonFamily:
    """For members r in T (HorizonThreshold), one lambda >= 0:

        X_r <= lambda w_r + s_r,   X_r >= lambda w_r - s_r - M_r k_r,   X_r >= q_r k_r,

    k_r binary (only where r can stop; else k_r = 0), s_r = 1 - 1e-5 (0 if w_r = 0); and the
    rounding method's node rows (valid in a lambda node [a, b], with X_r whole:
    ceil(min(a w_r - s_r, q_r)) <= X_r <= floor(b w_r + s_r)), built switched off, bounds set
    per node (>= rows, then <= rows: phase-1 slacks).
    """
    rule = horizon_threshold(data, spec)
    where = rule.members
    family = ThresholdFamily(spec.label, data.n, rule=rule)
    if not len(where):
        return family
    start = m.num_rows
    count = len(where)
    lam_col = m.add_columns(1, 0.0, rule.lambda_max)
    lam = np.repeat(lam_col, count)
    stoppable = np.nonzero(rule.stoppable)[0]
    k = m.add_columns(len(stoppable), 0.0, 1.0, integer=True)
    hands, base = m.measured_hand[where], m.own_measured[where]
    up = m.add_rows(count, -INF, base + rule.slack)
    m.add(up, hands, 1.0)
    m.add(up, lam, -rule.weight)
    low = m.add_rows(count, base - rule.slack, INF)
    m.add(low, hands, 1.0)
    m.add(low, lam, -rule.weight)
    m.add(low[stoppable], k, rule.big_m()[stoppable])
    level = m.add_rows(len(stoppable), base[stoppable], INF)
    m.add(level, hands[stoppable], 1.0)
    m.add(level, k, -rule.stop[stoppable])
    family.rows = np.arange(start, m.num_rows, dtype=np.int64)
    node_low = m.add_rows(count, base, INF)
    m.add(node_low, hands, 1.0)
    node_high = m.add_rows(count, -INF, base + data.total_units())
    m.add(node_high, hands, 1.0)
    family.cut_rows = np.concatenate([node_low, node_high])
    family.lam, family.stopped = lam_col, k
    family.columns = np.concatenate([lam_col, k])
    weight = rule.weight[rule.stoppable]
    reach = rule.stop[rule.stoppable] + rule.slack[rule.stoppable]
    breaks = np.full(len(weight), np.inf)
    np.divide(reach, weight, out=breaks, where=weight > 0)
    inside = np.unique(breaks[breaks < rule.lambda_max])
    family.threshold_axis = ThresholdAxis(
        lam=lam_col,
        stopped=k,
        breaks=breaks,
        points=np.concatenate([[0.0], inside, [rule.lambda_max]]),
        rule=rule,
        low_rows=node_low,
        high_rows=node_high,
        own_measured=m.own_measured[where],
    )
    return family


@register(
    "threshold",
    ParamSpec(
        "tau",
        (int, float),
        "index value at or above which regions compete equally, >= 0",
        minimum=0.0,
        top=_largest_rai,
    ),
    ParamSpec(
        "index",
        str,
        "index compared with tau",
        default="rai",
        required=False,
        choices=THRESHOLD_INDEXES,
    ),
    horizon=horizon_rule,
    inputs={
        "population",
        "capacity",
        "peak_demand",
        "survival_with",
        "los_days",
        "pressure",
        "staff_cap",
        "horizon_days",
    },
)
def add_threshold(m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]) -> None:
    """The paper's threshold rule. T = {r : index_r >= tau} compete on an equal level: units go
    in proportion to excess demand per capita w_r = (E_r / pop_r) / max_T (E / pop), exact up to
    rounding, for one common lambda >= 0:

        |x_r - lambda w_r| <= 1 - delta  (delta = 1e-5: strictly below one unit), r in T.

    A region may stop early at its stop level q_r = min(cap_r, ceil(E_r)) (its staff cap, or its
    whole excess demand: units beyond need save no one). With binary k_r (only when q_r < S):
    x_r >= q_r k_r and x_r >= lambda w_r - (1 - delta) - M_r k_r, M_r = lambda_max w_r.
    Regions below tau are left to the lives objective.

    Scaling (the matrix spanned 2e-3..1.5e7 on 1,500 regions, and HiGHS overran its clock):
    lambda_max = max_{T, w > 0} (min(cap_r, S) + 1) / w_r (`threshold_lambda_max`), not
    (S + 1) / min w: the big-M and lambda's bound fall to 5.2e4 there. (Scaling lambda's
    column by w_min as well made HiGHS's heuristics find a worse allocation in 10 and 30 s on
    that instance: BENCHMARKS.md.)
    """
    members = np.flatnonzero(threshold_members(data, params))
    if len(members) <= 1:
        return
    per_capita = data.excess_demand / data.population
    scale = max(float(per_capita[members].max()), 0.0)
    if scale <= 0:
        return
    w = per_capita[members] / scale
    lambda_max = threshold_lambda_max(w, data.staff_cap[members], float(data.supply))
    lam = m.add_columns(1, 0.0, lambda_max)[0]
    slack = 1.0 - THRESHOLD_SLACK
    x = m.x[members]
    stop = np.minimum(
        data.staff_cap[members], np.ceil(data.excess_demand[members] - FLOOR_EPS)
    ).astype(float)
    can_stop = stop < data.supply
    stoppable = np.flatnonzero(can_stop)
    stopped = m.add_columns(len(stoppable), 0.0, 1.0, integer=True)
    upper = m.add_rows(len(members), -INF, slack)  # x_r - w_r lambda <= 1 - delta
    m.add(upper, x, 1.0)
    m.add(upper, lam, -w)
    lower = m.add_rows(len(members), -INF, slack)  # w_r lambda - x_r - M_r k_r <= 1 - delta
    m.add(lower, x, -1.0)
    m.add(lower, lam, w)
    m.add(lower[stoppable], stopped, -(lambda_max * w[stoppable]))
    stop_level = m.add_rows(len(stoppable), -INF, 0.0)  # q_r k_r - x_r <= 0
    m.add(stop_level, x[stoppable], -1.0)
    m.add(stop_level, stopped, stop[stoppable])
