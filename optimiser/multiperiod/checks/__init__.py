"""check-plan's checkers of the fairness constraints over the horizon: one module per kind.

Each module of this package whose name does not start with an underscore is the checker of the
fairness kind of the same name: it implements the kind's definition (docs/model.md and
docs/multiperiod.md, "Fairness over the horizon") directly on the replayed plan, without
calling the model (no models.*, no HiGHS: check-plan's independence, docs/multiperiod.md
"check-plan"), and registers itself with `@checker("<kind>")`. A module that registers no
checker of its own name is an error on import; a constraint of a kind with no checker is
refused by check-plan (InputError), never passed unchecked.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import Simulation, Violation


class FairnessSpec(Protocol):
    """What a checker needs of a constraint: its kind, label and parameters."""

    @property
    def kind(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def options(self) -> dict[str, Any]: ...


Check = Callable[[MultiPeriodInstance, Simulation, FairnessSpec], list[Violation]]
CHECKERS: dict[str, Check] = {}
_MODULES: dict[str, str] = {}


class CheckerError(TypeError):
    """A checker module that does not register the checker of its own kind."""


def checker(kind: str) -> Callable[[Check], Check]:
    """Register `check(instance, simulation, spec) -> violations` for `kind`."""

    def wrap(func: Check) -> Check:
        if kind in CHECKERS and _MODULES[kind] != func.__module__:
            raise CheckerError(f"two checkers of {kind!r}: {_MODULES[kind]} and {func.__module__}")
        CHECKERS[kind] = func
        _MODULES[kind] = func.__module__
        return func

    return wrap


def checker_modules() -> list[str]:
    return sorted(i.name for i in pkgutil.iter_modules(__path__) if not i.name.startswith("_"))


def load_checkers() -> None:
    for name in checker_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        if _MODULES.get(name) != module.__name__:
            raise CheckerError(
                f"{module.__name__} registers no checker of the fairness kind {name!r} "
                f"(a checker module decorates its check with @checker({name!r}))"
            )


def checked_kinds() -> tuple[str, ...]:
    """The kinds check-plan can check over the horizon."""
    return tuple(CHECKERS)


def fairness_violations(
    instance: MultiPeriodInstance, simulation: Simulation, constraints: Sequence[FairnessSpec]
) -> list[Violation]:
    """Every rule of the active fairness constraints the replayed plan breaks, in the order
    of the constraints. ValueError for a kind without a checker."""
    out: list[Violation] = []
    for spec in constraints:
        check = CHECKERS.get(spec.kind)
        if check is None:
            raise ValueError(f"check-plan cannot check {spec.kind} over the horizon")
        out += check(instance, simulation, spec)
    return out


load_checkers()
