"""Counts in proper singular or plural in what users read (track leftovers4, item 2): no
"column(s)", "region(s)", "scenario(s)", "move(s)", "day(s)" ... left in the messages
(optimiser.errors.counted, plural, listed), and check-plan's "admits 1 patient" (was "admits 1
patients"), the same word for word in the reference replay (tests/simulate_reference.py)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pandas as pd
import pytest
from simulate_reference import reference_simulate
from test_multiperiod_support import write_instance

from optimiser.errors import InputError, counted, listed, plural
from optimiser.multiperiod import check_plan, load_multiperiod
from optimiser.multiperiod.plan_io import plan_rows
from optimiser.multiperiod.simulate import simulate
from optimiser.report import changes_text

REPO = Path(__file__).resolve().parents[1]
HEDGED = re.compile(r"[a-z]\(s\)")  # 'column(s)', 're-plan(s)'
# the generator's instance.toml description ("1 depot(s)"): a file's text, not a message; its
# words are part of every generated instance's fingerprint (benchmarks reuse those instances)
KEPT = {"optimiser/multiperiod/generator.py"}


def test_no_message_hedges_its_plural() -> None:
    """Every string literal of the product (f-strings included): none says 'word(s)'."""
    found = []
    for path in sorted((REPO / "optimiser").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kept = str(path.relative_to(REPO)) in KEPT
            if tok.type == tokenize.STRING and HEDGED.search(tok.string) and not kept:
                found.append(f"{path.relative_to(REPO)}:{tok.start[0]}: {tok.string[:60]}")
    for path in sorted((REPO / "optimiser").rglob("*.j2")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in HEDGED.finditer(text)]
    assert not found, "\n".join(found)


def test_the_helpers() -> None:
    assert [counted(n, "day") for n in (1, 2, 0)] == ["1 day", "2 days", "0 days"]
    assert counted(1_024, "row") == "1,024 rows" and counted(2.0, "unit") == "2 units"
    assert counted(1.0, "unit") == "1 unit" and counted(2.5, "unit") == "2.5 units"
    assert [plural(1, "column"), plural(3, "column")] == ["column", "columns"]
    assert listed("column", ["day"]) == "column: day"
    assert listed("column", ["day", "units"]) == "columns: day, units"
    assert listed("region", ["B"], " ") == "region B"


def test_one_missing_column_and_two(tmp_path: Path) -> None:
    folder = write_instance(
        tmp_path / "inst", [{"region": "A", "capacity": 1, "los_days": 2}], {"A": [1, 0]}
    )
    regions = pd.read_csv(folder / "regions.csv")
    for drop, expected in (
        (["capacity"], "missing required column: capacity"),
        (["capacity", "population"], "missing required columns: population, capacity"),
    ):
        regions.drop(columns=drop).to_csv(folder / "regions.csv", index=False)
        with pytest.raises(InputError) as caught:
            load_multiperiod(folder)
        assert expected in str(caught.value)
        assert "(s)" not in str(caught.value)


def test_one_region_gains_and_one_loses() -> None:
    table = pd.DataFrame({"change": [3, -3, 0]}, index=["C", "B", "A"])
    assert changes_text(table) is not None
    text = changes_text(table) or ""
    assert "1 region gains 3 units (C +3)" in text and "1 region loses 3 units (B -3)" in text
    two = pd.DataFrame({"change": [2, 1, -3]}, index=["C", "D", "B"])
    assert "2 regions gain 3 units" in (changes_text(two) or "")


@pytest.fixture
def one_patient(tmp_path: Path) -> Path:
    """A has no unit and 1 patient on day 0 (stays 2 days); B has 1 unit and 1 patient."""
    return write_instance(
        tmp_path / "one",
        [
            {"region": "A", "capacity": 0, "los_days": 2},
            {"region": "B", "capacity": 1, "los_days": 2},
        ],
        {"A": [1, 0, 0], "B": [1, 0, 0]},
        leads=[("A", "B", 1), ("B", "A", 1)],
        multiperiod={"patient_transfers": True},
    )


def replayed(folder: Path, tmp_path: Path, rows: list[str]) -> dict[str, str]:
    """check-plan's message per rule, after asserting the reference replay says the same."""
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(["kind,day,from,to,units,arrives,cohort_day", *rows]) + "\n")
    inst = load_multiperiod(folder)
    table = plan_rows(path, inst, name=path.name)
    fast, reference = simulate(inst, table), reference_simulate(inst, table)
    ours = [(v.rule, v.day, v.message) for v in fast.violations]
    assert ours == [(v.rule, v.day, v.message) for v in reference.violations]
    result = check_plan(inst, path)
    return {v["rule"]: v["message"] for v in result.violations}


def test_admits_one_patient(one_patient: Path, tmp_path: Path) -> None:
    messages = replayed(one_patient, tmp_path, ["admit,0,A,A,1,0,0"])
    assert messages["no_free_unit"] == "admits 1 patient in A on day 0, but only 0 units are free"


def test_one_patient_waits_while_one_unit_is_free(one_patient: Path, tmp_path: Path) -> None:
    messages = replayed(one_patient, tmp_path, ["admit,0,A,A,1,0,0"])
    idle = messages.get("idle_while_waiting", str(messages))
    assert idle.startswith("B: 1 patient of cohort day 0 waits (or is turned away) on day 0 "
                           "while 1 staffed unit is free there for their whole stay (2 days)")
