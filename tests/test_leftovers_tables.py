"""Leftovers 2 and 3: what the input tables refuse, and why.

2. A number written with thousands separators ("1,000" in a cell, `--supply 1,000`) was refused
   as "not a number: '1,000'" (the option: "Input should be a valid integer", without even the
   value): now the message says that thousands separators are not accepted, and shows the value.
   No number is guessed for it: 1,500 may be a decimal comma.
3. An allocation CSV (`triage evaluate`) ignored a column it does not read, when every other
   input table (regions.csv, tiers.csv, plan files, scenarios) refuses it: a column `units_new`
   beside `units` was scored as if it were not there. Now it is refused, exit 2, naming the file,
   the column and the columns an allocation has.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from optimiser.errors import InputError
from optimiser.textfiles import not_a_number

REPO = Path(__file__).resolve().parents[1]
HINT = "thousands separators are not accepted"


def run_main(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from optimiser.cli import main

    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    out = capsys.readouterr()
    return int(stop.value.code or 0), out.out, out.err


def test_the_hint_is_given_only_for_grouped_digits() -> None:
    for text in ("1,000", "12,345,678.5", "-2,000", "1 000", "1'000", "1\u00a0000"):
        assert HINT in not_a_number(text) and repr(text) in not_a_number(text), text
    for text in ("1,5", "1,0000", "abc", "1.000,5", "", "1,000,00"):
        assert not_a_number(text) == f"not a number: {text!r}", text


def test_a_regions_csv_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "p"
    shutil.copytree(REPO / "instances" / "pugh2021", folder)
    regions = folder / "regions.csv"
    regions.write_text(regions.read_text().replace("A,Capital,9000000,", 'A,Capital,"9,000,000",'))
    code, _, err = run_main(["validate", folder], capsys)
    assert code == 2
    assert (
        "regions.csv, line 2, region 'A', column 'population': not a number: '9,000,000' "
        f"({HINT}" in err
    ), err


def test_a_multiperiod_demand_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "m"
    shutil.copytree(REPO / "instances" / "us-states-apr2020", folder)
    demand = folder / "demand.csv"
    lines = demand.read_text().splitlines()
    lines[1] = '{},{},"1,007"'.format(*lines[1].split(",")[:2])
    demand.write_text("\n".join(lines) + "\n")
    code, _, err = run_main(["validate", folder], capsys)
    assert code == 2
    assert "demand.csv, line 2, column 'census': not a number: '1,007' (" + HINT in err, err


def test_a_bedside_patients_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "case"
    shutil.copytree(REPO / "instances" / "bedside-synthetic", case)
    patients = case / "patients.csv"
    lines = patients.read_text().splitlines()
    cells = lines[1].split(",")
    cells[8] = '"1,068"'  # age_years
    lines[1] = ",".join(cells)
    patients.write_text("\n".join(lines) + "\n")
    code, _, err = run_main(["bedside", "validate", case], capsys)
    assert code == 2
    assert "not a number: '1,068' (" + HINT in err and "age_years" in err, err


def test_an_allocation_cell(tmp_path: Path) -> None:
    from optimiser.cli.regional import read_allocation

    path = tmp_path / "allocation.csv"
    path.write_text('region,units\nA,"1,000"\n')
    with pytest.raises(InputError) as caught:
        read_allocation(path, ["A", "B"])
    (problem,) = caught.value.problems
    assert str(problem).startswith(
        f"allocation.csv, line 2, column 'units': not a number: '1,000' ({HINT}"
    ), problem


@pytest.mark.parametrize("given", [["--supply", "1,000"], ["--time-limit=1,000.5"]])
def test_an_option(given: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    instance = REPO / "instances" / "pugh2021"
    code, _, err = run_main(["solve", instance, *given], capsys)
    value = given[-1].split("=")[-1]
    assert code == 2
    assert err.startswith(f"error: {given[0].split('=')[0]}: not a number: {value!r} ({HINT}"), err
    code, out, _ = run_main(["solve", instance, *given, "--json"], capsys)
    assert HINT in json.loads(out)["error"]["message"]
    # any other refusal keeps the parser's own words
    code, _, err = run_main(["solve", instance, "--supply", "lots"], capsys)
    assert code == 2 and HINT not in err and "--supply" in err, err


def _scored(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "allocation.csv"
    path.write_text(text)
    code, _, err = run_main(["evaluate", REPO / "instances" / "pugh2021", path], capsys)
    return code, err


def test_an_allocation_with_an_unknown_column_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _scored(tmp_path, "region,units,units_new\nA,192,0\nB,346,0\nC,0,0\nD,462,0\n",
                        capsys)
    assert code == 2, err
    assert (
        "error: allocation.csv, line 1: unknown column: units_new (an allocation has the "
        "columns region, units only, as solve --out's allocation.csv)" in err
    ), err
    # a misspelt one gets a "did you mean" beside the missing column
    code, err = _scored(tmp_path, "region,units,Note\nA,1,x\n", capsys)
    assert code == 2 and "unknown column: Note" in err, err


def test_solve_outs_allocation_is_still_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = REPO / "instances" / "pugh2021"
    code, _, err = run_main(["solve", instance, "--out", tmp_path / "out", "--no-price"], capsys)
    assert code == 0, err
    code, out, err = run_main(["evaluate", instance, tmp_path / "out" / "allocation.csv"], capsys)
    assert code == 0 and "status evaluated" in out, err
    # its regions.csv (region, units and a dozen more) is not an allocation
    code, _, err = run_main(["evaluate", instance, tmp_path / "out" / "regions.csv"], capsys)
    assert code == 2 and "unknown columns: name, population" in err, err
