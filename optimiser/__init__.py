"""Regional triage engine: allocate a scarce life-saving resource across health regions.

    >>> import optimiser
    >>> inst = optimiser.load_instance("instances/pugh2021")
    >>> result = optimiser.solve(inst, constraints=["per_capita_floor:share=0.5"])
    >>> result.allocation, result.lives_saved

The names below are loaded on first use (PEP 562): `import optimiser` costs a few
milliseconds, so the `triage` command starts fast and a library user pays for Pyomo, pandas and
HiGHS only when they solve. `from optimiser import solve` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__: str  # pyproject.toml's version, read on first use (optimiser/version.py)

#: public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "CONSTRAINTS": ("models.fairness", "REGISTRY"),
    "ConstraintSpec": ("optimiser.constraints", "ConstraintSpec"),
    "constraint": ("optimiser.constraints", "constraint"),
    "parse_constraint": ("optimiser.constraints", "parse_constraint"),
    "RegionalEngine": ("optimiser.engine", "RegionalEngine"),
    "compare": ("optimiser.engine", "compare"),
    "evaluate": ("optimiser.engine", "evaluate"),
    "regional_data": ("optimiser.engine", "regional_data"),
    "solve": ("optimiser.engine", "solve"),
    "InfeasibleError": ("optimiser.errors", "InfeasibleError"),
    "InputError": ("optimiser.errors", "InputError"),
    "Problem": ("optimiser.errors", "Problem"),
    "TriageError": ("optimiser.errors", "TriageError"),
    "Instance": ("optimiser.instance", "Instance"),
    "instance_from_dict": ("optimiser.instance", "instance_from_dict"),
    "instance_from_frames": ("optimiser.instance", "instance_from_frames"),
    "instance_to_dict": ("optimiser.instance", "instance_to_dict"),
    "load_instance": ("optimiser.instance", "load_instance"),
    "POLICIES": ("optimiser.policies", "POLICIES"),
    "AllocationResult": ("optimiser.results", "AllocationResult"),
    "SolverOptions": ("optimiser.solver", "SolverOptions"),
    "SolveStatus": ("optimiser.solver", "SolveStatus"),
    "sweep": ("optimiser.sweeps", "sweep"),
}

__all__ = [
    "CONSTRAINTS",
    "POLICIES",
    "AllocationResult",
    "ConstraintSpec",
    "InfeasibleError",
    "InputError",
    "Instance",
    "Problem",
    "RegionalEngine",
    "SolveStatus",
    "SolverOptions",
    "TriageError",
    "compare",
    "constraint",
    "evaluate",
    "instance_from_dict",
    "instance_from_frames",
    "instance_to_dict",
    "load_instance",
    "parse_constraint",
    "regional_data",
    "solve",
    "sweep",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from optimiser.version import version

        globals()[name] = version()
        return globals()[name]
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'optimiser' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "__version__"})


if TYPE_CHECKING:  # what type checkers and IDEs see
    from models.fairness import REGISTRY as CONSTRAINTS
    from optimiser.constraints import ConstraintSpec, constraint, parse_constraint
    from optimiser.engine import RegionalEngine, compare, evaluate, regional_data, solve
    from optimiser.errors import InfeasibleError, InputError, Problem, TriageError
    from optimiser.instance import (
        Instance,
        instance_from_dict,
        instance_from_frames,
        instance_to_dict,
        load_instance,
    )
    from optimiser.policies import POLICIES
    from optimiser.results import AllocationResult
    from optimiser.solver import SolverOptions, SolveStatus
    from optimiser.sweeps import sweep
