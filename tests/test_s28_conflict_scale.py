"""The planner's share-cap conflict explanation at scale (session 28): its regions' least X_r
were 5,000-node MIPs on the whole model, which ran for over ten minutes on us-states-apr2020
(108,781 integer columns) where the plan without it answers in about a second. Above
conflict.MIP_LIMIT integer columns the movements are relaxed (the families' switches stay whole:
a weaker lower bound, still proved); above conflict.LP_LIMIT columns no region is solved."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_leftovers4_plan_conflict import explained, instance

from optimiser.multiperiod import conflict

REPO = Path(__file__).resolve().parents[1]


def test_relaxed_movements_name_the_same_region_and_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conflict, "MIP_LIMIT", 0)  # every model "large": movements relaxed
    text = explained(
        instance(tmp_path, transfers=False),
        "max_coverage_gap:gap=0",
        "max_share_of_supply:share=0.3",
    )
    # hand-solved: B cannot lend without transfers, so X_A >= 10 in the LP as in whole plans
    assert "needs at least 10 units in A, received net by its last useful day" in text
    assert "allows a region at most 6 units" in text


def test_above_the_column_limit_no_region_is_solved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conflict, "LP_LIMIT", 0)
    text = explained(
        instance(tmp_path, transfers=False),
        "max_coverage_gap:gap=0",
        "max_share_of_supply:share=0.3",
    )
    assert "cannot hold together over the horizon" in text
    assert " in A" not in text


def test_a_national_instance_is_explained_in_seconds_not_minutes() -> None:
    args = [sys.executable, "-m", "optimiser", "plan", "instances/us-states-apr2020",
            "--no-price", "-c", "min_units:units=300", "-c", "max_share_of_supply:share=0.01"]
    # 1.2 s without naming regions, ~8 s with the LP relaxations under load; the MIPs took
    # over ten minutes
    run = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert run.returncode == 3, run.stderr
    assert "min_units(units=300) needs at least 300 units in " in run.stdout
    assert "max_share_of_supply(share=0.01) allows a region at most 24 units" in run.stdout
