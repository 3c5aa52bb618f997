"""Probe 2 (adversarial sweep of bedside inputs): findings kept as tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from optimiser.bedside import inputs_from_dict, load_inputs
from optimiser.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "bedside-snapshot"
POLICY = {"name": "p", "approval": {"approved_by": "committee", "date": "2024-01-01"}}


def _patients(expected_days_of_b: object | None, drop: bool = False) -> list[dict[str, object]]:
    b: dict[str, object] = {"patient": "B", "site": "H1", "arrival": 1, "survival_with": 0.5}
    if not drop:
        b["expected_days"] = expected_days_of_b
    return [
        {"patient": "A", "site": "H1", "arrival": 0, "expected_days": 2, "survival_with": 0.6},
        b,
    ]


@pytest.mark.parametrize("drop", [False, True], ids=["null", "missing key"])
def test_a_blank_expected_days_in_json_is_refused_not_a_crash(drop: bool) -> None:
    """expected_days is required (docs/bedside.md, patients.csv): a null (or absent) value was
    read as NaN, held as -2^63 days, and the horizon crashed (IndexError in the online rule)."""
    body = {"patients": _patients(None, drop), "units": [{"site": "H1", "day": 0, "units": 1}],
            "policy": POLICY}
    with pytest.raises(InputError) as err:
        inputs_from_dict(body)
    found = [str(p) for p in err.value.problems]
    assert any("expected_days" in p and "required" in p for p in found), found


def test_a_blank_expected_days_cell_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    shutil.copytree(EXAMPLE, folder)
    frame = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "expected_days"] = ""
    frame.to_csv(folder / "patients.csv", index=False)
    with pytest.raises(InputError) as err:
        load_inputs(folder)
    found = [str(p) for p in err.value.problems]
    assert any("line 3" in p and "expected_days" in p and "required" in p for p in found), found
