"""Errors the engine raises on purpose, each mapped to a documented exit code."""

from __future__ import annotations

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

    def summary(self) -> str:
        first = str(self.problems[0]) if self.problems else "invalid input"
        more = len(self.problems) - 1
        return first if more == 0 else f"{first} (and {more} more problem{'s' * (more > 1)})"


class InfeasibleError(TriageError):
    """The active constraint set admits no allocation; `explanation` says why."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, explanation: str) -> None:
        self.explanation = explanation
        super().__init__(explanation)
