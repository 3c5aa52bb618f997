"""Probe 4: `triage solve DIR | head -1` exited 1 -- the code that says "scored, and breaks
rules" -- whenever the reader closed the pipe first (a script under `set -o pipefail` then
failed). Typer answers a closed pipe with exit 1 before the CLI's own `except BrokenPipeError:
sys.exit(0)` could see it. Failed on main 4dd34f7.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [("solve", "instances/pugh2021"),
                                  ("compare", "instances/pugh2021", "--json"),
                                  ("--version",)])
def test_a_reader_that_stops_early_is_not_a_broken_rule(args):
    read, write = os.pipe()
    os.close(read)  # the reader (`head -1`) is gone before the first line is written
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    try:
        run = subprocess.run([sys.executable, "-m", "optimiser", *args], stdout=write,
                             stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
                             timeout=300)
    finally:
        os.close(write)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 0, (run.returncode, run.stderr)
