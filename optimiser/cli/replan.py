"""What `triage plan` and `triage scenarios saa` share when they plan on from executed moves
(`--executed`, `--today`): the --today option, the arguments they pass alike to their planner
(`optimiser.multiperiod.plan`, `optimiser.stochastic.replications.saa`) and where the problems
of their inputs are said to be: all in the executed file when one of them is its, else in the
instance folder (the count line, "N problems found in WHERE")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from optimiser.cli.regional import fail_with_problems
from optimiser.errors import InputError

TodayOpt = Annotated[
    int | None,
    typer.Option(help="Re-plan from this day (default: the day after the last executed dispatch)."),
]


@dataclass(frozen=True)
class PlanCall:
    """The options a planning command passes alike to its planner."""

    instance_dir: Path
    constraints: list[str]
    default_constraints: bool
    executed: Path | None
    today: int | None
    time_limit: float | None
    mip_gap: float | None

    def arguments(self) -> dict[str, Any]:
        """The planner's keyword arguments (constraints, default_constraints, executed, today,
        time_limit, mip_gap)."""
        return {
            "constraints": self.constraints,
            "default_constraints": self.default_constraints,
            "executed": self.executed,
            "today": self.today,
            "time_limit": self.time_limit,
            "mip_gap": self.mip_gap,
        }

    @contextmanager
    def problems_placed(self) -> Iterator[None]:
        """Input problems raised inside, listed on stderr with their place (exit 2): the
        executed file when one of them is in it, else the instance folder."""
        try:
            yield
        except InputError as exc:
            executed = self.executed
            wrong = executed is not None and any(p.file == executed.name for p in exc.problems)
            fail_with_problems(exc, executed if wrong else self.instance_dir)
