"""Multi-period planning: deliveries in tranches, lead times, redistribution and patient flow.

    >>> from optimiser.multiperiod import load_multiperiod, plan, check_plan
    >>> inst = load_multiperiod("instances/us-states-apr2020")
    >>> result = plan(inst)
    >>> result.lives_saved, result.manifest.head()

Stages, each callable on its own: load_multiperiod (load + validate) -> model_data ->
models.multiperiod.build_plan_model (the one model) -> PlanEngine.solve (methods/) -> extract
-> PlanResult; check_plan replays any plan through simulate. docs/architecture.md maps it.
docs/multiperiod.md describes the model and the files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The names below are loaded on first use (PEP 562), as in optimiser/__init__.py: a module of
# this package (`optimiser.multiperiod.instance`'s is_multiperiod, asked by every single-period
# command) then costs its own imports, not the planner's Pyomo and SciPy (about 1.5 s).
#: public name -> module
_EXPORTS: dict[str, str] = {
    "check_plan": "optimiser.multiperiod.check",
    "model_data": "optimiser.multiperiod.data",
    "PlanEngine": "optimiser.multiperiod.engine",
    "extract": "optimiser.multiperiod.extract",
    "plan": "optimiser.multiperiod.planner",
    "GeneratorSpec": "optimiser.multiperiod.generator",
    "generate": "optimiser.multiperiod.generator",
    "MultiPeriodInstance": "optimiser.multiperiod.instance",
    "PlanSettings": "optimiser.multiperiod.instance",
    "is_multiperiod": "optimiser.multiperiod.instance",
    "load_multiperiod": "optimiser.multiperiod.instance",
    "multiperiod_from_frames": "optimiser.multiperiod.instance",
    "read_plan": "optimiser.multiperiod.plan_io",
    "CheckResult": "optimiser.multiperiod.results",
    "PlanResult": "optimiser.multiperiod.results",
    "simulate": "optimiser.multiperiod.simulate",
}

__all__ = [
    "CheckResult",
    "GeneratorSpec",
    "MultiPeriodInstance",
    "PlanEngine",
    "PlanResult",
    "PlanSettings",
    "check_plan",
    "extract",
    "generate",
    "is_multiperiod",
    "load_multiperiod",
    "model_data",
    "multiperiod_from_frames",
    "plan",
    "read_plan",
    "simulate",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'optimiser.multiperiod' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # what type checkers and IDEs see
    from optimiser.multiperiod.check import check_plan
    from optimiser.multiperiod.data import model_data
    from optimiser.multiperiod.engine import PlanEngine
    from optimiser.multiperiod.extract import extract
    from optimiser.multiperiod.generator import GeneratorSpec, generate
    from optimiser.multiperiod.instance import (
        MultiPeriodInstance,
        PlanSettings,
        is_multiperiod,
        load_multiperiod,
        multiperiod_from_frames,
    )
    from optimiser.multiperiod.plan_io import read_plan
    from optimiser.multiperiod.planner import plan
    from optimiser.multiperiod.results import CheckResult, PlanResult
    from optimiser.multiperiod.simulate import simulate
