"""Fairness constraints and objective policies, registered by name.

Each kind declares its parameters (validated before any model is built) and one function that
adds its constraint family to the regional model (its rows and columns, as arrays: see
models/regional.py). Adding a kind is one function plus its `@register(...)` line. Symbols are
those of docs/model.md: x_r units sent, E_r excess demand, c_r capacity, P_r peak demand, pop_r
population, S supply, cap_r staff cap.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from models.regional import RegionalBuilder, RegionalData

INF = math.inf

FLOOR_EPS = 1e-9  # floor()/ceil() guard against 0.29999... from binary floating point
THRESHOLD_SLACK = 1e-5  # |x_r - lambda w_r| <= 1 - THRESHOLD_SLACK, i.e. strictly below 1
MAX_PARAMETER = 1e12  # no numeric parameter is meaningful beyond this (units, beds, tau...)


def _short(value: Any) -> str:
    """repr of a value, with integers of more than 30 digits summarised."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    return repr(value)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a constraint kind."""

    name: str
    type: type | tuple[type, ...]
    doc: str
    default: Any = None
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    choices: tuple[str, ...] | None = None
    allow_mapping: bool = False

    def check(self, value: Any) -> str | None:
        """None when valid, else the reason."""
        if self.allow_mapping and isinstance(value, Mapping):
            for key, val in value.items():
                if (
                    isinstance(val, bool)
                    or not isinstance(val, int | float)
                    or not -MAX_PARAMETER <= val <= MAX_PARAMETER  # also NaN and inf
                    or val < 0
                ):
                    return (
                        f"weight of region '{key}' must be a number in [0, {MAX_PARAMETER:g}], "
                        f"got {_short(val)}"
                    )
            return None
        if self.choices is not None:
            if value not in self.choices:
                return f"must be one of {', '.join(self.choices)}, got {value!r}"
            return None
        if isinstance(value, bool) or not isinstance(value, self.type):
            expected = "a number" if self.type in (float, (int, float)) else self.type.__name__  # type: ignore[union-attr]
            return f"must be {expected}, got {value!r}"
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                return f"must be finite, got {value!r}"
            if abs(value) > MAX_PARAMETER:  # beyond any meaningful value, and near overflow
                return f"must be at most {MAX_PARAMETER:g} in size, got {_short(value)}"
            if self.minimum is not None and (
                value < self.minimum or (value == self.minimum and not self.min_inclusive)
            ):
                op = ">=" if self.min_inclusive else ">"
                return f"must be {op} {self.minimum:g}, got {value:g}"
            if self.maximum is not None and (
                value > self.maximum or (value == self.maximum and not self.max_inclusive)
            ):
                op = "<=" if self.max_inclusive else "<"
                return f"must be {op} {self.maximum:g}, got {value:g}"
        return None


@dataclass(frozen=True)
class FairnessKind:
    """A registered fairness constraint (role 'constraint') or objective policy ('objective')."""

    name: str
    doc: str
    params: tuple[ParamSpec, ...]
    role: str  # "constraint" | "objective"
    add: Callable[[RegionalBuilder, RegionalData, Mapping[str, Any]], None]
    floors: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None
    weights: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


REGISTRY: dict[str, FairnessKind] = {}


def register(
    name: str,
    *params: ParamSpec,
    role: str = "constraint",
    floors: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None,
    weights: Callable[[RegionalData, Mapping[str, Any]], np.ndarray] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `add_<name>(m, data, params)` under `name`."""

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        REGISTRY[name] = FairnessKind(
            name=name,
            doc=(func.__doc__ or "").strip(),
            params=tuple(params),
            role=role,
            add=func,
            floors=floors,
            weights=weights,
        )
        return func

    return wrap


@dataclass(frozen=True)
class ConstraintSpec:
    """A named fairness constraint with validated parameters; `label` identifies it in results."""

    kind: str
    params: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    @functools.cached_property
    def label(self) -> str:
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params)
        return f"{self.kind}({inner})"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def definition(self) -> FairnessKind:
        return REGISTRY[self.kind]

    def as_table(self) -> dict[str, Any]:
        return {"kind": self.kind, **{k: v for k, v in self.params}}


def _fmt(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ";".join(f"{k}:{_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)  # labels parse back exactly
    return str(value)


# ---------------------------------------------------------------------------------------------
# Floors: x_r >= min(f_r, cap_r), one row per region with a positive floor.


def _add_floor_rows(m: RegionalBuilder, floors: np.ndarray, data: RegionalData) -> None:
    clipped = np.minimum(floors, data.staff_cap)
    regions = np.flatnonzero(clipped > 0)
    rows = m.add_rows(len(regions), clipped[regions], INF)
    m.add(rows, m.x[regions], 1.0)


def _share_floors(data: RegionalData, share: float, weights: np.ndarray) -> np.ndarray:
    total = float(weights.sum())
    if total <= 0:
        return np.zeros(len(weights))
    return np.floor(share * data.supply * weights / total + FLOOR_EPS)


def per_capita_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    return _share_floors(data, float(params["share"]), data.population)


def excess_per_capita_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    return _share_floors(data, float(params["share"]), data.excess_demand / data.population)


def coverage_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    need = np.ceil(float(params["level"]) * data.peak_demand - FLOOR_EPS) - data.capacity
    return np.where(data.peak_demand > 0, np.maximum(need, 0.0), 0.0)


def capacity_per_capita_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    need = np.ceil(float(params["beds_per_100k"]) * data.population / 100_000 - FLOOR_EPS)
    return np.maximum(need - data.capacity, 0.0)


def min_units_floors(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    units = float(params["units"])
    return np.where(
        data.excess_demand > 0, np.ceil(np.minimum(units, data.excess_demand) - FLOOR_EPS), 0.0
    )


SHARE = ParamSpec(
    "share", (int, float), "share of supply guaranteed, in [0, 1]", minimum=0.0, maximum=1.0
)


@register("per_capita_floor", SHARE, floors=per_capita_floors)
def add_per_capita_floor(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Per-capita floor (part of Table 2's egalitarian share, guaranteed):

    x_r >= min(cap_r, floor(share * S * pop_r / sum_s pop_s)).
    """
    _add_floor_rows(m, per_capita_floors(data, params), data)


@register("excess_per_capita_floor", SHARE, floors=excess_per_capita_floors)
def add_excess_per_capita_floor(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Excess-per-capita floor (Table 3), with w_r = E_r / pop_r:

    x_r >= min(cap_r, floor(share * S * w_r / sum_s w_s)).
    """
    _add_floor_rows(m, excess_per_capita_floors(data, params), data)


@register(
    "coverage_floor",
    ParamSpec(
        "level", (int, float), "share of peak demand covered, in [0, 1]", minimum=0.0, maximum=1.0
    ),
    floors=coverage_floors,
)
def add_coverage_floor(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Coverage floor, for every region with P_r > 0:

    c_r + x_r >= ceil(level * P_r), i.e. x_r >= min(cap_r, max(0, ceil(level * P_r) - c_r)).
    """
    _add_floor_rows(m, coverage_floors(data, params), data)


@register(
    "capacity_per_capita_floor",
    ParamSpec("beds_per_100k", (int, float), "equipped beds per 100,000 people, >= 0", minimum=0.0),
    floors=capacity_per_capita_floors,
)
def add_capacity_per_capita_floor(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Capacity per capita floor:

    c_r + x_r >= ceil(beds_per_100k * pop_r / 100000), clipped at cap_r.
    """
    _add_floor_rows(m, capacity_per_capita_floors(data, params), data)


@register(
    "min_units",
    ParamSpec(
        "units", (int, float), "units every region with excess demand receives, >= 0", minimum=0.0
    ),
    floors=min_units_floors,
)
def add_min_units(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Minimum units, for every region with E_r > 0:

    x_r >= min(cap_r, ceil(min(units, E_r))).
    """
    _add_floor_rows(m, min_units_floors(data, params), data)


@register(
    "max_coverage_gap",
    ParamSpec(
        "gap",
        (int, float),
        "largest difference in share of peak demand covered, in [0, 1]",
        minimum=0.0,
        maximum=1.0,
    ),
)
def add_max_coverage_gap(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
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


@register(
    "threshold",
    ParamSpec(
        "tau",
        (int, float),
        "index value at or above which regions compete equally, >= 0",
        minimum=0.0,
    ),
    ParamSpec(
        "index",
        str,
        "index compared with tau",
        default="rai",
        required=False,
        choices=THRESHOLD_INDEXES,
    ),
)
def add_threshold(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """The paper's threshold rule. T = {r : index_r >= tau} compete on an equal level: units go
    in proportion to excess demand per capita w_r = (E_r / pop_r) / max_T (E / pop), exact up to
    rounding, for one common lambda >= 0:

        |x_r - lambda w_r| <= 1 - delta  (delta = 1e-5: strictly below one unit), r in T.

    A region may stop early at its stop level q_r = min(cap_r, ceil(E_r)) (its staff cap, or its
    whole excess demand: units beyond need save no one). With binary k_r (only when q_r < S):
    x_r >= q_r k_r and x_r >= lambda w_r - (1 - delta) - M_r k_r, M_r = lambda_max w_r.
    Regions below tau are left to the lives objective.
    """
    members = np.flatnonzero(threshold_members(data, params))
    if len(members) <= 1:
        return
    per_capita = data.excess_demand / data.population
    scale = max(float(per_capita[members].max()), 0.0)
    if scale <= 0:
        return
    w = per_capita[members] / scale
    lambda_max = (data.supply + 1.0) / float(w[w > 0].min())
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


PRIORITARIAN_WEIGHTS = ("column", "excess_per_capita")


def prioritarian_weights(data: RegionalData, params: Mapping[str, Any]) -> np.ndarray:
    """Weights a_r: regions.csv `weight`, the per-capita shortfall (mean 1), or a mapping."""
    spec = params.get("weights", "column")
    if isinstance(spec, Mapping):
        return np.array([float(spec.get(r, 1.0)) for r in data.regions])
    if spec == "excess_per_capita":
        per_capita = data.excess_demand / data.population
        mean = float(per_capita.mean())
        return per_capita / mean if mean > 0 else np.ones(len(per_capita))
    return data.weight.copy()


@register(
    "prioritarian",
    ParamSpec(
        "weights",
        str,
        "'column' (regions.csv weight), 'excess_per_capita', or a mapping region -> weight",
        default="column",
        required=False,
        choices=PRIORITARIAN_WEIGHTS,
        allow_mapping=True,
    ),
    role="objective",
    weights=prioritarian_weights,
)
def add_prioritarian(
    m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]
) -> None:
    """Prioritarian objective: maximise sum_r a_r * lives_r instead of sum_r lives_r.

    It adds no constraint; its price is the unweighted lives given up.
    """
