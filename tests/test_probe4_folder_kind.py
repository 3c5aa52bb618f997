"""Probe 4: a new user gives a folder to the wrong command -- the bedside case to `triage
validate` or `solve`, the Table 1 instance to `triage bedside allocate` or `triage plan`. The
answer was only "instance.toml: file not found" (or "demand.csv", "policy.toml"...), as if the
folder were broken; it now also says what the folder is and which command reads it. Failed on
main 4dd34f7.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT, PUGH, APRIL = ("instances/bedside-snapshot", "instances/pugh2021",
                         "instances/us-states-apr2020")


def _triage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("args,pointer", [
    (("validate", SNAPSHOT), f"it is a bedside case, with patients.csv and policy.toml: "
                             f"`triage bedside allocate {SNAPSHOT}`"),
    (("solve", SNAPSHOT), "`triage bedside allocate instances/bedside-snapshot`"),
    (("bedside", "allocate", PUGH), f"it is a single-period instance, with instance.toml and "
                                    f"regions.csv: `triage solve {PUGH}`"),
    (("bedside", "validate", APRIL), f"`triage plan {APRIL}`"),
    (("plan", PUGH), f"`triage solve {PUGH}`"),
])
def test_a_folder_given_to_the_wrong_command_is_named_with_its_command(args, pointer):
    run = _triage(*args)
    assert run.returncode == 2, run.stderr
    assert pointer in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_a_case_missing_its_own_file_gets_no_pointer_elsewhere(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(REPO / SNAPSHOT, case)
    (case / "units.csv").unlink()
    run = _triage("bedside", "allocate", case)
    assert run.returncode == 2, run.stderr
    assert "units.csv: file not found" in run.stderr and "`triage" not in run.stderr, run.stderr
