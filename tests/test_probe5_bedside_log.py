"""Probe 5: a decision log edited by hand or saved again by an editor. Failed on main 98e5f6b:
NaN, Infinity or 1e400 in the log (json.loads reads them) reached the header comparison,
whose JSON refuses them: "internal error: ValueError: Out of range float values are not JSON
compliant", exit 4, as if the engine had failed; and a log saved with a BOM (Notepad) was
"not JSON: Unexpected UTF-8 BOM" although every other file the tool reads may have one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory, run_cli) -> Path:
    out = tmp_path_factory.mktemp("probe5") / "today"
    run = run_cli("bedside", "allocate", REPO / "instances" / "bedside-snapshot", "--out", out)
    assert run.returncode == 0, run.stderr
    return out / "decision_log.jsonl"


@pytest.mark.parametrize("value,message", [
    ("NaN", "not JSON: NaN is not a number JSON allows"),
    ("-Infinity", "not JSON: -Infinity is not a number JSON allows"),
    ("1e400", "not JSON: 1e400 is beyond the range of a number"),
])
def test_a_number_json_does_not_allow_is_an_input_error(log, tmp_path, run_cli, value, message):
    lines = log.read_text().splitlines()
    head = json.loads(lines[0])
    assert isinstance(head["policy"]["seed"], int)
    lines[0] = lines[0].replace(f'"seed":{head["policy"]["seed"]}', f'"seed":{value}')
    edited = tmp_path / "decision_log.jsonl"
    edited.write_text("\n".join(lines) + "\n")
    run = run_cli("bedside", "replay", edited)
    assert run.returncode == 2, run.stderr
    assert f"error: decision_log.jsonl, line 1: {message}" in run.stderr, run.stderr
    assert "internal error" not in run.stderr


def test_a_log_saved_with_a_bom_replays(log, tmp_path, run_cli):
    saved = tmp_path / "decision_log.jsonl"
    saved.write_text(log.read_text(), encoding="utf-8-sig")
    run = run_cli("bedside", "replay", saved)
    assert run.returncode == 0, run.stderr
    assert "identical to the log" in run.stdout, run.stdout
