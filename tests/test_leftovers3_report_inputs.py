"""`triage report --from-plan` given another command's output names the command and option
that report it (track leftovers3). Before, a `triage plan --scenarios --out` folder was "not
the result.json of `triage plan` (needs instance, status, days, regions, lives_saved,
fingerprint)", and its committed.csv a time series missing columns: nothing said that the
plan under uncertainty has its own report (`plan --scenarios ... --out DIR --report`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multiperiod_cli import triage


@pytest.fixture(scope="module")
def stochastic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(instance folder, `triage plan --scenarios --out` folder)."""
    root = tmp_path_factory.mktemp("stochastic")
    small, scenarios, out = root / "small", root / "scenarios", root / "plan"
    for args in (
        ("generate", small, "--regions", 3, "--days", 10, "--seed", 3),
        (
            "scenarios",
            "generate",
            small,
            "--method",
            "lognormal",
            "--scenarios",
            3,
            "--seed",
            1,
            "--out",
            scenarios,
        ),
        ("plan", small, "--scenarios", scenarios, "--out", out, "--no-price"),
    ):
        done = triage(*args)
        assert done.returncode == 0, done.stderr
    return small, out


@pytest.mark.parametrize("given", ["folder", "result.json"])
def test_a_plan_under_uncertainty_points_to_its_own_report(
    stochastic: tuple[Path, Path], tmp_path: Path, given: str
) -> None:
    small, out = stochastic
    source = out if given == "folder" else out / "result.json"
    done = triage("report", small, "--from-plan", source, "--out", tmp_path / "report")
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"error: --from-plan {source}: the result of `triage plan "
        "--scenarios` (a plan under uncertainty)"
    )
    assert "`triage plan INSTANCE --scenarios SCENARIOS --out DIR --report`" in done.stderr
    assert f"`triage scenarios evaluate INSTANCE {out / 'committed.csv'} " in done.stderr
    assert not (tmp_path / "report").exists()


def test_a_plan_s_moves_are_not_a_time_series(
    stochastic: tuple[Path, Path], tmp_path: Path
) -> None:
    small, out = stochastic
    committed = out / "committed.csv"
    done = triage("report", small, "--from-plan", committed, "--out", tmp_path / "report")
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"error: --from-plan {committed}: a plan's moves (kind, day, from, to, units), not a "
        "time series: give the `triage plan --out` folder or its result.json"
    )
    assert "triage scenarios evaluate INSTANCE" in done.stderr


def test_a_solve_result_points_to_the_allocation_report(tmp_path: Path) -> None:
    pugh = Path(__file__).resolve().parents[1] / "instances" / "pugh2021"
    solved = tmp_path / "solved"
    assert triage("solve", pugh, "--out", solved).returncode == 0
    done = triage("report", pugh, "--from-plan", solved, "--out", tmp_path / "report")
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"error: --from-plan {solved}: the result of `triage solve` (one allocation), not a "
        "plan: an allocation's report is `triage report INSTANCE` without --from-plan"
    )
