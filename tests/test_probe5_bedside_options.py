"""Probe 5: bedside options that were ignored. Failed on main 98e5f6b: `--existing-capacity`
with units that are not a regional result.json (the case's own units.csv, a plan folder) was
ignored, even a file that does not exist, and the decision was made and logged, exit 0,
without the units the officer meant to add; `bedside generate --sites a,b,a` merged the two
a's into one site (exit 0).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "instances" / "bedside-snapshot"


@pytest.mark.parametrize("command", ["allocate", "validate"])
def test_existing_capacity_without_a_regional_result_is_refused(tmp_path, run_cli, command):
    out = tmp_path / "today"
    args = ("--out", out) if command == "allocate" else ()
    run = run_cli("bedside", command, SNAPSHOT, "--existing-capacity", tmp_path / "none.csv",
                  *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert ("error: --existing-capacity: adds to a regional result.json given as the "
            "units, not to units.csv") in run.stderr, run.stderr
    assert not out.exists()
    # with a regional result.json it still adds: tests/test_bedside_units.py


def test_generate_refuses_a_site_listed_twice(tmp_path, run_cli):
    out = tmp_path / "cohort"
    run = run_cli("bedside", "generate", "--out", out, "--sites", "a,b,a")
    assert run.returncode == 2, run.stderr
    assert "error: --sites: a site is listed twice: a" in run.stderr, run.stderr
    assert not out.exists()
