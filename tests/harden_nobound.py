"""A HiGHS that stops before proving a bound (imported as a module: the tests folder is on
sys.path). `install()` makes every MIP run that found a plan answer as HiGHS does when its time
limit passes before the first dual bound: status time_limit, the incumbent, a dual bound of
+inf (maximising; -inf minimising) and no gap. The service tests install it in the server's
processes through a sitecustomize.py (SITECUSTOMIZE) on their PYTHONPATH."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

SITECUSTOMIZE = "import harden_nobound\nharden_nobound.install()\n"


def _no_proven_bound(real: Any) -> Any:
    from optimiser.solver import SolveStatus

    def read(h: Any, is_mip: bool, seconds: float) -> Any:
        run = real(h, is_mip, seconds)
        if not is_mip or run.values is None:
            return run
        sense = h.getObjectiveSense()[1]
        bound = math.inf if sense == type(sense).kMaximize else -math.inf
        return dataclasses.replace(run, status=SolveStatus.TIME_LIMIT, bound=bound, gap=None)

    read.no_proven_bound = True  # type: ignore[attr-defined]
    return read


def install(monkeypatch: Any = None) -> None:
    """Every MIP run from now on reports no proven bound (through `monkeypatch` when given)."""
    from optimiser import highs_model

    if getattr(highs_model._read_run, "no_proven_bound", False):
        return
    patched = _no_proven_bound(highs_model._read_run)
    if monkeypatch is None:
        highs_model._read_run = patched
    else:
        monkeypatch.setattr(highs_model, "_read_run", patched)
