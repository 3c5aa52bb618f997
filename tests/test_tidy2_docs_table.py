"""docs/multiperiod.md's results on `us-states-apr2020` are today's plans: every row of its
table (and the survivors redistribution adds, in the sentence below it) recomputed here.

The table had gone stale (`--max-wait 2` with redistribution said 21,686.4 survivors and
33,894 ventilator-days short where the planner gave 21,443.10 and 19,290.8): the docs runner
(tests/test_docs.py) executes the pages' commands but does not compare the figures written
beside them. The "nothing shipped" row is also replayed through check-plan (an empty plan,
admissions simulated), which must agree with the planner's own plan with no deliveries.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from optimiser.multiperiod import check_plan, load_multiperiod, plan
from optimiser.multiperiod.instance import MultiPeriodInstance

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "multiperiod.md"
INSTANCE = REPO / "instances" / "us-states-apr2020"

# the table's rows (their first cell) and the settings each was planned with
ROWS: dict[str, dict[str, Any]] = {
    "nothing shipped, no transfers": {"transfers": False, "deliveries": False},
    "deliveries, **without** redistribution": {"transfers": False},
    "deliveries, **with** redistribution between states": {},
    "with redistribution, donors keep ≥ 50% of their own": {"donor_keep_share": 0.5},
    "without redistribution, patients may wait 2 days": {"transfers": False, "max_wait_days": 2},
    "with redistribution, patients may wait 2 days": {"max_wait_days": 2},
}
SLOW = {
    "without redistribution, patients may wait 2 days",
    "with redistribution, patients may wait 2 days",
}  # 5-7 s each on a loaded machine


def table() -> dict[str, list[str]]:
    """The results table under "Results on the shipped instances": first cell -> the others."""
    text = PAGE.read_text(encoding="utf-8")
    section = text[text.index("## Results on the shipped instances") :]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| plan |"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
        elif rows and not line.startswith("|"):
            break
    return rows


@pytest.fixture(scope="module")
def instance() -> MultiPeriodInstance:
    return load_multiperiod(INSTANCE)


_PLANS: dict[str, Any] = {}


def planned(instance: MultiPeriodInstance, row: str) -> Any:
    """The row's plan, made once per module."""
    if row not in _PLANS:
        settings = dict(ROWS[row])
        inst = instance
        if not settings.pop("deliveries", True):
            inst = dataclasses.replace(inst, deliveries=inst.deliveries * 0)
        _PLANS[row] = plan(inst.with_settings(**settings), price_of_fairness=False)
    return _PLANS[row]


def figures(result: Any) -> list[str]:
    """A plan's cells as the table writes them."""
    moves = result.manifest
    shipped = moves.loc[moves["kind"] == "ship", "units"].astype(float).sum()
    moved = moves.loc[moves["kind"] == "transfer", "units"].astype(float).sum()
    never = float(result.regions["not_admitted"].sum())
    return [
        f"{result.lives_saved:,.1f}",
        f"{result.shortfall:,.0f}",
        f"{result.supply_shortfall:,.0f}",
        f"{never:,.0f}",
        f"{shipped:,.0f} / {moved:,.0f}",
    ]


def test_the_table_lists_every_row() -> None:
    assert list(table()) == list(ROWS)


@pytest.mark.parametrize(
    "row", [pytest.param(r, marks=pytest.mark.slow) if r in SLOW else r for r in ROWS]
)
def test_each_row_is_todays_plan(instance: MultiPeriodInstance, row: str) -> None:
    result = planned(instance, row)
    assert result.status.value == "optimal"
    assert [c.replace("**", "") for c in table()[row]] == figures(result), row


def test_nothing_shipped_is_the_replay_of_an_empty_plan(
    instance: MultiPeriodInstance, tmp_path: Path
) -> None:
    """check-plan, given no rows, simulates the admissions (every patient admitted while a
    unit is free): with nothing shipped and no waiting that is the best plan there is."""
    empty = tmp_path / "plan.csv"
    empty.write_text("kind,day,from,to,units\n")
    replay = check_plan(instance.with_settings(transfers=False), empty)
    row = planned(instance, "nothing shipped, no transfers")
    assert replay.ok
    assert replay.survivors == pytest.approx(row.lives_saved, abs=1e-6)


@pytest.mark.slow
def test_the_survivors_redistribution_adds(instance: MultiPeriodInstance) -> None:
    text = PAGE.read_text(encoding="utf-8")
    said = re.search(
        r"Redistribution adds ([\d,]+) expected survivors \(([\d,]+) when patients may wait",
        text,
    )
    assert said is not None
    lives = {r: planned(instance, r).lives_saved for r in ROWS}
    plain = (
        lives["deliveries, **with** redistribution between states"]
        - lives["deliveries, **without** redistribution"]
    )
    waiting = (
        lives["with redistribution, patients may wait 2 days"]
        - lives["without redistribution, patients may wait 2 days"]
    )
    assert [said.group(1), said.group(2)] == [f"{plain:,.0f}", f"{waiting:,.0f}"]
