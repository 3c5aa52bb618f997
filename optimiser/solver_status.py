"""How a solve ends and what it is asked: the status discipline every engine follows.

`SolveStatus` (a time limit is never reported as optimal; a limit the user never set is never
reported as a time limit), `stop_status` for work above a single run, the limits a request's
runs stopped at (`note_limit`, `limits_reached`, `limit_explanation`), the typed solver
settings (`SolverOptions`) and one run's answer (`SolverRun`). No HiGHS here; part of the solver
layer that optimiser/solver.py gathers (docs/model.md, "Solver path").
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optimiser.deadline import Deadline


class SolveStatus(StrEnum):
    """How a run ended. A run stopped before proving its answer is TIME_LIMIT only when the
    user's time limit stopped it; ITERATION_LIMIT when the method's own limits of work did
    (column-generation rounds, branch-and-bound nodes, HiGHS iterations: what Pyomo's
    contrib.solver calls TerminationCondition.iterationLimit, its one condition for every
    limit that is not time). Both come with the best answer found and its proven gap."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"

    @property
    def stopped(self) -> bool:
        """Stopped at a limit (time, or the method's own) before proving its answer."""
        return self in STOPPED


STOPPED = frozenset({SolveStatus.TIME_LIMIT, SolveStatus.ITERATION_LIMIT})


def stop_status(deadline: Deadline | None, *runs: object) -> SolveStatus:
    """The status of work that stopped before proving its answer: TIME_LIMIT when the user's
    time limit stopped it (its `deadline` has passed, or one of the `runs`' statuses says a
    time limit stopped it), else ITERATION_LIMIT (the method's own limits: no time limit was
    set, or it was not reached). A time limit is never reported as optimal; a limit the user
    never set is never reported as a time limit."""
    if SolveStatus.TIME_LIMIT in runs or (deadline is not None and deadline.expired()):
        return SolveStatus.TIME_LIMIT
    return SolveStatus.ITERATION_LIMIT


# What stopped the work of the current request at its own limits (`note_limit`), in words, for
# the result's explanation (`limits_reached`); per thread and task, so concurrent requests in
# one process keep apart.
_LIMITS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "triage_limits", default=None
)


def note_limit(what: str) -> None:
    """Record that a run stopped at its own limit `what` (e.g. "branch-and-bound node limit
    (5,000 nodes)"), for the explanation of an ITERATION_LIMIT result."""
    seen = _LIMITS.get()
    if seen is not None and what not in seen:
        seen.append(what)


@contextlib.contextmanager
def limits_reached() -> Iterator[list[str]]:
    """Collect, in order, the limits `note_limit` records inside the block (nested blocks
    share the outer list)."""
    seen = _LIMITS.get()
    if seen is not None:
        yield seen
        return
    seen = []
    token = _LIMITS.set(seen)
    try:
        yield seen
    finally:
        _LIMITS.reset(token)


def limit_explanation(
    status: object,
    limits: Iterable[str],
    gap: float | None,
    bound: float | None,
    what: str,
    found: bool = True,
) -> str | None:
    """The explanation of an ITERATION_LIMIT result: the limits that stopped it and the gap
    and bound it proved (`what`: "plan", "allocation"; `found`: one was); None for any other
    status."""
    if status != SolveStatus.ITERATION_LIMIT:
        return None
    named = "; ".join(limits) or "the method's own limits of work"
    proof = (
        "no bound was proved"
        if bound is None or not math.isfinite(bound)
        else f"proven objective bound {bound:,.4f}"
        + ("" if gap is None or not math.isfinite(gap) else f", gap {100 * gap:.4f}%")
    )
    return (
        f"iteration limit: no time limit stopped this {what}; the method's own limits did: "
        f"{named}. Not proved optimal: {proof}. "
        + (f"The best {what} found is reported." if found else f"No {what} was found.")
    )


@dataclass(frozen=True)
class SolverOptions:
    """Typed solver settings. Deterministic by default: one thread, fixed seed."""

    time_limit: float | None = None
    # Absolute gap control: every optimum is proved to within half of PRICE_PRECISION (0.01
    # lives) of its bound, so a price (a difference of two optima) is exact to 0.01 lives.
    # The relative gap is off: at 1e-6 it let L* = 7,730 stop 0.008 lives short.
    mip_rel_gap: float = 0.0
    mip_abs_gap: float = 0.005
    threads: int = 1
    seed: int = 0
    log: bool = False


@dataclass(frozen=True)
class SolverRun:
    """One HiGHS solve: status, objective, best bound, relative gap, seconds and values."""

    status: SolveStatus
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    values: np.ndarray | None

    @property
    def has_solution(self) -> bool:
        return self.values is not None
