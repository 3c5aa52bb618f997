"""Pyomo formulations of the regional triage engine: `build_<model>(data, options)`.

Formulations are registered by name in FORMULATIONS so callers (CLI, service, sweeps) can pick
one without importing it directly.
"""

from collections.abc import Callable
from typing import Any

from models.fairness import REGISTRY, ConstraintSpec, FairnessKind, ParamSpec, register
from models.regional import RegionalData, RegionalOptions, build_regional

FORMULATIONS: dict[str, Callable[..., Any]] = {"regional": build_regional}

__all__ = [
    "FORMULATIONS",
    "REGISTRY",
    "ConstraintSpec",
    "FairnessKind",
    "ParamSpec",
    "RegionalData",
    "RegionalOptions",
    "build_regional",
    "register",
]
