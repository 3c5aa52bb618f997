"""check-plan replays a re-plan's executed moves as facts: the dispatch rules (batch size,
shipments per day) bind only the rows from the re-plan's first day (probe6's defect 1: a plan
`triage plan --executed ... --batch-size 2` wrote was refused by check-plan because an
executed row of 3 units was "not a multiple of the batch size")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pandas as pd
import pytest

from optimiser.multiperiod.check import check_plan, recorded_context
from optimiser.multiperiod.instance import load_multiperiod

Run = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module")
def replanned(tmp_path_factory: pytest.TempPathFactory, run_cli: Run) -> tuple[Path, Path]:
    """A generated instance, a plan's first day as executed moves (one of them an odd number
    of units), and the re-plan under a batch size of 2 that keeps them."""
    root = tmp_path_factory.mktemp("today")
    instance, first = root / "g", root / "first"
    done = run_cli("generate", instance, "--regions", 5, "--days", 8, "--depots", 2, "--seed", 3)
    assert done.returncode == 0, done.stderr
    done = run_cli("plan", instance, "--out", first)
    assert done.returncode == 0, done.stderr
    manifest = pd.read_csv(first / "manifest.csv")
    executed = manifest[manifest["day"] == 0]
    assert (executed["units"] % 2).any(), "the case needs an odd executed shipment"
    executed.to_csv(root / "executed.csv", index=False)
    replan = root / "replan"
    done = run_cli(
        "plan", instance, "--executed", root / "executed.csv", "--batch-size", 2, "--out", replan
    )
    assert done.returncode == 0, done.stderr
    return instance, replan


def test_check_plan_accepts_the_replan_it_wrote(replanned: tuple[Path, Path], run_cli: Run) -> None:
    instance, replan = replanned
    done = run_cli("check-plan", instance, replan / "plan.csv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "batch_size" not in done.stdout
    record = recorded_context(replan / "plan.csv")
    assert record is not None and record.today == 1


def test_the_rules_still_bind_from_today(replanned: tuple[Path, Path]) -> None:
    instance_dir, replan = replanned
    instance = load_multiperiod(instance_dir).with_settings(batch_size=2)
    plan = pd.read_csv(replan / "plan.csv")
    # the executed rows alone replayed as if planned (today 0): the batch rule fires
    as_planned = check_plan(instance, plan, today=0)
    assert any(v["rule"] == "batch_size" for v in as_planned.violations)
    assert check_plan(instance, plan, today=1).ok
    # an odd shipment on or after today is still refused
    odd = plan[plan["kind"] == "ship"].iloc[[0]].copy()
    lead = int(odd["arrives"].iloc[0] - odd["day"].iloc[0])
    odd["day"], odd["arrives"], odd["units"] = 1, 1 + lead, 1
    tampered = pd.concat([plan, odd], ignore_index=True)
    broken = check_plan(instance, tampered, today=1)
    assert any(v["rule"] == "batch_size" and v["day"] >= 1 for v in broken.violations), (
        broken.violations
    )
