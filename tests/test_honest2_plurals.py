"""No "1 units" in what users read (track honest2, item 2): a count of units, patients or
shipments is written with optimiser.errors.counted (or the replay's own helpers, which say the
same: units_text, patients), never as "{n} units". check-plan said "A has 2 patients in
treatment on day 0 but 1 units" (units_taken_from_patients), evaluate "supply: sends 1 units".

The scan (like the "(s)" scan of tests/test_leftovers4_plurals.py) reads every f-string of the
product: a formatted count followed by " units", " patients" or " shipments" is flagged unless
it cannot be 1 (the upper end of a range "2-3 units", a named constant, a count written with
decimals) or is listed below with its reason."""

from __future__ import annotations

import ast
import re
from itertools import pairwise
from pathlib import Path

import pytest
from simulate_reference import reference_simulate
from test_multiperiod_support import write_instance

import optimiser
from optimiser.multiperiod import check_plan, load_multiperiod
from optimiser.multiperiod.plan_io import plan_rows
from optimiser.multiperiod.simulate import simulate

REPO = Path(__file__).resolve().parents[1]
COUNTED = re.compile(r" (units|patients|shipments)\b")
DECIMALS = re.compile(r"\.[1-9]")  # '{x:,.1f} patients': never '1'
# (file, the formatted expression): why it may stay
KEPT = {
    # the plural branch of a conditional ('1 unit is free' otherwise)
    ("optimiser/multiperiod/simulation.py", "free"): "written only when free != 1",
    # written only when total > MAX_UNITS (10^9-odd units): never 1
    ("optimiser/multiperiod/input_tables.py", "total"): "only above MAX_UNITS",
}


def bare_counts(path: Path) -> list[tuple[int, str]]:
    """(line, expression) of every f-string count followed by a counted noun in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.JoinedStr):
            continue
        parts = node.values
        for i, (value, text) in enumerate(pairwise(parts)):
            if not (isinstance(value, ast.FormattedValue) and isinstance(text, ast.Constant)):
                continue
            if not isinstance(text.value, str) or not COUNTED.match(text.value):
                continue
            before = parts[i - 1] if i else None
            if isinstance(before, ast.Constant) and str(before.value).rstrip().endswith(
                ("-", "->")
            ):
                continue  # the upper end of a range: '2-3 units', '4 -> 2 units'
            expression = ast.unparse(value.value)
            if expression.split(".")[-1].isupper():
                continue  # a named bound (MAX_UNITS): never 1
            spec = value.format_spec
            if spec is not None and DECIMALS.search(ast.unparse(spec)):
                continue
            found.append((node.lineno, expression))
    return found


def test_no_message_writes_a_bare_count_of_units() -> None:
    found = []
    for path in sorted((REPO / "optimiser").rglob("*.py")):
        name = str(path.relative_to(REPO))
        found += [
            f"{name}:{line}: {{{expression}}}"
            for line, expression in bare_counts(path)
            if (name, expression) not in KEPT
        ]
    assert not found, "use optimiser.errors.counted:\n" + "\n".join(found)


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    path = tmp_path / "sample.py"
    path.write_text(
        "n = 1\n"
        'a = f"sends {n} units"\n'  # flagged
        'b = f"{n} patients in treatment"\n'  # flagged
        'c = f"{n:g} shipments"\n'  # flagged
        'd = f"{n}-{n + 1} units"\n'  # a range: its upper end
        'e = f"{n:,.1f} patients"\n'  # decimals
        'f = f"at most {MAX_UNITS:,} units"\n'  # a named bound
        'g = f"{n} unitsx"\n'  # another word
    )
    assert [expression for _, expression in bare_counts(path)] == ["n", "n", "n"]


def check_messages(folder: Path, tmp_path: Path, rows: list[str]) -> list[str]:
    """check-plan's messages, after asserting the reference replay says the same word for
    word (tests/simulate_reference.py)."""
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(["kind,day,from,to,units,arrives,cohort_day", *rows]) + "\n")
    inst = load_multiperiod(folder)
    table = plan_rows(path, inst, name=path.name)
    fast, reference = simulate(inst, table), reference_simulate(inst, table)
    ours = [(v.rule, v.day, v.message) for v in fast.violations]
    assert ours == [(v.rule, v.day, v.message) for v in reference.violations]
    return [v["message"] for v in check_plan(inst, path).violations]


@pytest.fixture
def lender(tmp_path: Path) -> Path:
    """A owns 2 units and has 2 patients on day 0 (stays 2 days); B owns none."""
    return write_instance(
        tmp_path / "lender",
        [
            {"region": "A", "capacity": 2, "los_days": 2},
            {"region": "B", "capacity": 0, "los_days": 2},
        ],
        {"A": [2, 0, 0], "B": [0, 0, 0]},
        leads=[("A", "B", 1), ("B", "A", 1)],
    )


def test_one_unit_taken_from_patients(lender: Path, tmp_path: Path) -> None:
    messages = check_messages(lender, tmp_path, ["admit,0,A,A,2,0,0", "transfer,1,A,B,1,2,"])
    assert messages == ["A sends 1 unit on day 1: 2 on hand, 2 in use by patients, only 0 spare"]


def test_patients_beyond_one_unit(tmp_path: Path) -> None:
    """A's capacity drops from 2 units to 1 on day 1 while its 2 patients are in treatment."""
    folder = write_instance(
        tmp_path / "drop",
        [{"region": "A", "capacity": 2, "los_days": 2}],
        {"A": [2, 0, 0]},
        capacity=[("A", 1, 1, None)],
    )
    messages = check_messages(folder, tmp_path, ["admit,0,A,A,2,0,0"])
    assert "A has 2 patients in treatment on day 1 but 1 unit" in messages
    assert not [m for m in messages if re.search(r"\b1 (units|patients)\b", m)], messages


def test_one_unit_beyond_the_stock(lender: Path, tmp_path: Path) -> None:
    messages = check_messages(lender, tmp_path, ["transfer,0,B,A,1,1,"])
    assert "B sends 1 unit on day 0, but holds 0" in messages


def test_evaluate_one_unit_over_the_supply() -> None:
    instance = optimiser.instance_from_dict(
        {
            "name": "one",
            "supply": 0,
            "regions": [
                {"region": "A", "population": 1000, "capacity": 0, "peak_demand": 2,
                 "survival_with": 0.9, "survival_without": 0.1, "los_days": 5},
            ],
        }
    )
    result = optimiser.evaluate(instance, {"A": 1})
    assert "supply: sends 1 unit, supply is 0" in result.violations
