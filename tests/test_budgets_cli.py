"""`--time-limit` is a budget for the whole command, the process's start-up, loading and
writing included (issue 9: `triage solve --time-limit 10` ran 64 s on 1,500 regions under a
threshold, `--time-limit 3` 17-37 s). The program is timed from outside, as a user would.
threshold(tau=100), not the issue's tau=0.2: under tau=0.2 HiGHS's root node can run on for
seconds past its limit when the cores are busy (BENCHMARKS.md, "Budgets at every entry
point"; open). `triage plan` is measured by benchmarks/budgets_bench.py, not here: on 300 x 90
under threshold(tau=0) it overran (48 s of 30) and once answered "infeasible" under a 10 s
limit (open, for the planner's track)."""

from __future__ import annotations

import json
import subprocess
import sys
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


def timed(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optimiser", *args], capture_output=True,
                          text=True, cwd=ROOT)
    return done, time.perf_counter() - started


@pytest.mark.slow
@pytest.mark.parametrize("command", ["solve", "compare"])
def test_the_command_ends_within_its_budget(large, command, tmp_path) -> None:
    args = [command, str(large), "-c", "threshold:tau=100", "--time-limit", str(BUDGET), "--json"]
    if command == "solve":
        args += ["--out", str(tmp_path / "out")]
    done, took = timed(*args)
    assert took < BUDGET + SLACK, (took, done.stderr[-2000:])
    assert done.returncode == 0, done.stderr[-2000:]
    if command == "solve":
        answer = json.loads(done.stdout)
        # on a quiet machine HiGHS may prove the optimum just inside the budget (9.4 s of 10)
        assert answer["status"] in ("time_limit", "optimal"), answer["status"]
        assert answer["lives_saved"] is not None
        if answer["status"] == "optimal":
            assert answer["solver"]["gap"] <= 0.005 / answer["lives_saved"] + 1e-12
        assert (tmp_path / "out" / "result.json").exists()
