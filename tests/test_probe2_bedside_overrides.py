"""Probe 2: overrides through the Python API (optimiser.bedside.allocate) keep the rules the
command line and the service keep (docs/bedside.md, "Record")."""

from __future__ import annotations

import pandas as pd
import pytest
from bedside_cases import case

from optimiser import bedside
from optimiser.bedside.log import validate_overrides
from optimiser.errors import InputError


def _overrides(rows: list[tuple[str, str]], known: set[str]) -> pd.DataFrame:
    raw = pd.DataFrame([{"patient": p, "decision": d, "justification": "family asks",
                         "officer": "Dr B"} for p, d in rows])
    return validate_overrides(raw, known, "overrides.csv")


@pytest.mark.parametrize("arrival_of_b", [0, 2], ids=["snapshot", "horizon"])
def test_an_override_cannot_give_a_unit_to_a_dni_patient_through_the_api(arrival_of_b):
    """The refusal lived only in the CLI and the service: allocate(inputs, overrides=...)
    served the patient who had declined the treatment."""
    inputs = case([{"patient": "A", "arrival": 0, "survival_with": 0.3, "dni": True},
                   {"patient": "B", "arrival": arrival_of_b, "survival_with": 0.7}], 1)
    table = _overrides([("A", "unit"), ("B", "no_unit")], {"A", "B"})
    with pytest.raises(InputError) as err:
        bedside.allocate(inputs, price=False, protocols=False, overrides=table)
    assert "declined the treatment (DNI)" in str(err.value)
    assert "overrides.csv" in str(err.value)


def test_an_override_naming_no_patient_of_the_case_is_an_input_error():
    inputs = case([{"patient": "A", "survival_with": 0.3}], 1)
    table = _overrides([("Z", "unit")], {"Z"})  # validated against another case
    with pytest.raises(InputError, match="unknown patient 'Z'"):
        bedside.allocate(inputs, price=False, protocols=False, overrides=table)
