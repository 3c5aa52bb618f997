"""Errors the engine raises on purpose, each mapped to a documented exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

EXIT_OK = 0
EXIT_RULES_BROKEN = 1  # scored, and breaks rules: `triage evaluate` and `triage check-plan`
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_INTERNAL = 4


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as possible."""

    message: str
    file: str | None = None
    line: int | None = None
    column: str | None = None
    region: str | None = None
    line_word: str = "line"  # "row" for DataFrames given in Python
    column_word: str = "column"  # "option" for an argument of a command or function

    def __post_init__(self) -> None:
        # a line number read from a table (numpy.int64) as a plain int: problems are written as
        # JSON (`--json`, the service), which takes no numpy scalar
        if isinstance(self.line, Integral) and type(self.line) is not int:
            object.__setattr__(self, "line", int(self.line))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.line is not None:
            where.append(f"{self.line_word} {self.line}")
        if self.region is not None:
            where.append(f"region '{self.region}'")
        if self.column:
            where.append(f"{self.column_word} '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def for_command_line(self) -> str:
        """The problem as the `triage` command line says it: an option named as the user types
        it (`--time-limit: must be ...`), not as the engine's argument (`option 'time_limit'`);
        any other problem as str() says it."""
        if self.column_word != "option" or not self.column:
            return str(self)
        located = Problem("", self.file, self.line, None, self.region, self.line_word)
        where = [str(located).removesuffix(": ")] if str(located) else []
        return f"{', '.join([*where, option_flag(self.column)])}: {self.message}"


# engine arguments whose `triage` option has another name (tests/test_leftovers_cli_options.py)
OPTION_FLAGS = {
    "mip_gap": "--gap",
    "site": "--sites",
    "max_wait_days": "--max-wait",  # the planner's settings (PlanSettings.replace)
    "donor_keep_share": "--donor-share",
}


def counted(n: float, noun: str) -> str:
    """'1 problem', '2 problems', '1,024 problems': a count and its noun, singular or plural
    (the plural adds an s: every noun counted so is regular). A count that is not whole
    (units of a plan, 2.5) is written as it is, and plural."""
    text = f"{int(n):,}" if float(n).is_integer() else f"{n:g}"
    return f"{text} {noun}{'' if n == 1 else 's'}"


def plural(n: int, noun: str) -> str:
    """The noun for `n` of it, without the count: 'column' for 1, 'columns' otherwise (a list
    follows it: "missing required columns: day, units")."""
    return noun if n == 1 else f"{noun}s"


def listed(noun: str, items: Sequence[str], sep: str = ": ") -> str:
    """'column: day' or 'columns: day, units': the noun for as many items, then the items."""
    return f"{plural(len(items), noun)}{sep}{', '.join(items)}"


def option_flag(name: str) -> str:
    """An option as the user types it: `time_limit`, `time-limit` and `--time-limit` are all
    `--time-limit`."""
    bare = name.strip().lstrip("-")
    return OPTION_FLAGS.get(bare) or "--" + bare.replace("_", "-")


def option_problem(option: str, message: str) -> Problem:
    """A problem with the value of an option or argument: the command line says
    `--time-limit: MESSAGE`, Python `option 'time_limit': MESSAGE` (Problem.for_command_line)."""
    return Problem(message, column=option, column_word="option")


class TriageError(Exception):
    """Base class of the engine's own errors."""

    exit_code = EXIT_INTERNAL


class InputError(TriageError):
    """Invalid instance, parameter or usage. Carries every problem found."""

    exit_code = EXIT_INPUT

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.summary())

    def summary(self, command_line: bool = False) -> str:
        """The first problem and how many more (`command_line`: options as typed)."""
        if self.problems:
            first = self.problems[0]
            first_text = first.for_command_line() if command_line else str(first)
        else:
            first_text = "invalid input"
        more = len(self.problems) - 1
        return first_text if more <= 0 else f"{first_text} (and {counted(more, 'more problem')})"


class InfeasibleError(TriageError):
    """The active constraint set admits no allocation; `explanation` says why."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, explanation: str) -> None:
        self.explanation = explanation
        super().__init__(explanation)
