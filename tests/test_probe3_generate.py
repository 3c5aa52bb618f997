"""Probe 3: `triage generate --seed -1` was an internal error (numpy's "expected non-negative
integer", exit 4), and `--days 5000` wrote an instance that `triage validate` then refused
(at most 3,660 days). Both are usage errors now: exit 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def triage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("args,option", [(["--seed", "-1"], "--seed"),
                                         (["--days", "3661"], "--days")])
def test_generate_refuses_what_it_cannot_make(tmp_path, args, option):
    out = tmp_path / "generated"
    run = triage("generate", *args, out)
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert option in run.stderr and "internal error" not in run.stderr, run.stderr
    assert not out.exists()


def test_the_longest_horizon_generate_takes_is_the_instances():
    from optimiser.multiperiod.row_checks import MAX_DAYS

    run = triage("generate", "--help")
    assert "3,660" in run.stdout and MAX_DAYS == 3_660
