"""Small bedside cases built in Python (for tests): patients, units and a policy table."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from optimiser.bedside import BedsideInputs, inputs_from_dict

BASE_POLICY: dict[str, Any] = {
    "name": "test policy",
    "approval": {"approved_by": "test committee", "date": "2024-01-01"},
}


def policy(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE_POLICY)
    out.update(changes)
    return out


def case(patients: Sequence[Mapping[str, Any]], units: Sequence[Mapping[str, Any]] | int = 1,
         **policy_changes: Any) -> BedsideInputs:
    """Inputs from rows; `units` as rows, or a count of units at site H1 from day 0."""
    if isinstance(units, int):
        units = [{"site": "H1", "day": 0, "units": units}]
    rows = [{"site": "H1", "arrival": 0, "expected_days": 5, **p} for p in patients]
    return inputs_from_dict({"patients": rows, "units": list(units),
                             "policy": policy(**policy_changes)})


def write_case(folder: Path, patients: Sequence[Mapping[str, Any]], units: str,
               policy_text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(list(patients)).to_csv(folder / "patients.csv", index=False)
    (folder / "units.csv").write_text(units)
    (folder / "policy.toml").write_text(policy_text)
    return folder


POLICY_TOML = """name = "test policy"
[approval]
approved_by = "test committee"
date = 2024-01-01
"""
