"""`triage backtest DIR`: plans made week by week with what was known then, replayed against
what happened (docs/backtest.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from optimiser.cli import app
from optimiser.cli.common import check_out_apart, write_outputs
from optimiser.cli.regional import fail_with_problems
from optimiser.errors import EXIT_INTERNAL, InputError, Problem, counted, option_problem

if TYPE_CHECKING:
    from optimiser.backtest.results import BacktestResult
    from optimiser.reporting.model import Report

# Kept from a --time-limit for writing --out (after the plans): the PNG and SVG charts and the
# report take 1.0-1.6 s for the US ventilator backtest on two loaded cores.
OUTPUT_SECONDS = 2.5
# --report: the page (1.0-1.3 s to build, 0.5 s more to write, US ventilators, loaded cores),
# and per two-stage policy its four fan charts
REPORT_SECONDS = 2.0
FAN_SECONDS = 2.0


@app.command("backtest")
def backtest_command(
    instance_dir: Annotated[
        Path,
        typer.Argument(help="Backtest instance folder (observed.csv, forecasts/releases.csv)."),
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Date of the first plan, YYYY-MM-DD (default: the window's first day); not "
            "before the first release of the forecast.",
        ),
    ] = None,
    commit_days: Annotated[
        int,
        typer.Option(
            "--commit-days", help="Days of each plan dispatched before re-planning (weekly: 7)."
        ),
    ] = 7,
    buffer: Annotated[
        float,
        typer.Option(help="Demand buffer of the 'buffer' policy: 0.1 plans on 110% of the mean."),
    ] = 0.1,
    forecast: Annotated[
        str | None,
        typer.Option(
            "--forecast",
            "-f",
            help="Forecast source of forecasts/releases.csv planned on (default: ihme); each "
            "re-plan uses its latest release by then.",
        ),
    ] = None,
    anchor: Annotated[
        str,
        typer.Option(
            help="none: each forecast as published; level: from each re-planning date, moved "
            "to the census observed the day before (scaled, or shifted where it was under 1)."
        ),
    ] = "none",
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            "-p",
            help="Policies to compare (repeat): none, mean, buffer, hindsight (the default), "
            "stochastic, risk-averse (two-stage plans: slower).",
        ),
    ] = None,
    scenarios: Annotated[
        int,
        typer.Option(help="Scenarios of each week's two-stage plan (stochastic, risk-averse)."),
    ] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the two-stage plans' scenarios.")] = 1,
    risk: Annotated[
        str, typer.Option(help="Risk measure of the risk-averse policy.")
    ] = "cvar:alpha=0.1,lambda=0.5",
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            help="Seconds for the whole backtest, start-up, every plan and the outputs "
            "included; each plan gets its share of what is left (docs/backtest.md). When it "
            "runs out, the policies not completed are left out and said so (status "
            "time_limit).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write result.json, policies.csv, weeks.csv, daily.csv, executed/*.csv and "
            "backtest.png/.svg here (atomically)."
        ),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="With --out: also write OUT/report.html: the policies against what "
            "happened, the observed census against each policy's units on hand, and for the "
            "two-stage policies the fan of their first plan's demand scenarios.",
        ),
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Plan as a team could have on a date, with only the forecasts published by then; dispatch
    the first commit window; re-plan with the observed census and the latest forecast; replay
    each policy's executed moves against the observed census with check-plan's simulator.
    Exit 0 (status time_limit when --time-limit cut a plan short or left a policy out), 2 for
    invalid input (nothing written), 4 when the time limit left no policy completed (nothing
    written)."""
    import time

    from optimiser.backtest.run import backtest
    from optimiser.cli import Verbosity
    from optimiser.cli.common import command_deadline, output_reserve
    from optimiser.scenarios.backtest import load_backtest

    deadline = command_deadline(time_limit)  # the budget counts start-up and loading too
    try:
        if time_limit is not None and not time_limit > 0:
            raise InputError(
                option_problem("time-limit", f"must be > 0 seconds, got {time_limit:g}")
            )
        if report and out is None:
            raise InputError(Problem("--report needs --out (the folder report.html is written to)"))
        if out is not None:
            check_out_apart(out, {"instance": instance_dir})
        loading = time.perf_counter()
        loaded = load_backtest(instance_dir)
        budget = output_reserve(deadline, loading)
        if out is not None:  # the charts and the report are drawn after the plans
            fans = sum(1 for p in policy or () if p in ("stochastic", "risk-averse"))
            page_seconds = REPORT_SECONDS + FAN_SECONDS * fans if report else 0.0
            budget = budget.reserved(OUTPUT_SECONDS + page_seconds)
        result = backtest(
            loaded,
            as_of=as_of,
            policies=policy,
            commit_days=commit_days,
            buffer=buffer,
            forecast=forecast,
            anchor=anchor,
            stochastic={"scenarios": scenarios, "seed": seed, "risk": risk},
            time_limit=time_limit,
            deadline=budget,
            progress=not no_progress
            and not json_output
            and not Verbosity.quiet()
            and sys.stderr.isatty(),
        )
    except InputError as exc:
        fail_with_problems(exc, instance_dir)
    if not len(result.table):  # as `triage plan` without a plan: the JSON says so, exit 4
        if json_output:
            typer.echo(result.to_json())
        for name, why in result.incomplete.items():
            typer.echo(f"error: {name}: {why}", err=True)
        typer.echo("error: no policy completed within the time limit: raise --time-limit", err=True)
        raise typer.Exit(EXIT_INTERNAL)
    if out is not None:
        page = None
        if report:
            from optimiser.backtest.report import build_backtest_report

            page = build_backtest_report(result, loaded.instance, command=["triage", *sys.argv[1:]])
        write_outputs(out, lambda folder: write_backtest(result, folder, page))
    if json_output:
        typer.echo(result.to_json())
        return
    for name, reason in result.unavailable.items():
        typer.echo(f"warning: policy {name} left out: {reason}", err=True)
    for name, why in result.incomplete.items():
        typer.echo(f"warning: policy {name} not completed, left out: {why}", err=True)
    typer.echo(backtest_text(result))


def write_backtest(result: BacktestResult, folder: Path, page: Report | None = None) -> None:
    """The files of --out (into a folder that write_outputs moves into place); with `page`
    (--report), report.html and its charts/, tables/ and provenance.json."""
    from optimiser.backtest.chart import backtest_chart
    from optimiser.charts import save

    (folder / "result.json").write_text(result.to_json() + "\n")
    result.table.to_csv(folder / "policies.csv", lineterminator="\n", float_format="%.6f")
    result.weeks.to_csv(folder / "weeks.csv", index=False, lineterminator="\n")
    result.totals().to_csv(folder / "daily.csv", lineterminator="\n", float_format="%.6f")
    (folder / "executed").mkdir()
    for name, moves in result.executed.items():
        moves.to_csv(folder / "executed" / f"{name}.csv", index=False, lineterminator="\n")
    save(backtest_chart(result), folder, "backtest")
    if page is not None:
        from optimiser.reporting.build import write_report_files

        write_report_files(page, folder)


def backtest_text(result: BacktestResult) -> str:
    """The readable table: one line per policy."""
    t = result.table
    anchored = (
        " (anchored to the last observed level)" if result.info.get("anchor") == "level" else ""
    )
    lines = [
        f"backtest {result.instance}: plans from {result.as_of}, re-planned every "
        f"{result.commit_days} days on {result.source}'s latest forecast{anchored} and the "
        f"observed census; replayed against the observed census ({len(result.regions)} "
        f"regions, {result.days} days from {result.start_date})",
        f"{'policy':<12} {'lives saved':>12} {'deaths':>10} {'never admitted':>15} "
        f"{result.resource + '-days short':>22} {'below hindsight':>16} {'shipped':>8} "
        f"{'moved':>7}",
    ]
    for name, row in t.iterrows():
        below = row["lives_below_hindsight"]
        lines.append(
            f"{name!s:<12} {row['survivors']:>12,.1f} {row['deaths']:>10,.1f} "
            f"{row['not_admitted']:>15,.1f} {row['shortfall']:>22,.1f} "
            f"{'-' if below != below else f'{below:,.1f}':>16} {int(row['units_shipped']):>8,} "
            f"{int(row['units_transferred']):>7,}"
        )
    weeks = result.weeks
    stopped = weeks.loc[weeks["status"] == "iteration_limit", "policy"]
    own = sorted(set(stopped))
    if result.status == "iteration_limit":
        lines.append(
            f"status: iteration_limit (no time limit reached: {counted(len(stopped), 'plan')} "
            "stopped at the planner's own round or node limits, not proved optimal): "
            + ", ".join(own)
        )
    if result.status == "time_limit":
        limit = result.info.get("time_limit")
        timed = weeks.loc[weeks["status"] == "time_limit", "policy"]
        cut_short = sorted(set(timed) - set(result.incomplete))
        budget = f"budget {limit:g} s" if limit is not None else "the plans' time limits"
        lines.append(
            f"status: time_limit ({budget}): "
            + "; ".join(
                [f"{p} not completed, left out" for p in result.incomplete]
                + [
                    f"{p}: {counted(int((timed == p).sum()), 'plan')} cut short, not proved "
                    "optimal"
                    for p in cut_short
                ]
                + [
                    f"{p}: {counted(int((stopped == p).sum()), 'plan')} stopped at own round or "
                    "node limits"
                    for p in own
                ]
            )
        )
    cut = t["transfer_units_cut"]
    for name, units in cut[cut > 0].items():
        lines.append(
            f"note: {name}: {counted(int(units), 'unit')} of committed transfers were not sent: "
            "the donor's patients were on them in reality"
        )
    lines.append(
        "lives saved: expected extra survivors from treatment (check-plan's simulator); "
        "hindsight replays its own admissions, the others their moves with the simulator's "
        "admissions"
    )
    return "\n".join(lines)
