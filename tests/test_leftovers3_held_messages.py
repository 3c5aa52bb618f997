"""check-plan's messages for a day-0 admit row whose cohort has patients on units since the
start (census demand; track leftovers3). Those patients are counted first, so the row needs
free units (and waiting patients) for the rest only: the messages give the row's number, the
patients on units since the start and the rest, which add up (before, "admits 3 patients" for
a row of 3.5 with 0.5 on units since the start: the reader could not find the row's number)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_multiperiod_support import write_instance

from optimiser.multiperiod import check_plan, load_multiperiod


@pytest.fixture
def census(tmp_path: Path) -> Path:
    """A owns 1 unit; census 3 on every day, stays 2 days: cohorts -1 and 0 have 1.5 patients
    each on day 0, a third of them (0.5) on A's own unit since the start."""
    return write_instance(
        tmp_path / "census",
        [{"region": "A", "capacity": 1, "los_days": 2}],
        {"A": [3, 3, 3, 3]},
        kind="census",
        deliveries=[(0, 2, "D")],
        leads=[("D", "A", 0)],
    )


def check(folder: Path, tmp_path: Path, rows: list[str]) -> dict[str, str]:
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(["kind,day,from,to,units,arrives,cohort_day", *rows]) + "\n")
    result = check_plan(load_multiperiod(folder), path)
    return {v["rule"]: v["message"] for v in result.violations}


def numbers(message: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", message)]


def test_a_row_beyond_the_free_units_names_the_patients_on_units(
    census: Path, tmp_path: Path
) -> None:
    # 1 unit shipped: 1 own + 1 = 2 units, 1 in use by the 2 x 0.5 on units since the start
    messages = check(census, tmp_path, ["ship,0,D,A,1,0,", "admit,0,A,A,3.5,0,-1"])
    free = messages["no_free_unit"]
    assert free == (
        "admits 3.5 patients in A on day 0, 0.5 of them on units since the start: 3 need a "
        "free unit, but only 1 unit is free"
    )
    row, _day, held, rest, _ = numbers(free)
    assert row == held + rest
    waiting = messages["patients_waiting"]
    assert waiting == (
        "admits 3.5 patients of A of cohort day -1 on day 0, 0.5 of them on units since the "
        "start: 3 from those waiting, but only 1 is waiting"
    )


def test_a_row_for_all_cohorts_counts_every_cohort_s_patients_on_units(
    census: Path, tmp_path: Path
) -> None:
    # no cohort: both cohorts' 0.5 on units since the start are counted first
    messages = check(census, tmp_path, ["admit,0,A,A,2.5,0,"])
    assert messages["no_free_unit"] == (
        "admits 2.5 patients in A on day 0, 1 of them on units since the start: 1.5 need a "
        "free unit, but only 0 units are free"
    )


def test_without_patients_on_units_the_message_is_unchanged(tmp_path: Path) -> None:
    folder = write_instance(
        tmp_path / "new",
        [{"region": "A", "capacity": 1, "los_days": 2}],
        {"A": [3, 0, 0]},
    )
    messages = check(folder, tmp_path, ["admit,0,A,A,2,0,0"])
    assert messages["no_free_unit"] == ("admits 2 patients in A on day 0, but only 1 unit is free")
