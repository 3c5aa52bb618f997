"""Probe 5: files a user hands to the wrong reader, or hands back damaged. Each failed on main
98e5f6b:

- `triage check-plan DIR result.json` (the regional `evaluate` takes a result.json, so a user
  tries it here too) read the JSON as a CSV and printed 100 "has 2 fields, header has 1"
  lines and a count of 131 more;
- coordinates.csv was read by pandas, not the instance reader: a region listed twice passed
  `triage validate` ("coordinates for 2 regions"), a ragged row was read one column over
  ("unknown region '1'"), an unknown column was ignored, a semicolon file had no hint;
- `triage evaluate DIR result.json` with a damaged `constraints` or `supply` (5, [5], "x",
  1e400) ignored both, silently, and scored the allocation under the instance's own
  constraints and supply instead of those the result was solved with (exit 0);
- an allocation sending more than the supply said "Kept in the national reserve (no region
  can use them): -4,000"; one sending less said no region could use the rest;
- a plan that ships nothing wrote a manifest.csv (a header alone) with date columns that
  check-plan and `plan --executed` refuse when the instance has no start_date;
- a plan's recorded settings damaged in result.json were blamed on an option of the command
  ("option 'max_wait_days'") and the plan file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from optimiser.multiperiod import GeneratorSpec, generate

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory, run_cli) -> tuple[Path, Path]:
    """A small generated instance and `triage plan --out` of it."""
    root = tmp_path_factory.mktemp("probe5")
    folder = generate(GeneratorSpec(regions=3, days=6, depots=1, seed=5), root / "inst")
    run = run_cli("plan", folder, "--no-price", "--out", root / "plan")
    assert run.returncode == 0, run.stderr
    return folder, root / "plan"


def test_a_json_file_given_as_a_plan_is_one_problem(planned, run_cli):
    folder, out = planned
    run = run_cli("check-plan", folder, out / "result.json")
    assert run.returncode == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: result.json: a JSON file, not a CSV table (comma-separated "
                      "columns under a header line)"], run.stderr


def test_a_plan_that_ships_nothing_reads_back_its_own_manifest(planned, run_cli):
    """Its manifest.csv (a header alone) had dispatch_date and arrival_date columns, which
    check-plan and plan --executed refuse without a start_date: the round trip failed."""
    folder, out = planned
    assert len((out / "manifest.csv").read_text().splitlines()) == 1  # ships nothing
    for name in ("plan.csv", "manifest.csv"):
        run = run_cli("check-plan", folder, out / name)
        assert run.returncode == 0, run.stderr
    run = run_cli("plan", folder, "--no-price", "--executed", out / "manifest.csv")
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("setting,value,message", [
    ("max_wait_days", "NaN", "'settings.max_wait_days': must be a whole number >= 0"),
    ("donor_keep_share", "Infinity", "'settings.donor_keep_share': must be a share in [0, 1]"),
])
def test_a_damaged_recorded_setting_is_named_in_the_record(planned, run_cli, tmp_path, setting,
                                                           value, message):
    folder, out = planned
    damaged = tmp_path / "plan"
    shutil.copytree(out, damaged)
    record = json.loads((damaged / "result.json").read_text())
    record["settings"][setting] = "@@"
    (damaged / "result.json").write_text(json.dumps(record).replace('"@@"', value))
    run = run_cli("check-plan", folder, damaged / "plan.csv")
    assert run.returncode == 2, run.stderr
    assert f"error: {damaged / 'result.json'}: {message}" in run.stderr, run.stderr
    assert "option '" not in run.stderr, run.stderr


def _coordinates(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "inst"
    shutil.copytree(PUGH, folder)
    (folder / "coordinates.csv").write_text(text)
    return folder


@pytest.mark.parametrize("text,error", [
    ("region,lat,lon\nA,1,2\nA,1,2\n",
     "coordinates.csv, line 3, column 'region': duplicate region 'A' (first on line 2)"),
    ("region,lat,lon\nA,1,2,3\n", "coordinates.csv, line 2: has 4 fields, header has 3"),
    ("region,lat,lon,alt\nA,1,2,3\n", "coordinates.csv, line 1: unknown column: alt"),
    ("region;lat;lon\nA;1;2\n", "the file seems separated by semicolons"),
    ("region,lat,lon\nA,1,2\n\nB,0x10,1\n",
     "coordinates.csv, line 4, column 'lat': must be degrees in [-90, 90], got '0x10'"),
])
def test_coordinates_are_read_as_strictly_as_the_regions(tmp_path, run_cli, text, error):
    run = run_cli("validate", _coordinates(tmp_path, text))
    assert run.returncode == 2, run.stdout + run.stderr
    assert error in run.stderr, run.stderr


def test_good_coordinates_with_a_bom_and_crlf_are_read(tmp_path):
    import optimiser
    from optimiser.coordinates import load_coordinates

    folder = _coordinates(tmp_path, "\ufeffregion,lat,lon\r\nA,1.5,2\r\nD,-3,4e1\r\n")
    frame = load_coordinates(optimiser.load_instance(folder))
    assert frame is not None
    assert frame.to_dict("index") == {"A": {"lat": 1.5, "lon": 2.0},
                                      "D": {"lat": -3.0, "lon": 40.0}}


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory, run_cli) -> dict:
    out = tmp_path_factory.mktemp("probe5") / "solved"
    run = run_cli("solve", PUGH, "-c", "coverage_floor:level=0.4", "--supply", "1200",
                  "--out", out)
    assert run.returncode == 0, run.stderr
    result: dict = json.loads((out / "result.json").read_text())
    return result


@pytest.mark.parametrize("key,value,message", [
    ("constraints", "5", "'constraints' must be a list of constraint labels (strings), got 5"),
    ("constraints", "[5]", "'constraints' must be a list of constraint labels (strings)"),
    ("supply", '"x"', "'supply' must be a whole number of units in [0, 1,000,000,000]"),
    ("supply", "1e400", "'supply' must be a whole number of units in [0, 1,000,000,000], got "
                        "Infinity"),
])
def test_a_result_with_a_damaged_context_is_refused_not_rescored(solved, tmp_path, run_cli, key,
                                                                 value, message):
    damaged = dict(solved, **{key: "@@"})
    path = tmp_path / "result.json"
    path.write_text(json.dumps(damaged).replace('"@@"', value))
    run = run_cli("evaluate", PUGH, path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"error: result.json: {message}" in run.stderr, run.stderr


def test_the_result_as_written_is_still_scored_under_its_own_context(solved, tmp_path, run_cli):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(solved))
    run = run_cli("evaluate", PUGH, path, "--json")
    assert run.returncode == 0, run.stderr
    scored = json.loads(run.stdout)
    assert scored["supply"] == 1200
    assert scored["constraints"] == solved["constraints"] == ["coverage_floor(level=0.4)"]


@pytest.mark.parametrize("units,line", [
    (5000, "Sent beyond the supply: 4,000 more than the 1,000 there are"),
    (100, "Not sent (kept in the national reserve): 900"),
])
def test_what_an_evaluated_allocation_leaves_is_said_truly(tmp_path, run_cli, units, line):
    path = tmp_path / "allocation.csv"
    path.write_text(f"region,units\nA,{units}\n")
    run = run_cli("evaluate", PUGH, path)
    assert line in run.stdout, run.stdout
    assert "-4,000" not in run.stdout and "no region can use them" not in run.stdout
