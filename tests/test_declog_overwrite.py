"""A decision log is a record: `triage bedside allocate` never replaces one silently.

Failed on main 4dd34f7: `triage bedside allocate CASE` without `--out` wrote
./decision_log.jsonl and replaced an earlier case's log without a word (so did `--log PATH`, a
rerun with the same `--out`, and `optimiser.bedside.write_log`). Now an existing log is refused
(exit 2, the file named, nothing written) unless `--overwrite` (`overwrite=True` in Python).
The service writes no file (the log is in its answer), so it has nothing to refuse.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from optimiser.bedside import allocate, load_inputs, write_log
from optimiser.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "instances" / "bedside-snapshot"


def _triage(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "optimiser", "bedside", "allocate",
                           *map(str, args), "--no-price", "--no-protocols"], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def _two_cases(tmp_path: Path) -> tuple[Path, Path]:
    """Two different cases: the snapshot, and the snapshot without its last patient."""
    first, second = tmp_path / "case-a", tmp_path / "case-b"
    shutil.copytree(SNAPSHOT, first)
    shutil.copytree(SNAPSHOT, second)
    lines = (second / "patients.csv").read_text().splitlines()
    (second / "patients.csv").write_text("\n".join(lines[:-1]) + "\n")
    return first, second


def _patients_hash(log: Path) -> str:
    return str(json.loads(log.read_text().splitlines()[0])["inputs"]["sha256"]["patients"])


def test_allocate_without_out_refuses_to_replace_an_earlier_cases_log(tmp_path):
    first, second = _two_cases(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    assert _triage(work, first).returncode == 0
    log = work / "decision_log.jsonl"
    before = log.read_bytes()
    refused = _triage(work, second)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "decision_log.jsonl already exists" in refused.stderr
    assert "--overwrite" in refused.stderr and "nothing was written" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert log.read_bytes() == before  # the first case's record is intact
    assert sorted(p.name for p in work.iterdir()) == ["decision_log.jsonl"]  # no stray file
    replaced = _triage(work, second, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert _patients_hash(log) != json.loads(before.splitlines()[0])["inputs"]["sha256"][
        "patients"]


def test_a_rerun_into_the_same_out_or_log_is_refused(tmp_path):
    first, second = _two_cases(tmp_path)
    out = tmp_path / "today"
    assert _triage(tmp_path, first, "--out", out).returncode == 0
    kept = (out / "decision_log.jsonl").read_bytes()
    again = _triage(tmp_path, second, "--out", out)
    assert again.returncode == 2 and "today/decision_log.jsonl already exists" in again.stderr
    # --log elsewhere would still delete the log --out holds: refused too
    elsewhere = _triage(tmp_path, second, "--out", out, "--log", tmp_path / "other.jsonl")
    assert elsewhere.returncode == 2 and not (tmp_path / "other.jsonl").exists()
    assert (out / "decision_log.jsonl").read_bytes() == kept
    log = tmp_path / "night.jsonl"
    assert _triage(tmp_path, first, "--log", log).returncode == 0
    refused = _triage(tmp_path, second, "--log", log, "--json")
    assert refused.returncode == 2
    assert json.loads(refused.stdout)["error"]["code"] == "invalid_input"
    assert _patients_hash(log) == _patients_hash(out / "decision_log.jsonl")


def test_write_log_refuses_an_existing_log_unless_asked(tmp_path):
    first, second = _two_cases(tmp_path)
    log = tmp_path / "decision_log.jsonl"
    write_log(log, allocate(load_inputs(first), price=False, protocols=False), {})
    before = log.read_bytes()
    other = allocate(load_inputs(second), price=False, protocols=False)
    with pytest.raises(InputError, match=r"already exists.*overwrite=True"):
        write_log(log, other, {})
    assert log.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case-a", "case-b",
                                                          "decision_log.jsonl"]
    write_log(log, other, {}, overwrite=True)
    assert log.read_bytes() != before
