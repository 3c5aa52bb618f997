"""What a sweep's worker is given and what it answers: `SweepPlan` (everything needed to
solve any variant, picklable: which path a variant takes and which variants share a built model)
and `VariantOutcome` (one variant solved). `kind_family` sorts a fairness kind into how the
fast path applies it: column bounds, objective costs or rows (optimiser/sweeps/fast.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.regional import RegionalData
from optimiser.instance import Instance
from optimiser.sweeps.spec import (
    Dimension,
)


def kind_family(name: str) -> str:
    """'floor' (column bounds), 'objective' (costs), 'rows' (built into the model)."""
    kind = REGISTRY[name]
    if kind.role == "objective":
        return "objective"
    if kind.floors is not None:
        return "floor"
    return "rows"


def family(spec: ConstraintSpec) -> str:
    return kind_family(spec.kind)


@dataclass(frozen=True)
class SweepPlan:
    """Everything a worker needs to solve any variant of a sweep (picklable)."""

    instance: Instance
    constraints: tuple[ConstraintSpec, ...]
    dims: tuple[Dimension, ...]
    price_of_fairness: bool = False
    tie_break: bool = False
    time_limit: float | None = None
    mode: str = "fast"  # "fast" | "rebuild"
    supply_max: int = 0
    key: str = ""  # spec hash: names this sweep in worker caches
    greedy: bool = True  # lives-only variants with floors at most: exact greedy, no HiGHS

    def supply_of(self, values: Mapping[str, Any]) -> int:
        for d in self.dims:
            if d.target == "supply":
                return int(values[d.name])
        return int(self.instance.supply)

    def data_key(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple((d.name, float(values[d.name])) for d in self.dims if d.changes_data)

    def uses_greedy(self, specs: Sequence[ConstraintSpec]) -> bool:
        """Is the exact greedy valid for a variant with these constraints? Lives only: no
        tie-break, and every active constraint a floor (lower bounds of x_r)."""
        return (
            self.greedy
            and self.mode == "fast"
            and not self.tie_break
            and all(family(s) == "floor" for s in specs)
        )

    def model_key(
        self, values: Mapping[str, Any], specs: Sequence[ConstraintSpec]
    ) -> tuple[Any, ...] | None:
        """Variants with equal keys share a built model; None: this variant is rebuilt."""
        if self.mode == "rebuild":
            return None
        rows = [s for s in specs if family(s) == "rows"]
        if self.tie_break:  # the tie-break stages read the engine's data: key on all of it
            objectives = [s for s in specs if family(s) == "objective"]
            supply = (self.supply_of(values),) if self.supply_bound(specs) else ()
            return (tuple(s.label for s in rows + objectives), self.data_key(values), *supply)
        declared = [REGISTRY[s.kind].inputs_of(s.options) for s in rows]
        if any(inputs is None for inputs in declared):
            return None
        deps = frozenset().union(*declared)  # type: ignore[arg-type]
        inputs = tuple(
            (d.name, float(values[d.name]))
            for d in self.dims
            if (d.changes_data or d.target == "supply") and (d.column in deps or d.target in deps)
        )
        return (tuple(s.label for s in rows), inputs)

    @staticmethod
    def supply_bound(specs: Sequence[ConstraintSpec]) -> bool:
        """Do the rows of a family depend on the supply itself (not only through bounds that
        stay valid for a smaller supply)?"""
        return any(
            family(s) == "rows" and "supply" in (REGISTRY[s.kind].inputs_of(s.options) or ())
            for s in specs
        )

    def built_supply(self, values: Mapping[str, Any], specs: Sequence[ConstraintSpec]) -> int:
        """The supply a variant's model is built with: the sweep's largest (valid for every
        smaller supply: big-M and lambda bounds only loosen), or the variant's own when a
        family's rows depend on the supply itself (the model is then keyed by it)."""
        return self.supply_of(values) if self.supply_bound(specs) else self.supply_max


@dataclass
class VariantOutcome:
    status: str
    lives: float | None = None
    lives_optimal: float | None = None
    units: np.ndarray | None = None
    data: RegionalData | None = None
    seconds: float = 0.0
    path: str = "fast"
    reason: str = ""
    constraints: tuple[str, ...] = ()
    region_lives: np.ndarray | None = None
    # proven upper bounds (the solver's dual bounds; the lives themselves when exact) on the
    # lives of any allocation under the variant's constraints, and without them (L*): the
    # price's interval (optimiser.sweeps.prices). None: not a lives objective, or unknown.
    lives_bound: float | None = None
    lives_optimal_bound: float | None = None
