"""The time limit of one SAA run (optimiser.stochastic.replications) inside each of its tasks.

The run's end is `stop_at`, epoch seconds (time.time()): the tasks may run in other processes
(optimiser.executor), where a time.perf_counter() reading means nothing. Every plan the run
makes gets what is left of it as its own deadline: each replication's two-stage plan and each
recourse re-plan (before, the re-plans ran without a limit and the time was only looked at
between scenarios: `saa(..., time_limit=4)` on italy-2020-wave1 ended after 4.81 s). A plan
cut short by it says status time_limit; the run then stops (`SaaTimeLimit`): no bounds are
reported from re-plans that are not optimal.

A plan is not started when what is left cannot hold its floor, plus `MIN_PLAN_SECONDS`: the
longest a plan of its kind in this process and run spent where no deadline shortens it (a
replication: all but HiGHS's solves, i.e. building, translating, settling the patient flow
by the solver-free repair; a re-plan: its build, translate and fallback plan plus how far it
ran past its limit). It would end past the limit with nothing to show (on italy-2020-wave1 a
replication started 0.04 s before the end took 0.84 s): the run stops at once instead. What
can still come past the limit is the first plan of a kind in a process (no floor known yet)
and the statistics after the last plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from optimiser.errors import TriageError
from optimiser.stochastic.compare_budget import MIN_PLAN_SECONDS, OutOfTime

R = TypeVar("R")

STOPPED = (
    "SAA stopped at its time limit before every replication and scenario was scored; "
    "no bounds are reported (give a longer time limit, or fewer or smaller replications)"
)


class SaaTimeLimit(TriageError):
    """The run's time limit passed before every replication and scenario was scored: no
    bounds are reported (exit code 4, a 504 in the service)."""


def remaining(stop_at: float | None) -> float | None:
    """Seconds left before `stop_at` (None: no limit); SaaTimeLimit when none are."""
    if stop_at is None:
        return None
    left = stop_at - time.time()
    if left <= 0:
        raise SaaTimeLimit(STOPPED)
    return left


# the longest floor seen in this process, per run (its stop_at) and kind of plan: a plan of
# that kind is not started with less than this (plus MIN_PLAN_SECONDS) left
_FLOORS: dict[tuple[float, str], float] = {}
_KEEP = 16  # runs remembered


def floor(stop_at: float, kind: str) -> float:
    return _FLOORS.get((stop_at, kind), 0.0)


def note_floor(stop_at: float, kind: str, seconds: float) -> None:
    key = (stop_at, kind)
    _FLOORS[key] = max(_FLOORS.get(key, 0.0), seconds)
    while len(_FLOORS) > _KEEP:
        del _FLOORS[next(iter(_FLOORS))]


def startable(stop_at: float | None, kind: str) -> float | None:
    """Seconds left for the next plan of `kind` (None: no limit); SaaTimeLimit when they
    cannot hold the longest floor seen (the run would end past its limit with nothing)."""
    left = remaining(stop_at)
    if stop_at is None or left is None:
        return None
    seen = floor(stop_at, kind)
    if seen and left < seen + MIN_PLAN_SECONDS:
        raise SaaTimeLimit(STOPPED)
    return left


def replication_done(stop_at: float | None, result: Any, took: float) -> None:
    """A replication's floor: all it did outside HiGHS's solves (build, translate, settling
    the patient flow, extraction), which no deadline shortens."""
    if stop_at is not None:
        solve = float((getattr(result, "timings", {}) or {}).get("solve", 0.0))
        note_floor(stop_at, "replication", max(0.0, took - solve))


class RecourseBudget:
    """What recourse (optimiser.stochastic.compare) asks of a budget, for SAA's re-plans: each
    re-plan gets all that is left (an SAA run needs every re-plan optimal, none is worth
    more than another); OutOfTime when its floor (the longest set-up, build, translate and
    fallback plan, plus how far a re-plan ran past its limit) cannot fit."""

    def __init__(self, stop_at: float) -> None:
        self.stop_at = stop_at

    @property
    def limited(self) -> bool:
        return True

    def run(self, weight: float, make: Callable[[float | None], R]) -> R:
        try:
            left = startable(self.stop_at, "recourse")
        except SaaTimeLimit:
            raise OutOfTime from None
        started = time.perf_counter()
        result = make(left)
        took = time.perf_counter() - started
        timings: dict[str, Any] = getattr(result, "timings", {}) or {}
        setup = sum(float(timings.get(k, 0.0)) for k in ("build", "translate", "fallback"))
        note_floor(self.stop_at, "recourse", setup + max(0.0, took - (left or 0.0)))
        return result


__all__ = [
    "STOPPED",
    "RecourseBudget",
    "SaaTimeLimit",
    "remaining",
    "replication_done",
    "startable",
]
