"""SAA's commit window must leave a day to re-plan: one that ends on the horizon's last day is
a clear exit-2 error naming the window, the horizon's days and the option (it was "today must
be a day of the horizon 0..2, got 3", from the recourse, about an option never given). And
SaaResult.from_dict reads a stopped run's payload (status time_limit, no bounds), including
one stored before the run's fields were recorded."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_saa import hedge, run

from optimiser.scenarios import write_scenarios
from optimiser.stochastic import SaaResult


@pytest.fixture
def hedge_args(tmp_path: Path) -> list[str]:
    """`triage scenarios saa` on the 3-day hedge instance (days 0..2)."""
    folder, _, dist = hedge(tmp_path)
    (tmp_path / "dist").mkdir()
    write_scenarios(dist, tmp_path / "dist")
    return ["scenarios", "saa", str(folder), "--scenarios", str(tmp_path / "dist"), "-M", "2",
            "-N", "2", "--evaluate-on", "4", "--workers", "1"]  # fmt: skip


def test_a_commit_window_ending_on_the_last_day_is_a_clear_error(
    hedge_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([*hedge_args, "--commit-days", "3"], capsys)
    assert code == 2 and not out, (code, out, err)
    assert "commit window days 0..2" in err and "ends on the horizon's last day" in err
    assert "days 0..2" in err and "commit-days" in err and "at most 2 days" in err
    assert "got 3" not in err and "Traceback" not in err
    code, out, err = run([*hedge_args, "--commit-days", "3", "--json"], capsys)
    error = json.loads(out)["error"]
    assert code == 2 and error["exit_code"] == 2
    (problem,) = error["problems"]
    assert problem["column"] == "commit-days" and "days 0..2" in problem["message"]
    # from a later day: the window 1..2 ends on the last day too, at most 1 day is left
    code, out, err = run([*hedge_args, "--today", "1", "--commit-days", "2"], capsys)
    assert code == 2 and "commit window days 1..2" in err and "at most 1 day" in err, err
    # on the last day itself there is nothing to re-plan, whatever the window
    code, out, err = run([*hedge_args, "--today", "2", "--commit-days", "1"], capsys)
    assert code == 2 and "today 2 is the horizon's last day" in err and "today" in err, err
    # one day left after the window: SAA runs
    code, out, err = run([*hedge_args, "--commit-days", "2", "--json"], capsys)
    assert code == 0 and json.loads(out)["commit_days"] == 2, err


def test_a_stopped_runs_payload_reads_back() -> None:
    stopped = SaaResult.stopped(
        "hedge", "SAA stopped at its time limit: no bounds are reported", 0.5,
        replications=2, sample_size=3, selection_size=3, evaluation_size=40, seed=1,
        confidence=0.95, commit_days=1, risk="neutral", objective="expected lives", today=0,
    )  # fmt: skip
    data = json.loads(stopped.to_json())
    assert data["status"] == "time_limit" and data["bounds"] is None and data["kind"] == "saa"
    assert "upper_bound" not in data and "per_replication" not in data
    back = SaaResult.from_dict(data)
    assert not back.has_bounds and math.isnan(back.upper_bound) and back.candidate == 0
    assert back.to_dict() == data and back.replications == 2 and back.time_limit == 0.5
    # as the service stored it before the run's fields were recorded
    legacy = {"kind": "saa", "status": "time_limit", "instance": "hedge", "time_limit": 0.5,
              "bounds": None, "message": "SAA stopped at its time limit"}  # fmt: skip
    old = SaaResult.from_dict(legacy)
    assert old.status == "time_limit" and old.message == legacy["message"]
    assert {k: v for k, v in old.to_dict().items() if k in legacy} == legacy
