"""Fairness constraints and objective policies, one module per kind, registered by name.

Every module of this package whose name does not start with an underscore (other than
`registry` and `horizon`, the machinery) is a kind: it is imported here, and it must register
exactly the kind of its own name, completely (models/fairness/registry.py says what a kind
declares). A module that registers nothing, or another name, or a kind left incomplete, is an
error on import: adding a kind is one file here (plus its checker in
optimiser/multiperiod/checks/, its docs and its tests), and forgetting part of it never yields
a model that silently ignores it.
"""

from __future__ import annotations

import importlib
import pkgutil

from models.fairness.horizon import FloorFamily, HorizonFamily, LambdaAxis, horizon_floors
from models.fairness.registry import (
    FLOOR_EPS,
    INF,
    INPUTS,
    MAX_PARAMETER,
    REGISTRY,
    THRESHOLD_SLACK,
    ConstraintSpec,
    FairnessKind,
    ParamSpec,
    RegistrationError,
    check_kind,
    register,
)

MACHINERY = frozenset({"registry", "horizon"})
# The order kinds are listed in (help, schema, messages): the first ones as docs/model.md has
# always listed them; a kind not named here comes after them, in alphabetical order.
LISTED_FIRST = (
    "per_capita_floor",
    "excess_per_capita_floor",
    "coverage_floor",
    "capacity_per_capita_floor",
    "min_units",
    "max_coverage_gap",
    "threshold",
    "prioritarian",
)


def kind_modules() -> list[str]:
    """Names of this package's kind modules, in listing order."""
    names = [
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and info.name not in MACHINERY
    ]
    first = [n for n in LISTED_FIRST if n in names]
    return first + sorted(set(names) - set(first))


def load_kinds() -> None:
    """Import every kind module; RegistrationError if one does not register its own kind."""
    for name in kind_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        kind = REGISTRY.get(name)
        if kind is None or kind.module != module.__name__:
            raise RegistrationError(
                f"{module.__name__} registers no fairness kind named {name!r}: a kind module "
                "calls `register` once, under its own name"
            )
    strays = [k.name for k in REGISTRY.values() if k.name not in kind_modules() and k.module]
    for name in strays:
        if REGISTRY[name].module.startswith(f"{__name__}."):
            raise RegistrationError(
                f"fairness kind {name!r} is registered by {REGISTRY[name].module}, not by a "
                f"module of its own name ({__name__}.{name})"
            )


load_kinds()

from models.fairness.threshold import THRESHOLD_INDEXES, threshold_members  # noqa: E402

__all__ = [
    "FLOOR_EPS",
    "INF",
    "INPUTS",
    "MAX_PARAMETER",
    "REGISTRY",
    "THRESHOLD_INDEXES",
    "THRESHOLD_SLACK",
    "ConstraintSpec",
    "FairnessKind",
    "FloorFamily",
    "HorizonFamily",
    "LambdaAxis",
    "ParamSpec",
    "RegistrationError",
    "check_kind",
    "horizon_floors",
    "kind_modules",
    "register",
    "threshold_members",
]
