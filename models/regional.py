"""The single-period regional allocation model (docs/model.md).

Symbols: r a region, k a prognosis tier, x_r integer units sent, u_rk useful units serving tier
k, E_r excess demand, s_k share of tier k, g_rk gain (survival with - without), t_r turnover,
S supply, cap_r staff cap.

    maximise    L = sum_r sum_k g_rk t_r u_rk                    (expected extra survivors)
    subject to  sum_r x_r <= S                                    (supply)
                sum_k u_rk <= x_r                                 (useful units)
                0 <= u_rk <= s_k E_r,  0 <= x_r <= cap_r, x_r integer
                the active fairness families (models/fairness.py)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from models.fairness import REGISTRY, ConstraintSpec


@dataclass(frozen=True)
class RegionalData:
    """Numbers the model needs, one array entry per region, in `regions` order."""

    regions: tuple[str, ...]
    population: np.ndarray
    capacity: np.ndarray
    peak_demand: np.ndarray
    excess_demand: np.ndarray
    gain: np.ndarray
    turnover: np.ndarray
    staff_cap: np.ndarray  # inf: unlimited
    weight: np.ndarray
    rai: np.ndarray
    supply: int
    # tiers[i]: ((units_bound, gain), ...) per tier of region i; one tier when none are given
    tiers: tuple[tuple[tuple[float, float], ...], ...] = field(default_factory=tuple)

    @property
    def value(self) -> np.ndarray:
        """Lives per useful unit of the best tier: g_r t_r."""
        return np.array([max((g for _, g in t), default=0.0) for t in self.tiers]) * self.turnover

    def lives(self, units: np.ndarray) -> np.ndarray:
        """Expected extra survivors per region for an allocation (best tiers first)."""
        out = np.zeros(len(self.regions))
        for i, tiers in enumerate(self.tiers):
            left = min(float(units[i]), float(self.excess_demand[i]))
            for bound, gain in sorted(tiers, key=lambda t: -t[1]):
                used = min(left, bound)
                out[i] += gain * self.turnover[i] * used
                left -= used
        return out

    def useful(self, units: np.ndarray) -> np.ndarray:
        return np.minimum(np.asarray(units, dtype=float), self.excess_demand)


@dataclass(frozen=True)
class RegionalOptions:
    """What to build: the fairness families (all built; the solver toggles them)."""

    constraints: Sequence[ConstraintSpec] = ()


def build_regional(data: RegionalData, options: RegionalOptions | None = None) -> pyo.ConcreteModel:
    """Build the regional allocation model with every requested fairness family."""
    options = options or RegionalOptions()
    m = pyo.ConcreteModel(name="regional")
    m.R = pyo.Set(initialize=list(data.regions), ordered=True)
    add_allocation(m, data)
    add_supply(m, data)
    add_useful_units(m, data)
    add_lives(m, data)
    add_fairness(m, data, options.constraints)
    add_tie_break(m, data)
    m.objective = pyo.Objective(expr=m.lives, sense=pyo.maximize)
    return m


def add_allocation(m: pyo.ConcreteModel, data: RegionalData) -> None:
    """x_r in {0, 1, ..., cap_r}: units sent; u_rk in [0, s_k E_r]: useful units by tier."""
    cap = dict(zip(data.regions, data.staff_cap.tolist(), strict=True))
    m.x = pyo.Var(
        m.R,
        domain=pyo.NonNegativeIntegers,
        bounds=lambda _m, r: (0, None if np.isinf(cap[r]) else cap[r]),
    )
    m.T = pyo.Set(
        initialize=[
            (r, k)
            for r, tiers in zip(data.regions, data.tiers, strict=True)
            for k in range(len(tiers))
        ],
        dimen=2,
        ordered=True,
    )
    bound = {
        (r, k): t[0]
        for r, tiers in zip(data.regions, data.tiers, strict=True)
        for k, t in enumerate(tiers)
    }
    m.u = pyo.Var(m.T, bounds=lambda _m, r, k: (0.0, bound[r, k]))


def add_supply(m: pyo.ConcreteModel, data: RegionalData) -> None:
    """sum_r x_r <= S; units not sent stay in the national reserve."""
    m.supply = pyo.Param(initialize=data.supply, mutable=True)
    m.supply_limit = pyo.Constraint(expr=sum(m.x[r] for r in m.R) <= m.supply)


def add_useful_units(m: pyo.ConcreteModel, data: RegionalData) -> None:
    """sum_k u_rk <= x_r: with u_rk <= s_k E_r this linearises u_r = min(x_r, E_r)."""
    tiers = {r: [k for (q, k) in m.T if q == r] for r in m.R}
    m.useful_units = pyo.Constraint(
        m.R, rule=lambda _m, r: sum(m.u[r, k] for k in tiers[r]) <= m.x[r]
    )


def add_lives(m: pyo.ConcreteModel, data: RegionalData) -> None:
    """L = sum_rk g_rk t_r u_rk, and per region lives_r."""
    coef = {
        (r, k): t[1] * float(turn)
        for r, tiers, turn in zip(data.regions, data.tiers, data.turnover, strict=True)
        for k, t in enumerate(tiers)
    }
    m.lives_coef = coef
    m.lives = pyo.Expression(expr=sum(coef[rk] * m.u[rk] for rk in m.T))


def add_fairness(
    m: pyo.ConcreteModel, data: RegionalData, constraints: Sequence[ConstraintSpec]
) -> None:
    """One block per fairness constraint, keyed by its label (see models/fairness.py)."""
    labels = [c.label for c in constraints]
    m.fairness = pyo.Block(labels)
    for spec in constraints:
        REGISTRY[spec.kind].add(m.fairness[spec.label], m, data, spec.options)


def weighted_lives(m: pyo.ConcreteModel, weights: np.ndarray) -> pyo.Expression:
    """sum_rk a_r g_rk t_r u_rk (prioritarian objective)."""
    a = dict(zip(m.R, weights.tolist(), strict=True))
    return sum(a[r] * m.lives_coef[r, k] * m.u[r, k] for (r, k) in m.T)


def add_tie_break(m: pyo.ConcreteModel, data: RegionalData) -> None:
    """Variables of the secondary criterion (docs/model.md, "Ties").

    d_r >= f_r(u_r) with f_r(u) = (E_r - u)^2 / E_r (regions with E_r > 0 and g_r > 0): the
    squared shortfall in proportion to excess demand, whose integer minimiser is the Webster
    (Sainte-Lague) apportionment of useful units in proportion to E_r. The secant cuts are
    added lazily by the solver; they are exact at whole units.
    """
    contested = [
        r
        for r, e, v in zip(data.regions, data.excess_demand, data.value, strict=True)
        if e > 0 and v > 0
    ]
    m.contested = pyo.Set(initialize=contested, ordered=True)
    m.shortfall = pyo.Var(m.contested, bounds=(0.0, None))
