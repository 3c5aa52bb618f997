"""`triage plan DIR --scenarios ...`: the two-stage plan (optimiser.stochastic), its report and
files (docs/stochastic.md). Called by `plan` in optimiser/cli/plan.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optimiser.cli import warn
from optimiser.cli.common import exit_without_answer, output_reserve, write_outputs
from optimiser.cli.regional import fail_with_problems
from optimiser.errors import InputError
from optimiser.stochastic.compare_budget import OutOfTime

if TYPE_CHECKING:
    from optimiser.deadline import Deadline
    from optimiser.multiperiod.instance import MultiPeriodInstance
    from optimiser.reporting.model import Report
    from optimiser.scenarios.model import ScenarioSet
    from optimiser.stochastic.results import StochasticResult


def stochastic_plan(
    instance_dir: Path,
    instance: MultiPeriodInstance,
    scenarios: str,
    constraints: list[str],
    *,
    default_constraints: bool,
    commit_days: int,
    risk: str | None,
    compare: bool,
    evaluate_on: str | None,
    buffer: float,
    executed: Path | None,
    today: int | None,
    time_limit: float | None,
    gap: float | None,
    tie_break: bool,
    price: bool,
    out: Path | None,
    json_output: bool,
    relax_recourse: bool = False,
    report: bool = False,
    deadline: Deadline | None = None,
    loading: float | None = None,
    method: str = "auto",
) -> None:
    """`plan --scenarios`: the two-stage plan (optimiser.stochastic), its report and files.
    Every input is validated before anything is written (exit 2). `deadline`: the command's
    budget (from the process's start; `loading`: when loading the instance began), shared by
    the plan, --compare and --report, less what writing the answer will take."""
    import json
    import sys

    from optimiser.cli import Verbosity
    from optimiser.cli.scenarios import _scenarios_for
    from optimiser.stochastic.plan_compare import plan_and_compare
    from optimiser.stochastic.report import stochastic_text, write_stochastic_outputs

    def chosen(text: str) -> str | None:
        return None if text == "instance" else text

    page: Report | None = None
    progress = not json_output and not Verbosity.quiet() and sys.stderr.isatty()
    try:
        planning = _scenarios_for(instance_dir, instance, chosen(scenarios))
        held_out = (
            None
            if evaluate_on is None
            else _scenarios_for(instance_dir, instance, chosen(evaluate_on))
        )
        budget = None
        if deadline is not None and deadline.limit is not None:
            began = loading if loading is not None else time.perf_counter()
            budget = output_reserve(deadline, began)
        # the plan is the answer: with --compare or --report it takes half of the budget
        # left (a third with both), the comparison and the fan charts what it leaves
        result, comparison = plan_and_compare(
            instance,
            planning,
            constraints,
            compare_plans=compare,
            evaluation=held_out,
            buffer=buffer,
            commit_days=commit_days,
            risk=risk,
            default_constraints=default_constraints,
            executed=executed,
            today=today,
            time_limit=time_limit,
            deadline=budget,
            mip_gap=gap,
            tie_break=tie_break,
            price_of_fairness=price,
            relax_recourse=relax_recourse,
            progress=progress,
            method=method,
            parts_after=int(report and out is not None),
        )
        if report and out is not None and result.expected_lives is not None:
            try:
                page = stochastic_report(instance, planning, result, constraints,
                                         default_constraints, budget)
            except OutOfTime as why:  # no fan from part of the scenarios
                warn(f"report.html not written: its fan charts' {why}: raise --time-limit")
    except InputError as exc:  # the scenarios' problems are placed in their files already
        fail_with_problems(exc, instance_dir, executed)
    if out is not None and result.expected_lives is not None:

        def write(folder: Path) -> None:
            write_stochastic_outputs(result, folder, comparison)
            if page is not None:
                from optimiser.reporting.build import write_report_files

                write_report_files(page, folder)

        write_outputs(out, write)
    if json_output:
        payload = result.to_dict()
        if comparison is not None:
            payload["comparison"] = comparison.to_dict()
        typer.echo(json.dumps(payload, indent=2, allow_nan=False))
    else:
        typer.echo(stochastic_text(result, comparison))
    exit_without_answer(
        result.status, result.explanation, result.expected_lives is not None, "plan"
    )


def stochastic_report(
    instance: MultiPeriodInstance,
    scenarios: ScenarioSet,
    result: StochasticResult,
    constraints: list[str],
    default_constraints: bool,
    deadline: Deadline | None = None,
) -> Report:
    """The report of a two-stage plan with its fan charts: each planning scenario's recourse
    (the re-plan with the commit fixed, under the plan's constraints) replayed by the
    simulator."""
    import sys

    from optimiser.reporting.stochastic import build_stochastic_report
    from optimiser.stochastic.fan import fan_data

    fan = fan_data(instance, scenarios, result, constraints=constraints,
                   default_constraints=default_constraints, deadline=deadline)
    return build_stochastic_report(instance, result, fan, command=["triage", *sys.argv[1:]])
