"""A HiGHS MIP run whose caller gets its answer at the wall-clock deadline, however long HiGHS
itself runs on (issue 9, "Time budgets").

Why from outside: HiGHS 1.13-1.15 has stretches with no clock check and no callback, so neither
its time_limit nor an interrupt callback can stop them. On 1,500 regions under
threshold(tau=0.2) the implied-bound separator of the first root cut round
(HighsImplications::separateImpliedBounds) ran 3.9-8.5 s unclocked and `triage solve
--time-limit 10` took 11.5-11.9 s (BENCHMARKS.md, "Deadline guard through highspy's interrupt
callbacks"); no option turns that separator off in the supported range.

So a limited MIP runs on its own copy of the model (`solver.HighsModel.solve` makes it: about
1 ms on 1,500 regions) in a daemon thread; highspy releases the GIL while HiGHS runs. HiGHS's own
time_limit is the run's limit less `GRACE` (`highs_seconds`: what it needs to stop once it has
decided to falls within the limit, not after it), and the caller waits until the run's limit,
no longer (before, it waited the limit plus GRACE: a `POST /v1/solve` with a 1 s budget took
1.21-1.25 s of solver time at load 4). If HiGHS has not returned by then, the caller answers
with what the run had found: the last improving solution (kCallbackMipImprovingSolution, in the
original model's columns) or the feasible start it was given, and the dual bound of the last
callback; status time_limit, never optimal. The thread is abandoned with its copy, so the
caller's own Highs object is never touched by two threads. HiGHS stops it by itself at its next
clock check (its time_limit is set as usual); until then it uses one core.

Leaving the process: the `triage` program exits with os._exit once its output is written
(optimiser.cli.common.end_process: the thread is not waited for); any other process waits at
exit for its abandoned runs (at most `EXIT_WAIT` s), because tearing the interpreter down under a
running HiGHS thread can crash it.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# How long before a run's limit HiGHS is told to stop, so that its winding down (postsolve, its
# KKT check) fits in the limit; at most GRACE_SHARE of the limit. HiGHS needs 0.24-0.43 s after
# deciding to stop on 1,500 regions under threshold(tau=0.2), and 0.02-0.1 s under tau=100; when
# it needs more, the caller answers at the limit with what the callbacks brought (the incumbent
# and bound are already known from them, and the status is time_limit either way).
GRACE = 0.2
GRACE_SHARE = 0.2
# the longest wait a thread join takes (`--time-limit 1e300`: a longer one overflowed time_t,
# "internal error: OverflowError"); 31 years is no limit in practice
LONGEST_JOIN = 1e9
EXIT_WAIT = 120.0

_abandoned: list[threading.Thread] = []
_lock = threading.Lock()


@dataclass(frozen=True)
class Found:
    """What an abandoned run had found: its best point (None: none), that point's objective,
    and the dual bound HiGHS had proven (None: none yet)."""

    values: np.ndarray | None
    objective: float | None
    bound: float | None


class Incumbent:
    """Collects a run's improving solutions and dual bound from HiGHS's callbacks (they arrive
    on the run's thread)."""

    def __init__(self, start: np.ndarray | None, start_objective: float | None) -> None:
        self._lock = threading.Lock()
        self.values = None if start is None else np.array(start, dtype=float)
        self.objective = start_objective if start is not None else None
        self.bound: float | None = None

    def improved(self, event: Any) -> None:
        out = event.data_out
        values = np.array(out.mip_solution, dtype=float)
        with self._lock:
            self.values = values
            self.objective = float(out.objective_function_value)
        self.progress(event)

    def progress(self, event: Any) -> None:
        bound = float(event.data_out.mip_dual_bound)
        if math.isfinite(bound):
            with self._lock:
                self.bound = bound

    def found(self) -> Found:
        with self._lock:
            values = None if self.values is None else self.values.copy()
            return Found(values, self.objective, self.bound)


def highs_seconds(wall_seconds: float) -> float:
    """HiGHS's time_limit for a guarded run whose caller answers after `wall_seconds`: that
    less GRACE (at most GRACE_SHARE of it), so HiGHS stops in time to wind down."""
    wall = max(0.0, wall_seconds)
    return max(1e-3, wall - min(GRACE, GRACE_SHARE * wall))


def run_with_deadline(
    runner: Any,
    wall_seconds: float,
    incumbent: Incumbent,
    run: Callable[[Any], Any] | None = None,
) -> tuple[bool, float]:
    """Run `runner` (a highspy.Highs, its time_limit set by `highs_seconds(wall_seconds)`) in a
    thread; wait at most `wall_seconds`.
    Returns (finished, seconds waited). Not finished: the thread is abandoned (see
    `abandoned_runs`) and `incumbent` holds what it had found. `run`: what runs in the thread
    (default runner.run; tests put a stand-in for a stalled HiGHS here)."""
    runner.cbMipImprovingSolution.subscribe(incumbent.improved)
    runner.cbMipInterrupt.subscribe(incumbent.progress)
    call = run if run is not None else _run
    thread = threading.Thread(target=call, args=(runner,), name="highs-run", daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(min(max(0.0, wall_seconds), LONGEST_JOIN))
    waited = time.perf_counter() - started
    if thread.is_alive():
        with _lock:
            _abandoned.append(thread)
        return False, waited
    return True, waited


def _run(runner: Any) -> None:
    runner.run()


def abandoned_runs() -> int:
    """How many abandoned HiGHS runs of this process are still running."""
    with _lock:
        _abandoned[:] = [t for t in _abandoned if t.is_alive()]
        return len(_abandoned)


def forget_abandoned_runs() -> None:
    """The process is about to end with os._exit: nothing waits for the abandoned runs."""
    with _lock:
        _abandoned.clear()


def wait_for_abandoned_runs(timeout: float = EXIT_WAIT) -> bool:
    """Wait (at most `timeout` s in all) until every abandoned run has ended; True if all did."""
    end = time.perf_counter() + timeout
    with _lock:
        threads = list(_abandoned)
    for thread in threads:
        thread.join(max(0.0, end - time.perf_counter()))
    return abandoned_runs() == 0


atexit.register(wait_for_abandoned_runs)
