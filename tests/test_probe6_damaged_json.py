"""Probe 6: JSON files triage wrote, read back damaged (nested too deeply, or a whole number of
more than 4,300 digits, which Python will not convert). Each was an internal error (exit 4, "set
TRIAGE_DEBUG=1") on main e279bf2, not a problem naming the file:

- `triage report DIR --from-plan FOLDER` (result.json: RecursionError, ValueError);
- `triage sweep ... --out FOLDER` resuming and `triage report --from-sweep FOLDER`
  (manifest.json);
- `triage scenarios validate DIR --scenarios FOLDER` (scenarios.json);
- `triage bedside allocate CASE --units result.json` and `triage bedside replay LOG` (a line of
  the decision log), and `AllocationResult.from_json` in Python (nested too deeply).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import optimiser
from optimiser.errors import InputError

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"
SNAPSHOT = REPO / "instances" / "bedside-snapshot"
DEEP = "[" * 100_000 + "]" * 100_000
LONG = '{"a": 1' + "0" * 5000 + "}"


def _ok(run, *words: str) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory, run_cli) -> tuple[Path, Path]:
    from optimiser.multiperiod import GeneratorSpec, generate

    root = tmp_path_factory.mktemp("probe6json")
    folder = generate(GeneratorSpec(regions=2, days=4, seed=2), root / "inst")
    assert run_cli("plan", folder, "--no-price", "--out", root / "plan").returncode == 0
    assert run_cli("scenarios", "generate", folder, "--method", "lognormal", "--scenarios", "2",
                   "--out", root / "sc").returncode == 0
    return folder, root


@pytest.mark.parametrize(("text", "why"), [
    (DEEP, "unreadable JSON (JSON nested too deeply (more than 200 levels))"),
    (LONG, "unreadable JSON (a whole number has more than 4,300 digits)")])
def test_report_from_a_plan_with_a_damaged_result_json(planned, tmp_path, run_cli, text, why):
    folder, root = planned
    plan = tmp_path / "plan"
    shutil.copytree(root / "plan", plan)
    (plan / "result.json").write_text(text, encoding="utf-8")
    _ok(run_cli("report", folder, "--from-plan", plan, "--out", tmp_path / "rep"), why)
    assert not (tmp_path / "rep").exists()


def test_scenarios_json_with_a_number_too_long(planned, tmp_path, run_cli):
    folder, root = planned
    shutil.copytree(root / "sc", tmp_path / "sc")
    (tmp_path / "sc" / "scenarios.json").write_text(LONG, encoding="utf-8")
    _ok(run_cli("scenarios", "validate", folder, "--scenarios", tmp_path / "sc"),
        "error: scenarios.json: malformed JSON: a whole number has more than 4,300 digits")


def test_a_sweep_manifest_nested_too_deeply(tmp_path, run_cli):
    out = tmp_path / "sweep"
    assert run_cli("sweep", PUGH, "--vary", "supply=1:2:1", "--out", out).returncode == 0
    (out / "manifest.json").write_text(DEEP, encoding="utf-8")
    _ok(run_cli("sweep", PUGH, "--vary", "supply=1:2:1", "--out", out),
        "unreadable manifest.json (JSON nested too deeply")
    _ok(run_cli("report", PUGH, "--from-sweep", out, "--out", tmp_path / "rep"),
        "unreadable manifest.json (JSON nested too deeply")


def test_bedside_units_and_log_nested_too_deeply(tmp_path, run_cli):
    units = tmp_path / "result.json"
    units.write_text(DEEP, encoding="utf-8")
    _ok(run_cli("bedside", "allocate", SNAPSHOT, "--units", units),
        "not a regional result.json (nested too deeply)")
    log = tmp_path / "decision_log.jsonl"
    assert run_cli("bedside", "allocate", SNAPSHOT, "--log", log).returncode == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join([lines[0], DEEP, *lines[1:]]) + "\n", encoding="utf-8")
    _ok(run_cli("bedside", "replay", log), "line 2: not JSON: nested too deeply")


def test_a_stored_result_nested_too_deeply_in_python():
    with pytest.raises(InputError, match="malformed JSON: nested too deeply"):
        optimiser.AllocationResult.from_json(DEEP)


def test_a_log_line_with_a_number_too_long_names_no_python_setting(tmp_path, run_cli):
    """The decision log's own reader said "Exceeds the limit (4300 digits) for integer string
    conversion ...; use sys.set_int_max_str_digits() to increase the limit"."""
    log = tmp_path / "decision_log.jsonl"
    assert run_cli("bedside", "allocate", SNAPSHOT, "--log", log).returncode == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join([lines[0], LONG, *lines[1:]]) + "\n", encoding="utf-8")
    run = run_cli("bedside", "replay", log)
    _ok(run, "line 2: not JSON: a whole number has more than 4,300 digits")
    assert "sys.set_int_max_str_digits" not in run.stderr
