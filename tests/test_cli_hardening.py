"""Issue 10, CLI: bad input is exit 2 with one clear message (never exit 4, never a
traceback), for the whole class of each input the issue found."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"
PLAN_INSTANCE = REPO / "instances" / "us-states-apr2020"


def triage(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "optimiser", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=env)


def refused(run: subprocess.CompletedProcess[str], *words: str) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


@pytest.fixture
def pugh(tmp_path: Path) -> Path:
    folder = tmp_path / "pugh"
    shutil.copytree(PUGH, folder)
    return folder


def test_cr_only_line_endings_are_exit_2_everywhere(pugh, tmp_path):
    regions = (pugh / "regions.csv").read_text()
    (pugh / "regions.csv").write_text(regions.replace("\r\n", "\n").replace("\n", "\r"))
    for command in (["solve", pugh], ["validate", pugh], ["compare", pugh]):
        refused(triage(*command), "regions.csv", "carriage return only")
    allocation = tmp_path / "allocation.csv"
    allocation.write_text("region,units\rA,10\rB,20\r")
    refused(triage("evaluate", PUGH, allocation), "allocation.csv", "carriage return only")
    plan = tmp_path / "plan.csv"
    plan.write_text("day,from,to,units\r0,depot,AL,1\r")
    refused(triage("check-plan", PLAN_INSTANCE, plan), "plan.csv", "carriage return only")


@pytest.mark.parametrize("value", ['"high"', "{ a = 1 }", "[1, 2]", "nan"])
def test_defaults_of_the_wrong_type_are_exit_2(pugh, value):
    toml = (pugh / "instance.toml").read_text()
    (pugh / "instance.toml").write_text(toml + f"\n[defaults]\nsurvival_with = {value}\n")
    refused(triage("solve", pugh), "defaults.survival_with")


def test_an_out_path_component_over_255_bytes_is_exit_2(tmp_path):
    long = tmp_path / ("x" * 300) / "results"
    refused(triage("solve", PUGH, "--out", long), "--out", "300 bytes")
    refused(triage("plan", PLAN_INSTANCE, "--out", long), "--out", "300 bytes")
    refused(triage("sweep", PUGH, "--vary", "supply=1,2", "--out", long), "--out", "300 bytes")
    refused(triage("report", PUGH, "--out", long), "--out", "300 bytes")


def test_a_result_nested_100000_deep_is_exit_2(tmp_path):
    deep = tmp_path / "result.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    refused(triage("evaluate", PUGH, deep), "result.json", "nested too deeply")


@pytest.mark.parametrize("horizon", ["1e12", "1e300", "0.0000001"])
def test_horizon_days_has_the_services_bounds(pugh, horizon):
    toml = (pugh / "instance.toml").read_text()
    (pugh / "instance.toml").write_text(f"horizon_days = {horizon}\n" + toml)
    refused(triage("validate", pugh), "horizon_days", "100000")
    refused(triage("solve", pugh), "horizon_days")


def test_solve_never_writes_into_the_instance_folder(pugh):
    refused(triage("solve", pugh, "--out", pugh / "results"), "inside the INSTANCE folder")
    assert not (pugh / "results").exists()


@pytest.mark.parametrize("number", ["9_000_000", "٩٠٠٠٠٠٠", "0x10", "1,000"])
def test_numbers_are_ascii_decimals_only(pugh, number):
    lines = (pugh / "regions.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("population")] = f'"{number}"' if "," in number else number
    (pugh / "regions.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    refused(triage("validate", pugh), "population", "not a number")


def test_a_symbolic_link_loop_is_named(tmp_path, pugh):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    refused(triage("validate", loop), "symbolic link loop")
    (pugh / "regions.csv").unlink()
    (pugh / "regions.csv").symlink_to(pugh / "regions.csv")
    refused(triage("validate", pugh), "regions.csv", "symbolic link loop")


def test_seeds_have_the_services_bound():
    refused(triage("solve", PUGH, "--policy", "lottery", "--seed", str(2**32)), "2^32 - 1")
    refused(triage("sweep", PUGH, "--vary", "supply=1,2", "--samples", "2", "--seed",
                   str(10**30)), "--seed", "2^32 - 1")


@pytest.mark.parametrize("separator,called", [(";", "semicolons"), ("\t", "tabs")])
def test_a_wrong_delimiter_gets_a_hint(pugh, separator, called):
    rows = [line.split(",") for line in (pugh / "regions.csv").read_text().splitlines()]
    (pugh / "regions.csv").write_text("\n".join(separator.join(r) for r in rows) + "\n")
    refused(triage("validate", pugh), f"separated by {called}")


def test_header_names_get_did_you_mean_and_unknown_columns_are_listed(pugh):
    lines = (pugh / "regions.csv").read_text().splitlines()
    header = lines[0].replace("region", "Region").replace("peak_demand", "peak demand")
    (pugh / "regions.csv").write_text("\n".join([header + ",colour",
                                                 *(line + ",red" for line in lines[1:])]) + "\n")
    run = triage("validate", pugh)
    refused(run, "did you mean 'region'?", "did you mean 'peak_demand'?", "colour")


def test_every_constraint_problem_is_shown():
    run = triage("solve", PUGH, "--constraint", "coverage_floor:lvl=2")
    refused(run, "unknown parameter 'lvl'", "missing parameter 'level'")
    assert "more problem" not in run.stderr


MEASURE = """
import resource, subprocess, sys
run = subprocess.run([sys.executable, "-m", "optimiser", "validate", sys.argv[1]],
                     capture_output=True, text=True)
print(run.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(run.stderr)
"""


@pytest.mark.slow
@pytest.mark.parametrize("bad", ["fields", "values"])
def test_a_million_malformed_rows_stream_in_bounded_memory(pugh, bad):
    with open(pugh / "regions.csv", "w") as handle:
        handle.write("region,population,capacity,peak_demand\n")
        for i in range(1_000_000):
            if bad == "fields":
                handle.write(f"R{i},abc{i},x,1e999zz,extra,field,padding!\n")
            else:
                handle.write(f"R{i:07d},abc{i:05d},xxxxxxx,yyyyyyyy\n")
    run = subprocess.run([sys.executable, "-c", MEASURE, str(pugh)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    code, peak_kb = (int(x) for x in run.stdout.split())
    assert code == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) <= 102  # the documented 100, and one line saying what was left out
    assert "more problem" in run.stderr and "Traceback" not in run.stderr
    assert peak_kb < 700_000, peak_kb  # was 943 MB; the file alone is 36-50 MB


def test_the_service_and_cli_agree_on_bounds():
    """One set of magnitude bounds: the engine's table feeds the service's checks."""
    from optimiser.instance import COLUMN_BOUNDS, HORIZON_BOUNDS
    from optimiser.service.tasks import HORIZON_BOUNDS as SERVICE_HORIZON
    from optimiser.service.tasks import SERVICE_BOUNDS

    assert (HORIZON_BOUNDS.minimum, HORIZON_BOUNDS.maximum) == SERVICE_HORIZON
    for column, bounds in COLUMN_BOUNDS.items():
        assert SERVICE_BOUNDS[column][1] == bounds.maximum
    assert json.dumps(SERVICE_BOUNDS)  # plain numbers


@pytest.mark.parametrize("value", ["1_000", "٥"])
def test_constraint_parameters_are_strict_numbers_too(value):
    refused(triage("solve", PUGH, "--constraint", f"min_units:units={value}"),
            "parameter 'units' must be a number")
