"""`triage scenarios saa DIR`: sample-average approximation of the two-stage planner with
independent replications and statistical bounds on the optimality gap (Mak, Morton and Wood
1999; optimiser.stochastic.replications, docs/stochastic.md, "Sample-average approximation").
Registers on `triage scenarios` (optimiser/cli/scenarios.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from optimiser.cli.common import (
    DaskSchedulerOpt,
    JsonOpt,
    NoDefaults,
    WorkersOpt,
    check_out_apart,
    write_outputs,
)
from optimiser.cli.plan import ConstraintOpt
from optimiser.cli.replan import PlanCall, TodayOpt
from optimiser.cli.scenarios import Dir, _load, scenarios_app
from optimiser.errors import InputError, Problem, counted

if TYPE_CHECKING:
    from optimiser.multiperiod.instance import MultiPeriodInstance
    from optimiser.stochastic.replications import SaaResult, Source


@scenarios_app.command("saa")
def saa_command(
    instance_dir: Dir,
    scenarios: Annotated[
        str | None,
        typer.Option(
            "--scenarios",
            "-s",
            help="Take this scenario set (folder or CSV) as the true distribution and draw "
            "from it with replacement (default: the generator of --method or of instance.toml's "
            "[uncertainty] table, run with fresh seeds).",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="Generator to sample from: lognormal (its defaults), or the "
            "instance's [uncertainty] method with its parameters."
        ),
    ] = None,
    replications: Annotated[
        int, typer.Option("--replications", "-M", help="Independent SAA problems M (>= 2).")
    ] = 10,
    sample: Annotated[
        int, typer.Option("--sample", "-N", help="Scenarios N in each SAA problem.")
    ] = 10,
    evaluate_on: Annotated[
        int,
        typer.Option("--evaluate-on", help="Fresh scenarios N' scoring the candidate (N' >> N)."),
    ] = 200,
    select_on: Annotated[
        int | None,
        typer.Option(help="Scenarios of the sample choosing the candidate (default N)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Master seed (same seed, same answer).")] = 0,
    confidence: Annotated[float, typer.Option(help="Level of the one-sided bounds (0.95).")] = 0.95,
    commit_days: Annotated[
        int, typer.Option("--commit-days", help="The first-stage window in days (7).")
    ] = 7,
    risk: Annotated[
        str | None,
        typer.Option(
            help="Risk measure, as `triage plan --risk`: neutral, cvar:alpha=A,lambda=L or "
            "worst:alpha=A (the bounds then bound E(lives) - L x CVaR_A(deaths), or "
            "-CVaR_A(deaths))."
        ),
    ] = None,
    executed: Annotated[
        Path | None,
        typer.Option(
            help="CSV of units already dispatched (as `triage plan --executed`): fixed in "
            "every scenario; the commit window starts at --today."
        ),
    ] = None,
    today: TodayOpt = None,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    gap: Annotated[
        float | None, typer.Option(help="Relative MIP gap of each SAA problem (default none).")
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            help="Seconds for the whole run; past it nothing is reported (exit 4).",
        ),
    ] = None,
    workers: WorkersOpt = None,
    dask_scheduler: DaskSchedulerOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write saa.json, replications.csv, committed.csv (the candidate) and "
            "executed.csv (the executed moves, then the commit: the next --executed)."
        ),
    ] = None,
    json_output: JsonOpt = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Sample-average approximation: M replications of N scenarios, the candidate's
    out-of-sample lives on N' scenarios, and bounds on its optimality gap."""
    import json
    import sys
    import time

    from optimiser.cli import Verbosity
    from optimiser.cli.common import command_deadline, output_reserve
    from optimiser.stochastic.replications import saa

    deadline = command_deadline(time_limit)  # the budget counts start-up and loading too
    loading = time.perf_counter()
    instance = _load(instance_dir)
    call = PlanCall(
        instance_dir, constraint or [], not no_default_constraints, executed, today, time_limit, gap
    )
    with call.problems_placed():
        if out is not None:
            check_out_apart(out, {"instance": instance_dir})
        source = _source(instance_dir, instance, scenarios, method)
        left = time_limit  # what is left of it, less writing (a bad value: saa explains it)
        if time_limit is not None and 0 < time_limit < math.inf:
            left = output_reserve(deadline, loading).remaining()
        result = saa(
            instance,
            source,
            **{**call.arguments(), "time_limit": left},
            replications=replications,
            sample_size=sample,
            evaluation_size=evaluate_on,
            selection_size=select_on,
            seed=seed,
            confidence=confidence,
            commit_days=commit_days,
            risk=risk,
            workers=workers,
            scheduler=dask_scheduler,
            progress=not (no_progress or json_output or Verbosity.quiet()) and sys.stderr.isatty(),
        )
    if out is not None:

        def write(folder: Path) -> None:
            (folder / "saa.json").write_text(result.to_json() + "\n")
            result.per_replication.to_csv(folder / "replications.csv")
            whole = "%.15g"  # "4", not "4.0", as plan.csv
            result.committed.to_csv(folder / "committed.csv", index=False, float_format=whole)
            result.executed_rows().to_csv(folder / "executed.csv", index=False, float_format=whole)

        write_outputs(out, write)
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
        return
    typer.echo(saa_text(result))


def _source(
    instance_dir: Path, instance: MultiPeriodInstance, scenarios: str | None, method: str | None
) -> Source:
    from optimiser.cli.scenarios import _scenarios_for
    from optimiser.scenarios.table import GeneratorRequest, request_from_table

    if scenarios is not None:
        if method is not None:
            raise InputError(
                Problem(
                    "give --scenarios or --method, not both", column="method", column_word="option"
                )
            )
        return _scenarios_for(instance_dir, instance, scenarios)
    table = instance.base.extra.get("uncertainty")
    if table is not None and method in (None, table.get("method")):
        return request_from_table(table)
    if method is None:
        raise InputError(
            Problem(
                "give --scenarios (a set to resample) or --method (a generator): the instance "
                "has no [uncertainty] table",
                column="method",
                column_word="option",
            )
        )
    if method != "lognormal":
        raise InputError(
            Problem(
                f"--method {method!r} needs forecasts: describe it in instance.toml's "
                "[uncertainty] table (or use lognormal)",
                column="method",
                column_word="option",
            )
        )
    return GeneratorRequest(method="lognormal", parameters={})


def _lives(value: float) -> str:
    """A figure in expected lives; below the solver's proven precision (0.005) it is 0; no
    finite figure (a bound HiGHS did not prove) is said so."""
    if not math.isfinite(value):
        return "not proven"
    return f"{0.0 if abs(value) < 0.005 else value:.3f}"


def saa_text(result: SaaResult) -> str:
    c = f"{result.confidence:.0%}"
    moves = result.committed
    units = float(moves["units"].sum()) if len(moves) else 0.0
    unit = "expected lives" if result.risk == "neutral" else "(objective)"
    lines = [
        f"SAA {result.instance}: {result.replications} replications x {result.sample_size} "
        f"scenarios, candidate scored on {result.evaluation_size} fresh ones (seed {result.seed})",
    ]
    if result.risk != "neutral":
        lines.append(f"  risk {result.risk}: the bounds bound {result.objective}")
    if len(result.executed) or result.today:
        lines.append(
            f"  {counted(len(result.executed), 'executed move')} fixed; re-planned from day "
            f"{result.today}"
        )
    lines += [
        f"  {'upper bound on the true optimum':<44}{_lives(result.upper_bound):>10} {unit} "
        f"({c} one-sided: <= {_lives(result.upper_bound_high)})",
        f"  {f'candidate (replication {result.candidate}), out of sample':<44}"
        f"{_lives(result.lower_bound):>10} ({c} one-sided: >= {_lives(result.lower_bound_low)})",
        f"  {f'optimality gap (MMW, without replication {result.candidate})':<44}"
        f"{_lives(result.gap):>10} ({c} one-sided: <= {_lives(result.gap_high)}"
        f"{'' if result.gap_high_from == 'crn' else ', from the two bounds'})",
        f"  {'gap from the two bounds (no independence)':<44}{'':>10} "
        f"({c} one-sided: <= {_lives(result.gap_high_from_bounds)}; each bound at "
        f"{(1 + result.confidence) / 2:.1%})",
        f"  the candidate's commit, days {result.today}..{result.today + result.commit_days - 1}: "
        f"{counted(len(moves), 'move')}, {counted(units, 'unit')}",
    ]
    if result.gap_high_from == "bounds":
        lines.append(
            "  note: with 2 replications only one is independent of the candidate, so the "
            "gap has no variance estimate; its one-sided bound is the one from the two bounds"
        )
    if result.recourse_without_fairness:
        lines.append(
            f"  note: {counted(result.recourse_without_fairness, 'recourse solve')} could not "
            "keep the fairness constraints after the commit and were re-planned without them"
        )
    return "\n".join(lines)
