"""Making HiGHS objects, and what is learnt about HiGHS once per process.

`new_highs`: a silent highspy.Highs (the banner highspy prints once per process is kept off
standard output); `run_time_limit`: the `time_limit` option that gives the next run its
seconds, after measuring once per process and kind how this HiGHS counts its clock
(`_limit_counts_every_run`); `solver_versions`: the HiGHS, Pyomo and highspy versions, looked
up once per process. Part of the solver layer that optimiser/solver.py gathers (docs/model.md,
"Solver path").
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import threading
import time

import highspy
import numpy as np

INF = math.inf


def new_highs() -> highspy.Highs:
    """A silent highspy.Highs object.

    highspy 1.16 prints its banner on standard output the first time a process constructs a
    Highs object, before any option can be set, which would corrupt `--json` output. The
    banner is printed once per process, so the first construction runs with file descriptor 1
    pointed at /dev/null; later ones need nothing.
    """
    global _banner_shown
    with _banner_lock:
        if not _banner_shown:
            _banner_shown = True
            with contextlib.suppress(OSError, ValueError):  # no stdout to protect
                sys.stdout.flush()
            try:
                saved = os.dup(1)
            except OSError:  # descriptor 1 is closed: nothing can reach standard output
                saved = -1
            try:
                if saved >= 0:
                    with open(os.devnull, "wb") as devnull:
                        os.dup2(devnull.fileno(), 1)
                highs = highspy.Highs()
            finally:
                if saved >= 0:
                    os.dup2(saved, 1)
                    os.close(saved)
        else:
            highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    return highs


_banner_lock = threading.Lock()
_banner_shown = False

NODES_UNLIMITED = 2**31 - 1  # HiGHS's default mip_max_nodes (kHighsIInf)


def run_time_limit(highs: highspy.Highs, seconds: float | None, *, mip: bool) -> float:
    """The `time_limit` option that lets the next run of `highs` take `seconds` (wall clock).

    What HiGHS compares its time_limit with differs by solver and version: measured on
    highspy 1.12.0 and 1.15.1, the simplex compares it with the run time of the Highs object
    summed over every run (ERGO-Code/HiGHS#1331, #1477; highspy has no zeroAllClocks), while
    branch-and-bound compares it with the current run's time only. Taking either reading for
    both made re-solved LPs stop at once or per-run MIP limits grow 1, 2, 4, 8 s. So the
    reading is measured once per process and kind (`_limit_counts_every_run`), and the limit
    set accordingly."""
    if seconds is None or not math.isfinite(seconds):
        return INF
    seconds = max(float(seconds), 1e-3)
    if _limit_counts_every_run(mip):
        return float(highs.getRunTime()) + seconds
    return seconds


@functools.cache
def _limit_counts_every_run(mip: bool) -> bool:
    """Does this HiGHS compare time_limit with the time of every run of a Highs object so far
    (True) or with the current run's (False), for MIPs (`mip`) or LPs?

    A probe model runs once (stopped by a short limit, or solved), so the object's clock holds
    t > 0; then, from scratch, a second run gets time_limit = t / 2. Counted over every run,
    the limit is already spent and the run stops at once; counted per run, HiGHS cannot stop
    it for time before t / 2 of wall clock has passed, and it works (simplex iterations) in
    that time. A run that stopped after t / 2 without any work says neither (a loaded machine
    kept HiGHS from starting): it is run again, at most three times. About 3 ms for LPs and
    30 ms for MIPs, once per process."""
    rng = np.random.default_rng(7)
    n, m = (30, 6) if mip else (400, 6)
    weights = rng.integers(20, 100, size=(m, n)).astype(float)
    values = rng.integers(20, 100, size=n).astype(float)
    h = new_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    matrix = _csc(weights)
    h.passModel(
        n,
        m,
        int(matrix[0][-1]),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize),
        0.0,
        values,
        np.zeros(n),
        np.ones(n),
        np.full(m, -INF),
        weights.sum(axis=1) / 2,
        matrix[0],
        matrix[1],
        matrix[2],
        np.ones(n, dtype=np.int32) if mip else np.zeros(n, dtype=np.int32),
    )
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("time_limit", 0.02)
    h.run()
    spent = float(h.getRunTime())
    idle_every_time = True
    for _trial in range(3):
        h.clearSolver()
        h.setOptionValue("time_limit", spent / 2)
        t0 = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - t0
        stopped = h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
        info = h.getInfo()
        idle = info.simplex_iteration_count <= 0 and (not mip or info.mip_node_count <= 0)
        if not stopped or (not idle and seconds >= spent / 2):
            return False  # it worked for its own t / 2: the limit counts this run only
        if seconds < spent / 4:
            return True  # stopped at once: the limit was spent before the run began
        # Stopped after t / 2 without any work: a loaded machine kept HiGHS from starting
        # before its own clock passed t / 2 (either reading); run again.
        idle_every_time = idle_every_time and idle
    return idle_every_time


def _csc(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = dense.shape
    start = np.arange(0, rows * cols + 1, rows, dtype=np.int32)
    index = np.tile(np.arange(rows, dtype=np.int32), cols)
    return start, index, dense.T.ravel().astype(float)


def solver_versions() -> dict[str, str]:
    """HiGHS, Pyomo and highspy versions, looked up once per process (a copy each call)."""
    return dict(_solver_versions())


@functools.cache
def _solver_versions() -> dict[str, str]:
    return {
        "highs": new_highs().version(),
        "pyomo": _package_version("pyomo"),  # from its metadata: no need to import Pyomo
        "highspy": _package_version("highspy"),
    }


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
