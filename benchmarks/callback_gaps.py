"""Could highspy's interrupt callbacks hold a run's wall-clock end where HiGHS's own time_limit
does not (issue 9, "Time budgets")? This traces every HiGHS run of one `triage` command.

Each run made through optimiser/solver.py (HighsModel.solve) gets, for the trace only, a
subscriber on cbSimplexInterrupt, cbIpmInterrupt and cbMipInterrupt that records when HiGHS
calls it (it never interrupts). Per run: its wall-clock limit, how long it took, how many
callbacks came and the longest stretch without one, and, for a run that overran its limit,
the first callback after the limit: the earliest moment a deadline guard in the callback could
have stopped it. If that moment is the run's own end, a guard gains nothing.

    .venv/bin/python benchmarks/callback_gaps.py solve <instance> -c threshold:tau=0.2 \
        --time-limit 10 --json
(any `triage` command line; the trace is printed on standard error at exit, one line a run
that took more than 0.2 s or overran, and written as JSON lines to $CALLBACK_TRACE if set).

How often HiGHS calls back (HiGHS 1.13.1-1.15.1 source): the simplex from HEkk::bailout,
after every iteration and every rebuild, one branch after its own time_limit check; branch-and-
bound from HighsMipSolverData::checkLimits, just before its own time_limit check (never in
sub-MIPs); the IPM from the IPX and HiPO control loops (not used here). The LP solver inside
branch-and-bound is a separate Highs object without the callback, and presolve calls none.
Findings: BENCHMARKS.md, "Deadline guard through highspy's interrupt callbacks".
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS: list[dict[str, Any]] = []
KINDS = {1: "simplex", 2: "ipm", 6: "mip"}


def install() -> None:
    """Wrap HighsModel.solve so that every run is traced (a limited MIP runs on a copy of the
    model in a thread, optimiser/guarded_run.py: the copy is the Highs object traced)."""
    from optimiser import guarded_run, solver

    original = solver.HighsModel.solve
    original_guarded = guarded_run.run_with_deadline
    current: dict[str, Any] = {}

    def guarded(runner: Any, *args: Any, **kwargs: Any) -> Any:
        current["highs"] = runner
        for cb in (runner.cbSimplexInterrupt, runner.cbIpmInterrupt, runner.cbMipInterrupt):
            cb.subscribe(current["record"])
        if current.get("log"):
            for name in ("output_flag", "log_dev_level"):
                runner.setOptionValue(name, current["highs_options"][name])
            runner.setOptionValue("log_to_console", False)
            runner.cbLogging.subscribe(current["log"])
        return original_guarded(runner, *args, **kwargs)

    guarded_run.run_with_deadline = guarded  # type: ignore[assignment]

    def traced(self: Any, time_limit: float | None = None, **kwargs: Any) -> Any:
        limit = time_limit if time_limit is not None else self.options.time_limit
        calls: list[tuple[float, int, float | None]] = []  # wall, type, HiGHS's MIP clock

        def record(event: Any) -> None:
            kind = int(event.callback_type)
            mip_clock = float(event.data_out.running_time) if kind == 6 else None
            calls.append((time.perf_counter(), kind, mip_clock))

        h = self.highs
        for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
            cb.subscribe(record)
        log_path = os.environ.get("CALLBACK_TRACE_LOG")  # HiGHS's log, each line's wall time
        lines: list[tuple[float, str]] = []

        def log(event: Any) -> None:
            lines.append((time.perf_counter(), str(event.message)))

        if log_path:
            h.setOptionValue("output_flag", True)
            h.setOptionValue("log_to_console", False)
            h.setOptionValue("log_dev_level", 1)
            h.cbLogging.subscribe(log)
        current.clear()
        current.update(highs=h, record=record, log=log if log_path else None,
                       highs_options={"output_flag": True, "log_dev_level": 1})
        t0 = time.perf_counter()
        try:
            return original(self, time_limit, **kwargs)
        finally:
            t1 = time.perf_counter()
            for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
                cb.unsubscribe(record)
            # the Highs object that ran (the guarded copy, which an abandoned run still holds)
            ran = current.get("highs", h)
            if log_path:
                h.cbLogging.unsubscribe(log)
                with open(log_path, "a", encoding="utf-8") as out:
                    out.write(f"--- run (limit {limit})\n")
                    stamps = sorted([(t, "  [callback]\n") for t, _, _ in calls] + lines)
                    out.writelines(f"{t - t0:8.3f} {text}" for t, text in stamps)
            RUNS.append(summary(t0, t1, limit, calls, highs_time_limit(ran),
                                mip=self.is_mip, status=str(ran.getModelStatus()),
                                iterations=int(ran.getInfo().simplex_iteration_count)))

    solver.HighsModel.solve = traced  # type: ignore[method-assign]
    atexit.register(report)


def highs_time_limit(h: Any) -> float:
    """The time_limit option set for the run (highspy 1.13-1.15 return (status, value))."""
    value = h.getOptionValue("time_limit")
    return float(value[-1] if isinstance(value, tuple) else value)


def summary(t0: float, t1: float, limit: float | None,
            calls: list[tuple[float, int, float | None]], highs_limit: float, *,
            mip: bool, status: str, iterations: int) -> dict[str, Any]:
    """One run. HiGHS's own stop: branch-and-bound checks its clock right after calling back,
    so at the first MIP callback whose clock reading has reached the limit; the simplex checks
    its clock just before calling back (and calls back only if not stopping), so at the run's
    end. A guard could stop earlier only at a callback after the wall-clock limit at which
    HiGHS's own check does not fire."""
    times = [t0] + [t for t, _, _ in calls] + [t1]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    longest = max(range(len(gaps)), key=gaps.__getitem__)
    end = None if limit is None else t0 + limit
    highs_stop = next((t for t, _, c in calls if c is not None and c >= highs_limit), t1)
    guard_stop = next((t for t, _, c in calls if end is not None and t > end
                       and (c is None or c < highs_limit)), None)
    counts: dict[str, int] = {}
    for _, kind, _ in calls:
        counts[KINDS.get(kind, str(kind))] = counts.get(KINDS.get(kind, str(kind)), 0) + 1
    lags = [t - t0 - c for t, _, c in calls if c is not None]
    return {
        "mip": mip,
        "status": status,
        "limit": limit,
        "seconds": t1 - t0,
        "overrun": None if end is None else t1 - end,
        "iterations": iterations,
        "calls": counts,
        "longest_gap": gaps[longest],
        "longest_gap_from": times[longest] - t0,
        "highs_stop": highs_stop - t0,
        "after_highs_stop": t1 - highs_stop,  # postsolve and clean-up after HiGHS's decision
        "guard_stop": None if guard_stop is None else guard_stop - t0,
        "guard_would_save": 0.0 if guard_stop is None else max(0.0, highs_stop - guard_stop),
        # wall time of the run not on HiGHS's branch-and-bound clock (it starts late)
        "mip_clock_lag": max(lags) if lags else None,
    }


def report() -> None:
    path = os.environ.get("CALLBACK_TRACE")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            for run in RUNS:
                out.write(json.dumps(run) + "\n")
    shown = [r for r in RUNS if r["seconds"] > 0.2 or (r["overrun"] or 0) > 0.05]
    print(f"[callback trace] {len(RUNS)} HiGHS runs; {len(shown)} shown", file=sys.stderr)
    for r in shown:
        print("[callback trace] " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                                for k, v in r.items()}), file=sys.stderr)


if __name__ == "__main__":
    install()
    from optimiser.cli import main

    sys.argv = ["triage", *sys.argv[1:]]
    main()
