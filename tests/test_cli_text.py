"""The text a newcomer reads: the answer and why first, the regions that matter, short lines,
and what is left out said plainly (the policies' units table above 12 regions)."""

from __future__ import annotations

from pathlib import Path

import optimiser
from optimiser.report import allocation_text, comparison_text, price_text

REPO = Path(__file__).resolve().parents[1]
US = REPO / "instances" / "us-states-2020"


def test_us_floor_text_is_short_and_names_what_matters() -> None:
    inst = optimiser.load_instance(US)
    result = optimiser.solve(inst, ["per_capita_floor:share=0.3"])
    text = allocation_text(result, inst) + "\n" + price_text(result)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120  # no 700-character line
    assert len(lines) < 45  # not 50 rows of regions
    assert "lives/unit" in text and text.index("Why: ") < text.index("\nNY ")
    # the 44 states that get units no patient needs at the peak: one line, not 44 rows
    idle = next(line for line in lines if "no patient" in line)
    assert idle.startswith("44 regions receive 585 ventilators")
    change = " ".join(text[text.index("Against the lives-optimal allocation"):].split())
    assert "1 region loses 636 units (MA -636)" in change and "and 42 more" in change


def test_equal_lives_per_unit_is_explained_first(pugh) -> None:
    text = allocation_text(optimiser.solve(pugh), pugh)
    assert text.index("saves the same 1.00 expected lives") < text.index("\nA ")
    table = optimiser.compare(pugh)
    compared = comparison_text(table, pugh)
    assert compared.startswith("Every policy saves 1,000.0 expected lives here")
    assert "Units by region:\n" in compared  # 4 regions: the table is shown


def test_compare_says_when_it_leaves_out_the_units_table() -> None:
    inst = optimiser.load_instance(US)
    text = comparison_text(optimiser.compare(inst), inst)
    assert "Units by region: not shown for 50 regions (more than 12)" in text
    ranked = [line.split()[0] for line in text.splitlines()[3:9]]
    assert ranked[0] == "optimal"  # best first
