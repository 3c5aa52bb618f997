"""Tiny work limits of the planner and the decomposition, for the status tests (imported as a
module: the tests folder is on sys.path). `install()` sets column generation to one round per
LP (MAX_ROUNDS = 1: the LP never finishes pricing, so no LP bound is proved), takes the
decomposition's branch-and-bound away (EXACT_LIMIT = 0) and gives the planner's exact method
after rounding no node (FALLBACK_NODES = 0). No time limit is involved: a run stopped by these
must say iteration_limit, never time_limit. The CLI and service tests install it in their
processes through a sitecustomize.py (SITECUSTOMIZE) on their PYTHONPATH."""

from __future__ import annotations

from typing import Any

SITECUSTOMIZE = "import status_limits\nstatus_limits.install()\n"


def install(monkeypatch: Any = None) -> None:
    """The tiny limits from now on (through `monkeypatch` when given)."""
    import optimiser.multiperiod.colgen as colgen
    import optimiser.multiperiod.engine as engine
    import optimiser.stochastic.decomp as decomp

    for module, name, value in (
        (colgen, "MAX_ROUNDS", 1),
        (decomp, "EXACT_LIMIT", 0),
        (engine, "FALLBACK_NODES", 0),
    ):
        if monkeypatch is None:
            setattr(module, name, value)
        else:
            monkeypatch.setattr(module, name, value)
