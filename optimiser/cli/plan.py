"""`triage plan | check-plan | generate`: deliveries over time (docs/multiperiod.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from optimiser.cli import app
from optimiser.cli.common import write_outputs
from optimiser.errors import EXIT_INFEASIBLE, InputError, Problem
from optimiser.multiperiod.engine import METHODS, check_plan, plan
from optimiser.multiperiod.generator import GeneratorSpec, generate
from optimiser.multiperiod.instance import load_multiperiod
from optimiser.multiperiod.report import check_text, plan_text
from optimiser.multiperiod.results import PlanResult
from optimiser.solver import SolveStatus

EXIT_RULES_BROKEN = 1  # check-plan: the plan breaks at least one rule

Dir = Annotated[
    Path,
    typer.Argument(
        help="Instance folder with demand.csv (and deliveries.csv, lead_times.csv, capacity.csv)."
    ),
]
ConstraintOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--constraint",
        "-c",
        help="Fairness constraint over the horizon KIND:param=value; repeatable.",
    ),
]
NoDefaults = Annotated[
    bool,
    typer.Option(
        "--no-default-constraints", help="Ignore the constraints listed in instance.toml."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]


def write_plan_outputs(result: PlanResult, out: Path) -> None:
    """manifest.csv (what to dispatch), plan.csv (manifest + admissions: check-plan replays
    it), daily.csv (region x day), regions.csv, price_of_fairness.csv, result.json."""

    def write(folder: Path) -> None:
        result.manifest.to_csv(folder / "manifest.csv", index=False, lineterminator="\n")
        result.plan.to_csv(folder / "plan.csv", index=False, lineterminator="\n")
        result.daily.to_csv(folder / "daily.csv", index=False, lineterminator="\n")
        result.regions.to_csv(folder / "regions.csv", lineterminator="\n")
        result.price_of_fairness.to_csv(
            folder / "price_of_fairness.csv", index=False, lineterminator="\n"
        )
        (folder / "result.json").write_text(result.to_json())

    write_outputs(out, write)


@app.command("plan")
def plan_command(
    instance_dir: Dir,
    json_output: JsonOpt = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write manifest.csv, plan.csv, daily.csv, regions.csv, result.json here."
        ),
    ] = None,
    executed: Annotated[
        Path | None,
        typer.Option(
            help="CSV of units already dispatched (day, from, to, units[, arrives]): "
            "fixed; the rest is re-planned."
        ),
    ] = None,
    today: Annotated[
        int | None,
        typer.Option(
            help="Re-plan from this day (default: the day after the last executed dispatch)."
        ),
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds for the whole plan.")
    ] = None,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    no_transfers: Annotated[
        bool, typer.Option("--no-transfers", help="No transfers of spare units between regions.")
    ] = False,
    donor_share: Annotated[
        float | None,
        typer.Option(
            "--donor-share", help="A donor region keeps at least this share of its own units (0-1)."
        ),
    ] = None,
    max_wait: Annotated[
        int | None,
        typer.Option("--max-wait", help="Days a patient may wait for a unit (default 0)."),
    ] = None,
    patient_transfers: Annotated[
        bool | None,
        typer.Option(
            "--patient-transfers/--no-patient-transfers",
            help="Allow moving patients to regions with spare units.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help="Depot shipments come in batches of this many units."),
    ] = None,
    max_shipments_per_day: Annotated[
        int | None,
        typer.Option("--max-shipments-per-day", help="Most shipments a depot sends a day."),
    ] = None,
    transfer_neighbours: Annotated[
        int | None,
        typer.Option(
            "--transfer-neighbours",
            help="Each region receives transfers from its k nearest regions only.",
        ),
    ] = None,
    gap: Annotated[
        float, typer.Option(help="Relative optimality gap accepted (default 1e-4).")
    ] = 1e-4,
    method: Annotated[str, typer.Option(help=f"Solution method: {', '.join(METHODS)}.")] = "auto",
    no_price: Annotated[
        bool, typer.Option("--no-price", help="Skip the price-of-fairness report.")
    ] = False,
    no_tie_break: Annotated[
        bool, typer.Option("--no-tie-break", help="Skip the logistics tie-break stage.")
    ] = False,
) -> None:
    """Plan deliveries, transfers and admissions over the horizon: most expected survivors."""
    instance = load_multiperiod(instance_dir)
    changes = {
        "transfers": False if no_transfers else None,
        "donor_keep_share": donor_share,
        "max_wait_days": max_wait,
        "patient_transfers": patient_transfers,
        "batch_size": batch_size,
        "max_shipments_per_day": max_shipments_per_day,
        "transfer_neighbours": transfer_neighbours,
    }
    instance = instance.with_settings(**changes)
    result = plan(
        instance,
        constraint or [],
        default_constraints=not no_default_constraints,
        executed=executed,
        today=today,
        time_limit=time_limit,
        mip_gap=gap,
        tie_break=not no_tie_break,
        price_of_fairness=not no_price,
        progress=not json_output and sys.stderr.isatty(),
        method=method,
    )
    if out is not None and result.lives_saved is not None:
        write_plan_outputs(result, out)
    typer.echo(result.to_json() if json_output else plan_text(result))
    if result.status == SolveStatus.INFEASIBLE:
        typer.echo(f"error: {result.explanation}", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.lives_saved is None:
        typer.echo(f"error: no plan found ({result.status})", err=True)
        raise typer.Exit(4)


@app.command("check-plan")
def check_plan_command(
    instance_dir: Dir,
    plan_file: Annotated[
        Path,
        typer.Argument(
            help="Plan CSV: kind,day,from,to,units[,arrives][,cohort_day] "
            "(plan --out writes plan.csv)."
        ),
    ],
    json_output: JsonOpt = False,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
) -> None:
    """Replay a plan day by day (independent simulation): expected survivors and every rule
    it breaks. Exit 0: no rule broken; 1: rules broken; 2: invalid instance or plan file."""
    instance = load_multiperiod(instance_dir)
    result = check_plan(
        instance, plan_file, constraint or [], default_constraints=not no_default_constraints
    )
    typer.echo(result.to_json() if json_output else check_text(result))
    if not result.ok:
        raise typer.Exit(EXIT_RULES_BROKEN)


@app.command("generate")
def generate_command(
    out: Annotated[
        Path, typer.Argument(help="Folder to write the synthetic instance into (must not exist).")
    ],
    regions: Annotated[int, typer.Option(min=1, help="Number of regions.")] = 20,
    days: Annotated[int, typer.Option(min=2, help="Days in the horizon.")] = 30,
    depots: Annotated[int, typer.Option(min=1, help="Number of depots.")] = 1,
    neighbours: Annotated[
        int | None,
        typer.Option(
            min=1, help="Transfer lanes from each region's k nearest (default: all pairs)."
        ),
    ] = None,
    no_transfers: Annotated[
        bool, typer.Option("--no-transfers", help="Switch transfers off in the instance.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
    demand_kind: Annotated[str, typer.Option(help="census or new_patients.")] = "census",
) -> None:
    """Write a seeded synthetic national instance (docs/multiperiod.md, "Generator")."""
    if out.exists():
        raise InputError(Problem(f"{out}: already exists; choose a new folder"))
    if demand_kind not in ("census", "new_patients"):
        raise InputError(
            Problem(f"--demand-kind must be census or new_patients, got {demand_kind!r}")
        )
    spec = GeneratorSpec(
        regions=regions,
        days=days,
        depots=depots,
        neighbours=neighbours,
        transfers=not no_transfers,
        seed=seed,
        demand_kind=demand_kind,
    )

    def write(folder: Path) -> None:
        generate(spec, folder)

    write_outputs(out, write)
    typer.echo(f"wrote {out}: {regions} regions x {days} days, {depots} depot(s), seed {seed}")
