"""`triage plan` and `triage scenarios saa` share their handling of `--executed` and `--today`
(optimiser/cli/replan.py; track leftovers3): one --today option, one set of arguments passed
to the planner, one rule for where input problems are: all in the executed file when one of
them is its, else in the instance folder. Before, plan.py and saa.py each wrote them out."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_leftovers_tables import run_main

import optimiser.cli.plan as plan_cli
import optimiser.cli.saa as saa_cli
from optimiser.cli.replan import PlanCall

REPO = Path(__file__).resolve().parents[1]
APR = REPO / "instances" / "us-states-apr2020"
COMMANDS = {
    "plan": ["plan", APR],
    "saa": [
        "scenarios",
        "saa",
        APR,
        "--method",
        "lognormal",
        "-M",
        "2",
        "-N",
        "2",
        "--evaluate-on",
        "4",
        "--workers",
        "1",
    ],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bad_executed_file_is_where_its_problems_are(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = tmp_path / "shipped.csv"
    shipped.write_text("when,from,to,units\n1,ME,MA,3\n")
    code, _, err = run_main([*map(str, COMMANDS[command]), "--executed", str(shipped)], capsys)
    assert code == 2
    assert "error: shipped.csv: missing required column: day" in err
    assert err.splitlines()[-1] == f"1 problem found in {shipped}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_today_beyond_the_horizon_is_the_command_line_s(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main([*map(str, COMMANDS[command]), "--today", "100000"], capsys)
    assert code == 2, err
    assert err.splitlines()[-1] == "1 problem found in the command line", err


def test_the_placing_is_written_once() -> None:
    sources = [Path(m.__file__).read_text() for m in (plan_cli, saa_cli)]  # type: ignore[arg-type]
    assert all("executed.name" not in text for text in sources)
    assert all("PlanCall(" in text and "TodayOpt" in text for text in sources)


def test_the_planner_arguments() -> None:
    call = PlanCall(Path("d"), ["min_units:units=1"], False, Path("e.csv"), 3, 10.0, None)
    assert call.arguments() == {
        "constraints": ["min_units:units=1"],
        "default_constraints": False,
        "executed": Path("e.csv"),
        "today": 3,
        "time_limit": 10.0,
        "mip_gap": None,
    }
