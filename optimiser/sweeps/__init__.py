"""Sensitivity sweeps: solve an instance for many variants of its inputs, fast and resumable.

    >>> from optimiser.sweeps import sweep, run_sweep
    >>> table = sweep(inst, vary={"supply": "500:3000:100", "per_capita_floor.share": "0:1:0.1"})

See docs/sweeps.md for the spec syntax, the outputs, the fast path and resuming.
"""

from optimiser.sweeps.fast import FastModel, SweepPlan, solve_fast, solve_rebuild
from optimiser.sweeps.run import (
    SweepIncomplete,
    SweepInterrupted,
    SweepResult,
    build_plan,
    load_sweep,
    run_sweep,
    sweep,
)
from optimiser.sweeps.spec import (
    COLUMNS,
    Dimension,
    VariantError,
    apply_variant,
    parse_vary,
    variant_table,
)

__all__ = [
    "COLUMNS",
    "Dimension",
    "FastModel",
    "SweepIncomplete",
    "SweepInterrupted",
    "SweepPlan",
    "SweepResult",
    "VariantError",
    "apply_variant",
    "build_plan",
    "load_sweep",
    "parse_vary",
    "run_sweep",
    "solve_fast",
    "solve_rebuild",
    "sweep",
    "variant_table",
]
