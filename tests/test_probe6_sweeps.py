"""Probe 6: sweeps with odd grids. Failed on main e279bf2: `triage sweep DIR --vary
supply=0.5:0.6 --samples 3` (a range of supply holding no whole number of units) was an internal
error, exit 4 ("ValueError: low >= high" from numpy's integer draw), and left an empty --out
folder behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import optimiser
from optimiser.errors import InputError
from optimiser.sweeps.spec import parse_vary, variant_table

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"


@pytest.mark.parametrize("text", ["supply=0.5:0.6", "supply=2.1:2.9"])
def test_a_supply_range_without_a_whole_number_is_refused(pugh, text: str) -> None:
    with pytest.raises(InputError, match=r"no whole number of units in the range"):
        parse_vary(text, pugh)


def test_the_cli_names_the_range_and_writes_nothing(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "sweep"
    run = run_cli("sweep", PUGH, "--vary", "supply=0.5:0.6", "--samples", "3", "--out", out)
    assert run.returncode == 2, run.stderr
    assert "error: --vary 'supply=0.5:0.6': no whole number of units in the range" in run.stderr
    assert not out.exists()


@pytest.mark.parametrize(("text", "drawn"), [("supply=0.5:1", {1}), ("supply=2:2", {2}),
                                            ("supply=1.5:3.2", {2, 3})])
def test_ranges_holding_whole_numbers_are_drawn_from_them(pugh, text: str, drawn: set) -> None:
    dim = parse_vary(text, pugh)
    table = variant_table([dim], samples=40, seed=1)
    assert set(table["supply"]) == drawn
    assert optimiser.sweep(pugh, [text], samples=2)["status"].eq("optimal").all()
