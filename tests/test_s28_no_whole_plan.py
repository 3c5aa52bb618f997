"""A plan whose LP relaxation solves but from which no whole plan meeting the constraints is
rounded, on a model too large for branch-and-bound, is the method's own limit
(`iteration_limit`, the reason and the LP's proven bound stated), not `error` (a failed run):
us-states-apr2020 with max_coverage_gap:gap=0 and a share cap said "status: error / no plan
found (error)" with no explanation (session 28)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from optimiser.constraints import parse_constraint
from optimiser.multiperiod import load_multiperiod, plan

REPO = Path(__file__).resolve().parents[1]
ASK = ["max_coverage_gap:gap=0", "max_share_of_supply:share=0.2"]


def test_no_whole_plan_rounded_is_the_methods_limit_with_its_reason() -> None:
    inst = load_multiperiod(REPO / "instances" / "us-states-apr2020")
    specs = [parse_constraint(text) for text in ASK]
    result = plan(inst, specs, price_of_fairness=False)
    assert str(result.status) == "iteration_limit"
    assert result.lives_saved is None
    assert result.explanation is not None
    assert "no whole plan rounded from the LP relaxation meets the constraints" in (
        result.explanation
    )
    assert "108,781 integer columns" in result.explanation
    # the LP relaxation's bound is a proven one: at most the bound without the constraints
    free = plan(inst, [], price_of_fairness=False)
    assert result.objective_bound is not None and free.lives_saved is not None
    assert result.objective_bound <= free.lives_saved + 1e-6


def test_the_cli_answers_exit_4_naming_the_limit() -> None:
    args = [sys.executable, "-m", "optimiser", "plan", "instances/us-states-apr2020", "--no-price"]
    for text in ASK:
        args += ["-c", text]
    run = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 4, run.stderr
    assert "status: iteration_limit" in run.stdout
    assert "no plan found (iteration_limit)" in run.stderr
    assert "Traceback" not in run.stderr
