"""Bad multi-period input: one clear message naming the file, line, column or item at fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_multiperiod_support import write_instance

from optimiser.errors import InputError
from optimiser.multiperiod import load_multiperiod
from optimiser.multiperiod.instance import PlanSettings


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_instance(
        tmp_path / "good",
        [
            {"region": "A", "capacity": 2, "los_days": 2},
            {"region": "B", "capacity": 1, "los_days": 3},
        ],
        {"A": [2, 3, 1, 0], "B": [0, 1, 4, 2]},
        kind="census",
        deliveries=[(0, 3, "D"), (2, 2, "D")],
        leads=[("D", "A", 1), ("D", "B", 2), ("A", "B", 1), ("B", "A", 1)],
        multiperiod={"depots": ["D"], "start_date": "2020-04-15"},
    )


def test_a_good_instance_loads(good: Path) -> None:
    inst = load_multiperiod(good)
    assert inst.days == 4 and inst.depots == ("D",) and inst.demand_kind == "census"
    assert inst.deliveries.loc["D"].tolist() == [3.0, 0.0, 2.0, 0.0]
    assert inst.ship_lead.loc["D", "B"] == 2 and inst.region_lead.loc["A", "B"] == 1
    assert inst.date(2) == "2020-04-17"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1))


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


CASES: list[tuple[str, Callable[[Path], None], str]] = [
    # demand.csv
    (
        "demand missing a region",
        lambda f: edit(f / "demand.csv", "B,0,0\nB,1,1\nB,2,4\nB,3,2\n", ""),
        "no rows for region B",
    ),
    (
        "demand missing days",
        lambda f: edit(f / "demand.csv", "A,1,3\nA,2,1\n", ""),
        "region 'A' has no row for days 1-2",
    ),
    ("demand day outside", lambda f: append(f / "demand.csv", "A,4,1"), "outside the horizon"),
    ("demand unknown region", lambda f: append(f / "demand.csv", "Z,1,1"), "unknown region 'Z'"),
    ("demand negative", lambda f: edit(f / "demand.csv", "A,1,3", "A,1,-3"), "must be >= 0"),
    ("demand text", lambda f: edit(f / "demand.csv", "A,1,3", "A,1,many"), "not a number"),
    (
        "demand duplicate",
        lambda f: append(f / "demand.csv", "A,1,3"),
        "duplicate row for region 'A', day 1",
    ),
    (
        "demand no value column",
        lambda f: edit(f / "demand.csv", "region,day,census", "region,day,value"),
        "census",
    ),
    (
        "demand both kinds",
        lambda f: (
            edit(f / "demand.csv", "region,day,census\n", "region,day,census,new_patients\n")
            or _pad(f / "demand.csv")
        ),
        "both",
    ),
    ("demand fractional day", lambda f: edit(f / "demand.csv", "A,1,3", "A,1.5,3"), "whole day"),
    (
        "demand bad date",
        lambda f: edit(f / "demand.csv", "A,1,3", "A,2020-13-40,3"),
        "not a day number",
    ),
    # deliveries.csv
    (
        "delivery day outside",
        lambda f: append(f / "deliveries.csv", "9,1,D"),
        "day 9 is outside the horizon",
    ),
    (
        "delivery unknown depot",
        lambda f: append(f / "deliveries.csv", "1,1,X"),
        "unknown depot 'X'",
    ),
    (
        "delivery to a region",
        lambda f: append(f / "deliveries.csv", "1,1,A"),
        "'A' is a region, not a depot",
    ),
    ("delivery fractional", lambda f: append(f / "deliveries.csv", "1,1.5,D"), "whole number"),
    # lead_times.csv
    ("lead unknown region", lambda f: append(f / "lead_times.csv", "D,Q,1"), "unknown region 'Q'"),
    (
        "lead unknown origin",
        lambda f: append(f / "lead_times.csv", "W,A,1"),
        "unknown depot or region 'W'",
    ),
    ("lead negative", lambda f: edit(f / "lead_times.csv", "D,A,1", "D,A,-1"), "must be >= 0"),
    ("lead duplicate", lambda f: append(f / "lead_times.csv", "D,A,3"), "duplicate lane"),
    ("lead to itself", lambda f: append(f / "lead_times.csv", "A,A,1"), "to itself"),
    ("lead to a depot", lambda f: append(f / "lead_times.csv", "A,D,1"), "a depot cannot receive"),
    # capacity.csv
    (
        "capacity unknown region",
        lambda f: (f / "capacity.csv").write_text("region,day,capacity\nZ,1,3\n"),
        "unknown region 'Z'",
    ),
    (
        "capacity outside",
        lambda f: (f / "capacity.csv").write_text("region,day,capacity\nA,7,3\n"),
        "outside the horizon",
    ),
    (
        "capacity negative",
        lambda f: (f / "capacity.csv").write_text("region,day,staff_cap\nA,1,-3\n"),
        "must be >= 0",
    ),
    (
        "capacity no value",
        lambda f: (f / "capacity.csv").write_text("region,day\nA,1\n"),
        "'capacity' and/or a 'staff_cap'",
    ),
    # instance.toml [multiperiod]
    ("unknown key", lambda f: append(f / "instance.toml", "surprise = 1"), "multiperiod.surprise"),
    ("bad share", lambda f: append(f / "instance.toml", "donor_keep_share = 2"), "share in [0, 1]"),
    ("bad wait", lambda f: append(f / "instance.toml", "max_wait_days = -1"), "whole number >= 0"),
    ("bad switch", lambda f: append(f / "instance.toml", 'transfers = "yes"'), "true or false"),
    ("bad date", lambda f: edit(f / "instance.toml", '"2020-04-15"', '"15/04/2020"'), "YYYY-MM-DD"),
    (
        "total mismatch",
        lambda f: append(f / "instance.toml", "total_delivered = 7"),
        "deliveries.csv sums to 5",
    ),
    (
        "tranches mismatch",
        lambda f: append(f / "instance.toml", "tranche_days = [0, 1]"),
        "deliveries on days [0, 2]",
    ),
    (
        "depot is a region",
        lambda f: edit(f / "instance.toml", 'depots = ["D"]', 'depots = ["D", "A"]'),
        "also a region",
    ),
    (
        "bad kind",
        lambda f: append(f / "instance.toml", 'demand_kind = "beds"'),
        "census, new_patients",
    ),
    (
        "horizon shorter than demand",
        lambda f: edit(f / "instance.toml", "days = 4", "days = 3"),
        "outside the horizon",
    ),
    (
        "no length of stay",
        lambda f: (f / "regions.csv").write_text(
            "region,population,capacity,peak_demand\nA,1000,2,3\nB,1000,1,4\n"
        ),
        "length of stay",
    ),
]


def _pad(path: Path) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0]] + [line + ",0" for line in lines[1:]]) + "\n")


@pytest.mark.parametrize("name, mutate, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named(
    good: Path, name: str, mutate: Callable[[Path], None], message: str
) -> None:
    mutate(good)
    with pytest.raises(InputError) as info:
        load_multiperiod(good)
    text = "\n".join(str(p) for p in info.value.problems)
    assert message in text, text


def test_missing_demand_file_is_named(good: Path) -> None:
    (good / "demand.csv").unlink()
    with pytest.raises(InputError, match=r"demand\.csv: file not found"):
        load_multiperiod(good)


def test_messages_name_file_and_line(good: Path) -> None:
    append(good / "deliveries.csv", "9,1,D")
    with pytest.raises(InputError) as info:
        load_multiperiod(good)
    problem = info.value.problems[0]
    assert problem.file == "deliveries.csv" and problem.line == 4 and problem.column == "day"


def test_dates_are_accepted_with_a_start_date(good: Path) -> None:
    edit(good / "deliveries.csv", "2,2,D", "2020-04-17,2,D")
    assert load_multiperiod(good).deliveries.loc["D", 2] == 2.0


def test_capacity_table_holds_until_the_next_row(good: Path) -> None:
    (good / "capacity.csv").write_text("region,day,capacity,staff_cap\nA,1,5,\nA,3,4,2\n")
    inst = load_multiperiod(good)
    assert inst.own.loc["A"].tolist() == [2.0, 5.0, 5.0, 4.0]
    staff = inst.staff.loc["A"].tolist()
    assert staff[:3] == [float("inf")] * 3 and staff[3] == 2.0


def test_cli_style_settings_are_validated() -> None:
    with pytest.raises(InputError, match="donor_keep_share"):
        PlanSettings().replace(donor_keep_share=-0.5)
    with pytest.raises(InputError, match="batch_size"):
        PlanSettings().replace(batch_size=0)
    assert PlanSettings().replace(max_wait_days=None).max_wait_days == 0


# ---------------------------------------------------------------------------------------------
# Sanity bounds (docs/multiperiod.md, "Bounds"): absurd magnitudes are refused with the file,
# line and column, never an overflow deep in the model.

ABSURD: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "lead 1e19",
        lambda f: edit(f / "lead_times.csv", "D,A,1", "D,A,1e19"),
        "lead_times.csv, line 2, column 'days': must be at most 3,660 days",
    ),
    (
        "lead 1e300",
        lambda f: edit(f / "lead_times.csv", "A,B,1", "A,B,1e300"),
        "lead_times.csv, line 4, column 'days': must be at most 3,660 days",
    ),
    (
        "census 1e300",
        lambda f: edit(f / "demand.csv", "A,1,3", "A,1,1e300"),
        "demand.csv, line 3, column 'census': must be at most 1,000,000,000 patients",
    ),
    (
        "delivery 1e20",
        lambda f: append(f / "deliveries.csv", "1,100000000000000000000,D"),
        "deliveries.csv, line 4, column 'quantity': must be at most 1,000,000,000 units",
    ),
    (
        "deliveries adding up past the bound",
        lambda f: append(f / "deliveries.csv", "1,999999999,D\n3,999999999,D"),
        "deliveries.csv, column 'quantity': delivers 2,000,000,003 units in all",
    ),
    (
        "capacity 1e12",
        lambda f: (f / "capacity.csv").write_text("region,day,capacity\nA,1,1000000000000\n"),
        "capacity.csv, line 2, column 'capacity': must be at most 1,000,000,000 units",
    ),
    (
        "demand day far away",
        lambda f: (
            edit(f / "instance.toml", "days = 4\n", "")
            or append(f / "demand.csv", "A,99999999999,1")
        ),
        "outside the horizon (days 0..3,659, the longest horizon supported)",
    ),
    (
        "horizon",
        lambda f: edit(f / "instance.toml", "days = 4", "days = 1e300"),
        "multiperiod.days",
    ),
    (
        "wait",
        lambda f: append(f / "instance.toml", "max_wait_days = 1e300"),
        "must be a whole number >= 0 and <= 3,660",
    ),
    (
        "batch",
        lambda f: append(f / "instance.toml", "batch_size = 1e19"),
        "must be a whole number >= 1 and <= 1,000,000,000",
    ),
    (
        "length of stay",
        lambda f: edit(f / "regions.csv", "A,100000,2,1,1.0,0.0,2", "A,100000,2,1,1.0,0.0,9000"),
        "regions.csv, region 'A', column 'los_days': must be at most 3,660 days",
    ),
]


@pytest.mark.parametrize("name, mutate, message", ABSURD, ids=[c[0] for c in ABSURD])
def test_absurd_magnitudes_are_refused(
    good: Path, name: str, mutate: Callable[[Path], None], message: str
) -> None:
    mutate(good)
    with pytest.raises(InputError) as info:
        load_multiperiod(good)
    text = "\n".join(str(p) for p in info.value.problems)
    assert message in text, text


def test_every_file_is_checked_even_when_demand_is_bad(good: Path) -> None:
    """Problems in demand.csv do not hide those of the other files (every problem listed)."""
    edit(good / "demand.csv", "A,1,3\n", "")
    append(good / "deliveries.csv", "1,1,X")
    append(good / "lead_times.csv", "D,Q,1")
    with pytest.raises(InputError) as info:
        load_multiperiod(good)
    text = "\n".join(str(p) for p in info.value.problems)
    expected = ("region 'A' has no row for day 1", "unknown depot 'X'", "unknown region 'Q'")
    for message in expected:
        assert message in text, text
    assert "sums to" not in text  # no echo of the bad delivery row in the totals check
