"""Probe 6: `triage bedside curve --sites ','` (or `--sites ''`, or `sites=[]` in Python) named no
site, and was taken as no option at all: curves for every site were written, exit 0. Failed on
main e279bf2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimiser.bedside import load_inputs
from optimiser.bedside.curve import curves_to_instance
from optimiser.errors import InputError

REPO = Path(__file__).resolve().parents[1]
CASE = REPO / "instances" / "bedside-synthetic"
REGIONAL = REPO / "instances" / "bedside-synthetic-regional"


@pytest.mark.parametrize("sites", [",", " , ,", ""])
def test_sites_that_name_no_site_are_refused(tmp_path: Path, run_cli, sites: str) -> None:
    out = tmp_path / "curve"
    run = run_cli("bedside", "curve", CASE, "--regional", REGIONAL, "--out", out,
                  f"--sites={sites}")
    assert run.returncode == 2, run.stdout
    assert "error: --sites: no site given (the regions of bedside-synthetic-regional" in run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()


def test_an_empty_list_of_sites_is_refused_in_python(tmp_path: Path) -> None:
    inputs = load_inputs(CASE)
    with pytest.raises(InputError, match="no site given"):
        curves_to_instance(inputs, REGIONAL, tmp_path / "x", [], 3)
    curves, _ = curves_to_instance(inputs, REGIONAL, tmp_path, None, 3)  # None: every site
    assert [c.site for c in curves] == ["H1", "H2", "H3"]


def test_no_site_of_the_case_in_the_regional_instance_says_so(tmp_path: Path) -> None:
    inputs = load_inputs(CASE)
    with pytest.raises(InputError, match=r"no site of units.csv \(H1, H2, H3\) is a region of "
                       r"pugh2021 \(its regions: A, B, C, D\)"):
        curves_to_instance(inputs, REPO / "instances" / "pugh2021", tmp_path, None, 3)
