"""`triage sweep` (sensitivity sweeps) and `triage report` (the HTML decision report)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from optimiser.cli import Verbosity, app
from optimiser.cli.common import (
    DaskSchedulerOpt,
    NoDefaults,
    WorkersOpt,
    check_out_apart,
    echo_json,
)
from optimiser.cli.common import RegionalConstraintOpt as ConstraintOpt
from optimiser.cli.common import RegionalDir as Dir
from optimiser.errors import InputError, Problem, counted, option_problem


@app.command("sweep")
def sweep_command(
    instance_dir: Dir,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help=(
                "Input to vary, repeatable: supply=500:3000:100, KIND.PARAM=0:1:0.1 "
                "(the constraint "
                "becomes active), COLUMN*=0.8:1.2:0.1 (scale a regions.csv column), "
                "COLUMN*=0.9,1.1@A,B (named regions), horizon_days=30:60:10."
            ),
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Output folder (created; a rerun of the same sweep resumes).")
    ] = Path("results"),
    samples: Annotated[
        int | None, typer.Option(help="A seeded random sample of N variants instead of the grid.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of --samples.")] = 0,
    price_of_fairness: Annotated[
        bool,
        typer.Option(
            "--price-of-fairness", help="Also solve each variant without fairness constraints."
        ),
    ] = False,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    tie_break: Annotated[
        bool,
        typer.Option("--tie-break", help="Run the tie-break stages (canonical units; slower)."),
    ] = False,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            help="Seconds per variant: all of its work (its model, its solves, L*).",
        ),
    ] = None,
    workers: WorkersOpt = None,
    dask_scheduler: DaskSchedulerOpt = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild", help="Rebuild the model for every variant (the slow reference path)."
        ),
    ] = False,
    no_greedy: Annotated[
        bool,
        typer.Option(
            "--no-greedy",
            help=(
                "Solve every variant with HiGHS, also those the exact greedy solves (lives "
                "only, floors at most)."
            ),
        ),
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the manifest as JSON.")
    ] = False,
) -> None:
    """Solve the instance for every variant of the varied inputs (grid or random sample).

    Writes variants.parquet/.csv (one row per variant) and regions.parquet/.csv (one row per
    variant and region) into --out. Interrupted? Run the same command again: it resumes.
    """
    from optimiser.instance import load_instance
    from optimiser.sweeps import run_sweep

    if not vary:
        raise InputError(Problem("give at least one --vary (e.g. --vary supply=500:3000:100)"))
    check_out_apart(out, {"INSTANCE": instance_dir})
    instance = load_instance(instance_dir)
    result = run_sweep(
        instance,
        vary,
        samples=samples,
        seed=seed,
        constraints=constraint or [],
        default_constraints=not no_default_constraints,
        price_of_fairness=price_of_fairness,
        tie_break=tie_break,
        time_limit=time_limit,
        mode="rebuild" if rebuild else "fast",
        out=out,
        workers=workers,
        scheduler=dask_scheduler,
        progress=not no_progress and not Verbosity.quiet(),
        greedy=not no_greedy,
    )
    if json_output:
        echo_json(result.manifest)
        return
    counts = result.manifest.get("counts", {})
    resumed = len(result.variants) - result.solved
    seconds = result.manifest.get("seconds_last_run")
    typer.echo(
        f"sweep {instance.name}: {len(result.variants):,} variants "
        f"({', '.join(f'{k} {n:,}' for k, n in counts.items())})"
        + (
            f", {result.solved:,} solved in {seconds:.1f} s"
            if result.solved and seconds is not None
            else ""
        )
        + (f", {resumed:,} already done" if resumed else "")
    )
    typer.echo(
        f"results in {out}/: variants.parquet, variants.csv, regions.parquet, regions.csv, "
        "manifest.json"
    )
    ok = result.variants[result.variants["lives_saved"].notna()]
    if len(ok):
        typer.echo(
            f"lives saved: min {ok['lives_saved'].min():,.1f}, "
            f"median {ok['lives_saved'].median():,.1f}, "
            f"max {ok['lives_saved'].max():,.1f}"
        )
    failed = result.variants[result.variants["status"].isin(["failed", "error"])]
    if len(failed):
        typer.echo(
            f"{counted(len(failed), 'variant')} failed; first: variant "
            f"{failed.iloc[0]['variant']}: {failed.iloc[0]['reason']}"
        )


@app.command("report")
def report_command(
    instance_dir: Dir,
    out: Annotated[
        Path, typer.Option(help="Output folder: report.html, charts/, tables/, provenance.json.")
    ] = Path("report"),
    from_sweep: Annotated[
        Path | None,
        typer.Option("--from-sweep", help="A finished `triage sweep` output folder to include."),
    ] = None,
    from_plan: Annotated[
        Path | None,
        typer.Option(
            "--from-plan",
            help=(
                "A `triage plan --out` folder or its result.json: a report of the plan (it "
                "must be for this instance). A time series (CSV/Parquet with region, day, "
                "units_on_hand, demand) adds its chart only. (A `plan --scenarios` folder: "
                "its report is `plan --scenarios ... --out DIR --report`.)"
            ),
        ),
    ] = None,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    supply: Annotated[
        int | None, typer.Option(help="Units to allocate (default: the instance's).")
    ] = None,
    tornado_pct: Annotated[
        float, typer.Option("--tornado-pct", help="± percentage of the tornado chart (0: none).")
    ] = 20.0,
    no_frontier: Annotated[
        bool, typer.Option("--no-frontier", help="Skip the efficiency-fairness frontier.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the lottery policy.")] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the provenance as JSON.")
    ] = False,
) -> None:
    """One self-contained HTML decision report: allocation, policies, price of fairness,
    frontier, tornado (and a sweep's charts), with provenance for audit; with --from-plan, the
    plan's report (survivors, deliveries, shortfall, per region, over time)."""
    from optimiser.html_report import build_report, read_plan_input, write_report
    from optimiser.instance import load_instance
    from optimiser.sweeps import load_sweep

    if tornado_pct < 0 or tornado_pct >= 100:
        raise InputError(option_problem("tornado-pct", f"must be in [0, 100), got {tornado_pct:g}"))
    # a plan folder, or the folder of a plan's result.json, is an input like a sweep folder
    plan_folder = None
    if from_plan is not None and (from_plan.is_dir() or from_plan.suffix.lower() == ".json"):
        plan_folder = from_plan if from_plan.is_dir() else from_plan.parent
    check_out_apart(
        out,
        {"INSTANCE": instance_dir, "--from-sweep": from_sweep, "--from-plan": plan_folder},
        {"--from-plan": from_plan},
    )
    instance = load_instance(instance_dir)
    sweep = load_sweep(from_sweep) if from_sweep is not None else None
    plan = read_plan_input(from_plan) if from_plan is not None else None
    report = build_report(
        instance,
        constraints=constraint or [],
        default_constraints=not no_default_constraints,
        supply=supply,
        sweep=sweep,
        plan=plan,
        plan_source=None if from_plan is None else str(from_plan),
        tornado_pct=tornado_pct or None,
        frontiers=not no_frontier,
        seed=seed,
        command=["triage", *sys.argv[1:]],
    )
    path = write_report(report, out)
    if json_output:
        echo_json(report.provenance)
        return
    typer.echo(
        f"report: {path} ({len(report.figures)} charts in {out}/charts, tables in {out}/tables)"
    )
