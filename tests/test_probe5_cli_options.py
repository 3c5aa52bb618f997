"""Probe 5: the options of `triage plan` and `check-plan` as a user types them. Failed on main
98e5f6b: a bad switch was named by the setting behind it ("option 'donor_keep_share'" for
--donor-share, "option 'mip_gap'" for --gap, "column 'method'" for --method), and `--buffer`
without `--compare` was ignored: the plan ran on the forecast alone, exit 0, while every other
option of --compare or --scenarios given alone is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimiser.multiperiod import GeneratorSpec, generate


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(GeneratorSpec(regions=2, days=4, depots=1, seed=3),
                    tmp_path_factory.mktemp("probe5") / "inst")


@pytest.mark.parametrize("args,error", [
    (("--donor-share", "2"), "option 'donor-share': must be a share in [0, 1], got 2.0"),
    (("--max-wait", "-1"), "option 'max-wait': must be a whole number >= 0"),
    (("--batch-size", "0"), "option 'batch-size': must be a whole number >= 1"),
    (("--patient-transfer-max-per-day", "inf"),
     "option 'patient-transfer-max-per-day': must be a number in [0, 1,000,000,000]"),
    (("--gap", "5"), "option 'gap': must be in [0, 1), got 5.0"),
    (("--method", "fast"), "option 'method': method must be one of auto, exact, rounding"),
    (("--buffer", "0.2"), "--buffer needs --compare (the mean plan's demand buffer)"),
])
def test_a_bad_option_of_plan_is_called_by_its_flag(folder, run_cli, args, error):
    run = run_cli("plan", folder, "--no-price", *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"error: {error}" in run.stderr, run.stderr
    for setting in ("donor_keep_share", "max_wait_days", "batch_size", "mip_gap",
                    "column 'method'"):
        assert setting not in run.stderr, run.stderr


def test_check_plan_calls_its_switches_by_their_flags_too(folder, run_cli, tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("kind,day,from,to,units\n")
    run = run_cli("check-plan", folder, plan, "--donor-share", "-0.5")
    assert run.returncode == 2, run.stderr
    assert "error: option 'donor-share': must be a share in [0, 1], got -0.5" in run.stderr


@pytest.mark.parametrize("command", [("scenarios", "skill"), ("backtest",)])
def test_a_plain_multi_period_folder_is_no_backtest(folder, run_cli, command):
    """An undated multi-period instance given to a backtest command was told "a backtest
    instance needs [multiperiod] start_date", as if it were a backtest missing a date: it has
    no observed.csv at all, and now gets the folder-kind pointer to `triage plan`."""
    run = run_cli(*command, folder)
    assert run.returncode == 2, run.stderr
    assert "error: observed.csv: file not found" in run.stderr, run.stderr
    assert "start_date" not in run.stderr and "`triage plan " in run.stderr, run.stderr
