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
