"""`--time-limit` is a budget for the whole command, the process's start-up, loading and
writing included (issue 9: `triage solve --time-limit 10` ran 64 s on 1,500 regions under a
threshold, `--time-limit 3` 17-37 s; under tau=0.2 HiGHS's implied-bound separator ran on
unclocked and the command took 11.5-11.9 s of 11 until the deadline guard, optimiser/
guarded_run.py). The program is timed from outside, as a user would.

Under load the allowance max(1 s, 10%) is applied to the time the command was given a core:
its wall time less the time its threads waited on the run queue for one (the kernel's
schedstat, sampled every 20 ms; threads that ended early and the last 20 ms are not counted,
so the measure errs towards too long). An unclocked solver stretch is time on a core and still
counts in full: the test can fail on it. On a busy machine the watchdog may end the program
at its deadline with no answer (exit 4), which is allowed there (`ended_by_watchdog`).
`triage plan` is measured by benchmarks/budgets_bench.py, not here: on 300 x 90 under
threshold(tau=0) it overran (48 s of 30) and once answered "infeasible" under a 10 s limit
(open, for the planner's track)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from optimiser.generator import RegionalSpec, generate_regional

ROOT = Path(__file__).resolve().parents[1]
# long enough to hold the program's start-up (imports take 2-4 s when both cores are busy)
BUDGET = 10.0
SLACK = max(1.0, 0.1 * BUDGET)


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Path:
    return generate_regional(RegionalSpec(regions=1500, seed=0), tmp_path_factory.mktemp("big"))


def timed(*args: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """The command's result, its wall seconds, and the seconds its threads waited for a core."""
    waited: dict[str, float] = {}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "optimiser", *args], stdout=out, stderr=err, text=True, cwd=ROOT
        )
        while proc.poll() is None:
            waited.update(run_queue_waits(proc.pid))
            time.sleep(0.02)
        took = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    return done, took, sum(waited.values())


WATCHDOG_TOLERANCE = 0.5  # tests/test_budget_watchdog.py
LOADED = 0.2  # the share of its wall time a program waited for a core on a busy machine


def ended_by_watchdog(done: subprocess.CompletedProcess[str], took: float, waited: float,
                      budget: float) -> bool:
    """Did the program's watchdog end it at its deadline with no answer (exit 4, nothing
    written: optimiser/budget_watchdog.py)? Allowed only on a busy machine (it waited for a
    core LOADED of its time): on a free one the command's own budget must give an answer."""
    if done.returncode != 4 or "found (time_limit): raise --time-limit (its" not in done.stderr:
        return False
    assert took <= budget + WATCHDOG_TOLERANCE, (took, done.stderr[-2000:])
    assert waited >= LOADED * took, (took, waited, done.stderr[-2000:])
    return True


def run_queue_waits(pid: int) -> dict[str, float]:
    """Seconds each thread of `pid` has waited on the run queue (Linux schedstat; {} where the
    kernel does not say: then nothing is discounted)."""
    waits = {}
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(OSError, ValueError, IndexError),
                open(f"/proc/{pid}/task/{task}/schedstat") as handle,
            ):
                waits[task] = int(handle.read().split()[1]) / 1e9
    return waits


@pytest.mark.slow
@pytest.mark.parametrize(("command", "tau"), [("solve", 100), ("compare", 100), ("solve", 0.2)])
def test_the_command_ends_within_its_budget(large, command, tau, tmp_path) -> None:
    args = [
        command,
        str(large),
        "-c",
        f"threshold:tau={tau}",
        "--time-limit",
        str(BUDGET),
        "--json",
    ]
    if command == "solve":
        args += ["--out", str(tmp_path / "out")]
    done, took, waited = timed(*args)
    assert took - waited < BUDGET + SLACK, (took, waited, done.stderr[-2000:])
    if ended_by_watchdog(done, took, waited, BUDGET):
        assert not (tmp_path / "out").exists()
        return
    assert done.returncode == 0, done.stderr[-2000:]
    if command == "solve":
        answer = json.loads(done.stdout)
        # on a quiet machine HiGHS may prove the optimum just inside the budget (9.4 s of 10)
        assert answer["status"] in ("time_limit", "optimal"), answer["status"]
        assert answer["lives_saved"] is not None
        if answer["status"] == "optimal":
            assert answer["solver"]["gap"] <= 0.005 / answer["lives_saved"] + 1e-12
        assert (tmp_path / "out" / "result.json").exists()
