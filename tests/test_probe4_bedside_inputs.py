"""Probe 4: a triage officer's first mistakes in patients.csv. Failed on main 4dd34f7.

- `triage bedside allocate CASE --json` (and `bedside compare --json`) with any problem in
  patients.csv crashed with a Python traceback and exit 1 ("TypeError: Object of type int64 is
  not JSON serializable"): the line numbers of patients.csv were numpy integers, which the JSON
  error object could not hold. The documented answer is exit 2, no traceback, one JSON object.
- A SOFA score that is not a number ('twelve') was named twice: "not a number" and then "no
  survival probability" for the same cell.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    shutil.copytree(REPO / "instances" / "bedside-snapshot", case)
    lines = (case / "patients.csv").read_text().splitlines()
    lines[6] = lines[6].replace(",12,", ",twelve,")  # P0006's SOFA score
    (case / "patients.csv").write_text("\n".join(lines) + "\n")
    return case


def _triage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("command", ["allocate", "compare"])
def test_a_bad_patients_csv_with_json_is_exit_2_not_a_traceback(tmp_path, command):
    run = _triage("bedside", command, _case(tmp_path), "--json")
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2, run.stderr
    error = json.loads(run.stdout)["error"]
    assert error["code"] == "invalid_input"
    assert {"file": "patients.csv", "line": 7, "column": "sofa"}.items() <= (
        error["problems"][0].items())


def test_a_line_number_read_from_a_table_is_a_plain_int():
    from optimiser.errors import Problem

    problem = Problem("not a number", file="patients.csv", line=np.int64(7), column="sofa")
    assert type(problem.line) is int and problem.line == 7
    assert json.dumps({"line": problem.line}) == '{"line": 7}'


def test_a_sofa_score_that_is_not_a_number_is_named_once(tmp_path):
    from optimiser.bedside.io import load_inputs
    from optimiser.errors import InputError

    with pytest.raises(InputError) as caught:
        load_inputs(_case(tmp_path))
    named = [str(p) for p in caught.value.problems if p.line == 7]
    assert named == ["patients.csv, line 7, column 'sofa': not a number: 'twelve'"], named
