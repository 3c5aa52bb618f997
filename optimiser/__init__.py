"""Regional triage engine: allocate a scarce life-saving resource across health regions.

    >>> import optimiser
    >>> inst = optimiser.load_instance("instances/pugh2021")
    >>> result = optimiser.solve(inst, constraints=["per_capita_floor:share=0.5"])
    >>> result.allocation, result.lives_saved
"""

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

__version__ = "0.1.0"

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
