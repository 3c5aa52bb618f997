"""Probe 5: a time limit too long to mean anything. Failed on main 98e5f6b: `triage solve DIR
--time-limit 1e10` printed a traceback ("Exception in thread triage-deadline ... OverflowError:
timestamp out of range for platform time_t": the watchdog's wait overflowed, so the command
also ran without its watchdog), and `triage backtest DIR --time-limit 1e300` ended in
"internal error: OverflowError" (exit 4) where a guarded HiGHS run joined its thread.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from optimiser.guarded_run import Incumbent, run_with_deadline

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("limit", ["1e10", "1e300"])
def test_a_huge_time_limit_is_no_traceback(run_cli, limit):
    run = run_cli("solve", REPO / "instances" / "pugh2021", "--time-limit", limit)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "OverflowError" not in run.stderr, run.stderr
    assert "status optimal" in run.stdout


def test_a_guarded_run_waits_for_a_huge_deadline():
    runner = SimpleNamespace(cbMipImprovingSolution=SimpleNamespace(subscribe=lambda f: None),
                             cbMipInterrupt=SimpleNamespace(subscribe=lambda f: None))
    ran = []
    finished, waited = run_with_deadline(runner, 1e300, Incumbent(None, None),
                                         run=lambda r: ran.append(r))
    assert finished and ran == [runner] and waited < 60
