"""Leftovers 6: with no waiting, the settle step keeps the patient whose stay fits.

With max_wait_days = 0 the settle step's tie-break (B), "admit as early as possible"
(maximise sum (last_g + 1 - s) y_{g,s}), weighs every admission 1: among plans that save as many
lives it cannot tell a patient whose stay lies inside the horizon from one whose stay the
horizon cuts, and may turn the first away, leaving more shortfall than needed. On this
instance (one unit, stays of 2 days, a patient on day 1 and one on day 2, 3 days) the planner
admits the day-2 patient: shortfall 2 resource-days where 1 is possible at the same lives.
Adding the stay's days inside the horizon to (B)'s weights, min(stay_g, T - s) / (T + 1),
gives 1 (and 5-34% less shortfall on generated 5 x 10 and 10 x 20 instances, same lives).
(methods/settle.py, the lead's integration). Fails if (B) loses the secondary weight.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multiperiod_support import write_instance

from optimiser.multiperiod import plan
from optimiser.multiperiod.instance import load_multiperiod


def test_no_earlier_patient_is_turned_away_at_equal_lives(tmp_path: Path) -> None:
    folder = write_instance(tmp_path / "one-unit", [{"region": "R1", "capacity": 1,
                                                     "los_days": 2}],
                            {"R1": [0, 1, 1]}, multiperiod={"transfers": False})
    result = plan(load_multiperiod(folder))
    assert result.lives_saved == pytest.approx(1.0)
    admits = result.plan[result.plan["kind"] == "admit"]
    assert admits["day"].tolist() == [1], admits  # the day-1 patient, treated days 1-2
    assert result.shortfall == pytest.approx(1.0)  # the day-2 patient's day 2 alone
