"""Counts of problems in proper singular or plural (track leftovers3): "1 problem found in
instances/italy-2020-wave1/instance.toml" (was "1 problem(s) found"), "2 problems found",
"(and 1 more problem)", "1 more problem in this file"."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multiperiod_cli import triage

from optimiser.cli.common import ProblemsIn
from optimiser.errors import InputError, Problem, counted
from optimiser.textfiles import MAX_PROBLEMS_PER_FILE, ProblemList

ITALY = Path(__file__).resolve().parents[1] / "instances" / "italy-2020-wave1"


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 problems"), (1, "1 problem"), (2, "2 problems"), (1024, "1,024 problems")],
)
def test_counted(n: int, text: str) -> None:
    assert counted(n, "problem") == text


def test_scenarios_instance_without_scenarios_counts_one_problem() -> None:
    done = triage("plan", ITALY, "--scenarios", "instance")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"1 problem found in {ITALY / 'instance.toml'}"
    assert "(s)" not in done.stderr.splitlines()[-1]


def test_the_count_line_says_one_problem_or_several() -> None:
    one = ProblemsIn(InputError(Problem("bad", column="x", column_word="option")), "DIR")
    assert one.count_line() == "1 problem found in the command line"
    two = ProblemsIn(InputError([Problem("a"), Problem("b")]), "DIR")
    assert two.count_line() == "2 problems found in DIR"
    mixed = ProblemsIn(
        InputError([Problem("a"), Problem("b", column="x", column_word="option")]), "DIR"
    )
    assert mixed.count_line() == "2 problems found: 1 in DIR, 1 in the command line"


def test_one_more_problem_is_singular() -> None:
    assert InputError([Problem("a"), Problem("b")]).summary() == "a (and 1 more problem)"
    assert InputError([Problem("a"), Problem("b"), Problem("c")]).summary() == (
        "a (and 2 more problems)"
    )
    problems: list[Problem] = []
    listed = ProblemList(problems, "regions.csv")
    for i in range(MAX_PROBLEMS_PER_FILE + 1):
        listed.add(Problem(f"row {i}", file="regions.csv"))
    listed.close()
    assert problems[-1].message.startswith("1 more problem in this file, not listed")
