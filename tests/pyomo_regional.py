"""The regional model stated in Pyomo, independently of models/regional.py: the reference the
product's array model is checked against (tests/test_regional_model.py).

It is the model as docs/model.md writes it (and as the engine built it before it assembled
its own arrays): one Pyomo component per family, compiled by Pyomo's standard-form compiler
(optimiser.solver.HighsModel). The fairness families are restated here from their docstrings in
models/fairness/; only the floor values f_r (the registry's `floors` functions, checked
against hand-computed floors in tests/test_fairness_constraints.py) are shared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyomo.environ as pyo

from models.fairness import (
    FLOOR_EPS,
    REGISTRY,
    THRESHOLD_SLACK,
    ConstraintSpec,
    threshold_members,
)
from models.regional import RegionalData


def build_pyomo(
    data: RegionalData, constraints: Sequence[ConstraintSpec] = ()
) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel(name="regional")
    m.R = pyo.Set(initialize=list(data.regions), ordered=True)
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
    m.supply_limit = pyo.Constraint(expr=sum(m.x[r] for r in m.R) <= data.supply)
    tiers: dict[str, list[int]] = {r: [] for r in m.R}
    for r, k in m.T:
        tiers[r].append(k)
    m.useful_units = pyo.Constraint(
        m.R, rule=lambda _m, r: sum(m.u[r, k] for k in tiers[r]) <= m.x[r]
    )
    coef = {
        (r, k): t[1] * float(turn)
        for r, tiers_r, turn in zip(data.regions, data.tiers, data.turnover, strict=True)
        for k, t in enumerate(tiers_r)
    }
    m.lives_coef = coef
    m.lives = pyo.Expression(expr=sum(coef[rk] * m.u[rk] for rk in m.T))
    m.fairness = pyo.Block([c.label for c in constraints])
    for spec in constraints:
        FAMILIES.get(spec.kind, _floor_rows)(m.fairness[spec.label], m, data, spec)
    contested = [
        r
        for r, e, v in zip(data.regions, data.excess_demand, data.value, strict=True)
        if e > 0 and v > 0
    ]
    m.contested = pyo.Set(initialize=contested, ordered=True)
    m.shortfall = pyo.Var(m.contested, bounds=(0.0, None))
    m.objective = pyo.Objective(expr=m.lives, sense=pyo.maximize)
    return m


def _floor_rows(block: pyo.Block, m: pyo.ConcreteModel, data: RegionalData, spec: Any) -> None:
    """x_r >= min(f_r, cap_r) where that is > 0; no rows for an objective policy."""
    fn = REGISTRY[spec.kind].floors
    if fn is None:
        assert REGISTRY[spec.kind].role == "objective", spec.kind
        return
    clipped = np.minimum(fn(data, spec.options), data.staff_cap)
    rows = [r for r, f in zip(data.regions, clipped, strict=True) if f > 0]
    floor = dict(zip(data.regions, clipped.tolist(), strict=True))
    block.lower = pyo.Constraint(rows, rule=lambda b, r: m.x[r] >= floor[r])


def _max_coverage_gap(
    block: pyo.Block, m: pyo.ConcreteModel, data: RegionalData, spec: Any
) -> None:
    gap = float(spec.options["gap"])
    demand = [i for i, p in enumerate(data.peak_demand) if p > 0]
    if not demand:
        return
    block.min_coverage = pyo.Var(bounds=(0.0, 1.0))
    block.all_near_full = pyo.Var(domain=pyo.Binary)
    regions = [data.regions[i] for i in demand]
    index = {data.regions[i]: i for i in demand}

    def coverage(r: str) -> Any:
        i = index[r]
        return (data.capacity[i] + m.x[r]) / data.peak_demand[i]

    def big_m(r: str) -> float:
        i = index[r]
        return (data.capacity[i] + min(data.staff_cap[i], float(data.supply))) / data.peak_demand[i]

    block.lower = pyo.Constraint(regions, rule=lambda b, r: b.min_coverage <= coverage(r))
    block.upper = pyo.Constraint(
        regions, rule=lambda b, r: coverage(r) <= b.min_coverage + gap + big_m(r) * b.all_near_full
    )
    block.switch = pyo.Constraint(expr=block.min_coverage + gap >= block.all_near_full)


def _threshold(block: pyo.Block, m: pyo.ConcreteModel, data: RegionalData, spec: Any) -> None:
    members = threshold_members(data, spec.options)
    idx = [i for i in range(len(data.regions)) if members[i]]
    if len(idx) <= 1:
        return
    per_capita = data.excess_demand / data.population
    scale = max(float(per_capita[idx].max()), 0.0)
    if scale <= 0:
        return
    w = {data.regions[i]: float(per_capita[i] / scale) for i in idx}
    # lambda never needs to pass the level at which every member's upper row holds for any
    # x_r <= min(cap_r, S)
    cap = {data.regions[i]: min(float(data.staff_cap[i]), float(data.supply)) for i in idx}
    lambda_max = max((cap[r] + 1.0) / v for r, v in w.items() if v > 0)
    block.lam = pyo.Var(bounds=(0.0, lambda_max))
    regions = list(w)
    slack = 1.0 - THRESHOLD_SLACK
    block.upper = pyo.Constraint(regions, rule=lambda b, r: m.x[r] <= b.lam * w[r] + slack)
    stop = {
        data.regions[i]: float(min(data.staff_cap[i], math.ceil(data.excess_demand[i] - FLOOR_EPS)))
        for i in idx
    }
    stoppable = [r for r in regions if stop[r] < data.supply]
    block.stopped = pyo.Var(stoppable, domain=pyo.Binary)

    def lower(b: pyo.Block, r: str) -> Any:
        if r in stoppable:
            return m.x[r] >= b.lam * w[r] - slack - lambda_max * w[r] * b.stopped[r]
        return m.x[r] >= b.lam * w[r] - slack

    block.lower = pyo.Constraint(regions, rule=lower)
    block.stop_level = pyo.Constraint(stoppable, rule=lambda b, r: m.x[r] >= stop[r] * b.stopped[r])


def _max_share_of_supply(
    block: pyo.Block, m: pyo.ConcreteModel, data: RegionalData, spec: Any
) -> None:
    """x_r <= floor(share S) where the staff cap allows more."""
    cap = math.floor(float(spec.options["share"]) * data.supply + FLOOR_EPS)
    staff = dict(zip(data.regions, data.staff_cap.tolist(), strict=True))
    rows = [r for r in data.regions if staff[r] > cap]
    block.upper = pyo.Constraint(rows, rule=lambda b, r: m.x[r] <= cap)


FAMILIES: Mapping[str, Callable[..., None]] = {
    "max_coverage_gap": _max_coverage_gap,
    "threshold": _threshold,
    "max_share_of_supply": _max_share_of_supply,
}
