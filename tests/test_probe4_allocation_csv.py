"""Probe 4: an allocation CSV saved from a spreadsheet, given to `triage evaluate`. Failed on main
4dd34f7.

- A header written `Region,Units` said only "missing column(s): region, units (needs region,
  units)": nothing said the columns were there, capitalised (regions.csv says "did you mean").
- A blank units cell said "not a number: ''" instead of that the value is missing.
- The result.json (or allocation.csv) of another instance listed one "unknown region" per
  region, 50 lines for the US states, never saying the file belongs to another instance.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimiser.cli.regional import read_allocation
from optimiser.errors import InputError


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "allocation.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_allocation(path, ["A", "B"])
    return [str(p) for p in caught.value.problems]


def test_a_capitalised_header_says_which_column_was_meant(tmp_path):
    (problem,) = _problems(tmp_path, "Region,Units\nA,400\n")
    assert "found 'Region' (did you mean 'region'?), 'Units' (did you mean 'units'?)" in problem


def test_a_blank_units_cell_is_a_missing_value(tmp_path):
    problems = _problems(tmp_path, "region,units\nA,400\nB,\n")
    assert problems == ["allocation.csv, line 3, column 'units': missing value (units sent, 0 "
                        "for none)"], problems


def test_the_result_of_another_instance_is_one_problem_naming_it(tmp_path):
    import json

    path = tmp_path / "result.json"
    path.write_text(json.dumps({"instance": "us-states-2020",
                                "allocation": {"AK": 1, "AL": 2, "AR": 3, "AZ": 4}}))
    with pytest.raises(InputError) as caught:
        read_allocation(path, ["A", "B", "C", "D"])
    (problem,) = caught.value.problems
    assert str(problem) == (
        "result.json: none of its 4 regions ('AK', 'AL', 'AR', ...) is a region of this "
        "instance (A, B, C, D): an allocation for another instance (a result for "
        "'us-states-2020')?"), str(problem)
    (problem,) = _problems(tmp_path, "region,units\nAK,1\nAL,2\n")
    assert "none of its 2 regions ('AK', 'AL')" in problem and "(a result for" not in problem
