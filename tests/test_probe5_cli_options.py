"""Probe 5: options and folders of the multi-period commands. Failed on main 98e5f6b:
`triage plan --buffer 0.2` without `--compare` was ignored (the plan ran on the forecast alone,
exit 0) while every other option of --compare or --scenarios given alone is refused; a plain
multi-period folder given to a backtest command was told it needs a start_date.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimiser.multiperiod import GeneratorSpec, generate


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(GeneratorSpec(regions=2, days=4, depots=1, seed=3),
                    tmp_path_factory.mktemp("probe5") / "inst")


def test_buffer_without_compare_is_refused(folder, run_cli):
    run = run_cli("plan", folder, "--no-price", "--buffer", "0.2")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--buffer needs --compare (the mean plan's demand buffer)" in run.stderr, run.stderr


@pytest.mark.parametrize("command", [("scenarios", "skill"), ("backtest",)])
def test_a_plain_multi_period_folder_is_no_backtest(folder, run_cli, command):
    """An undated multi-period instance given to a backtest command was told "a backtest
    instance needs [multiperiod] start_date", as if it were a backtest missing a date: it has
    no observed.csv at all, and now gets the folder-kind pointer to `triage plan`."""
    run = run_cli(*command, folder)
    assert run.returncode == 2, run.stderr
    assert "error: observed.csv: file not found" in run.stderr, run.stderr
    assert "start_date" not in run.stderr and "`triage plan " in run.stderr, run.stderr
