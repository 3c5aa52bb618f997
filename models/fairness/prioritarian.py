"""prioritarian(weights): maximise sum_r a_r lives_r instead of sum_r lives_r.

An objective policy: no rows in either model (its weights a_r enter the objective; over the
horizon weights below 0.1% of the largest are raised to it, models/multiperiod.py
`objective_weights`). Its price is the unweighted lives given up. Checker:
optimiser/multiperiod/checks/prioritarian.py (nothing to check).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness.horizon import HorizonFamily
from models.fairness.registry import ConstraintSpec, ParamSpec, register

if TYPE_CHECKING:
    from models.multiperiod import MultiPeriodData, PlanBuilder
    from models.regional import RegionalBuilder, RegionalData

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


def horizon_weights(m: PlanBuilder, data: MultiPeriodData, spec: ConstraintSpec) -> HorizonFamily:
    """No rows: the weights enter the objective (models/multiperiod.py, objective_weights)."""
    return HorizonFamily(spec.label, data.n)


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
    horizon=horizon_weights,
    inputs=lambda params: (
        frozenset()
        if isinstance(params.get("weights"), Mapping)
        else frozenset({"population", "capacity", "peak_demand"})
        if params.get("weights") == "excess_per_capita"
        else frozenset({"weight"})
    ),
)
def add_prioritarian(m: RegionalBuilder, data: RegionalData, params: Mapping[str, Any]) -> None:
    """Prioritarian objective: maximise sum_r a_r * lives_r instead of sum_r lives_r.

    It adds no constraint; its price is the unweighted lives given up.
    """
