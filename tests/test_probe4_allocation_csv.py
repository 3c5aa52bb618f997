"""Probe 4: an allocation CSV saved from a spreadsheet, given to `triage evaluate`. Failed on main
4dd34f7.

- A header written `Region,Units` said only "missing column(s): region, units (needs region,
  units)": nothing said the columns were there, capitalised (regions.csv says "did you mean").
- A blank units cell said "not a number: ''" instead of that the value is missing.
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
