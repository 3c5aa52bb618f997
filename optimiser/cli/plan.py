"""`triage plan | check-plan | generate`: deliveries over time (docs/multiperiod.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from optimiser.cli import Verbosity, app, warn
from optimiser.cli.common import (
    JsonOpt,
    NoDefaults,
    check_out_apart,
    command_deadline,
    exit_without_answer,
    output_reserve,
    write_outputs,
)
from optimiser.cli.regional import fail_with_problems
from optimiser.cli.replan import PlanCall, TodayOpt
from optimiser.errors import EXIT_RULES_BROKEN, InputError, Problem, counted, option_problem

if TYPE_CHECKING:
    import pandas as pd

    from optimiser.multiperiod.instance import MultiPeriodInstance
    from optimiser.multiperiod.results import PlanResult

# The planner (pandas, HiGHS) is imported inside each command: `triage --help` stays fast.
#: optimiser.multiperiod.engine.METHODS (tests/test_cli_startup.py checks they agree)
METHOD_NAMES = ("auto", "exact", "rounding")

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


def write_plan_outputs(result: PlanResult, out: Path) -> None:
    """manifest.csv (what to dispatch: shipment ids, names, dates; `--executed` reads it
    back), plan.csv (manifest + admissions: check-plan replays
    it), daily.csv (region x day), regions.csv, price_of_fairness.csv, result.json."""

    from optimiser.multiperiod.csv_text import table_csv
    from optimiser.multiperiod.report import warehouse_manifest

    def csv(frame: pd.DataFrame, path: Path, *, index: bool = False) -> None:
        # pandas's to_csv text (csv_text.table_csv), written as to_csv writes it: UTF-8
        path.write_text(table_csv(frame, index=index), encoding="utf-8", newline="")

    def write(folder: Path) -> None:
        csv(warehouse_manifest(result), folder / "manifest.csv")
        csv(result.plan, folder / "plan.csv")
        csv(result.daily, folder / "daily.csv")
        csv(result.regions, folder / "regions.csv", index=True)
        csv(result.price_of_fairness, folder / "price_of_fairness.csv")
        (folder / "result.json").write_text(result.to_json())

    write_outputs(out, write)


# Writing a plan's answer (daily.csv and result.json hold a row per region and day) takes this
# many seconds per region-day, at most (track budget2, 1,000 x 90, load 2-4: writing 1.0-1.2 s,
# daily.csv alone 0.68 CPU-s; 300 x 90: 0.27 s; twice that with the cores shared: load 7).
OUTPUT_SECONDS_PER_REGION_DAY = 20e-6


def plan_output_seconds(instance: MultiPeriodInstance) -> float:
    """What writing the plan of `instance` (its folder, its JSON) will take, from its size."""
    return OUTPUT_SECONDS_PER_REGION_DAY * len(instance.regions) * instance.days


TransfersOpt = Annotated[
    bool | None,
    typer.Option(
        "--transfers/--no-transfers", help="Spare units may move between regions (or not)."
    ),
]
DonorShareOpt = Annotated[
    float | None,
    typer.Option(
        "--donor-share", help="A donor region keeps at least this share of its own units (0-1)."
    ),
]
MaxWaitOpt = Annotated[
    int | None, typer.Option("--max-wait", help="Days a patient may wait for a unit (default 0).")
]
PatientTransfersOpt = Annotated[
    bool | None,
    typer.Option(
        "--patient-transfers/--no-patient-transfers",
        help="Allow moving patients to regions with spare units.",
    ),
]
PatientPerDayOpt = Annotated[
    float | None,
    typer.Option(
        "--patient-transfer-max-per-day",
        help="At most this many patients leave a region a day (default unlimited).",
    ),
]
PatientLeadOpt = Annotated[
    int | None,
    typer.Option(
        "--patient-transfer-max-lead-days",
        help="Distance limit: patients move only along lanes of at most this many days "
        "(default 1).",
    ),
]
BatchOpt = Annotated[
    int | None,
    typer.Option("--batch-size", help="Depot shipments come in batches of this many units."),
]
ShipmentsOpt = Annotated[
    int | None,
    typer.Option("--max-shipments-per-day", help="Most shipments a depot sends a day."),
]
NeighboursOpt = Annotated[
    int | None,
    typer.Option(
        "--transfer-neighbours",
        help="Each region receives transfers from its k nearest regions only.",
    ),
]
TransferLeadOpt = Annotated[
    int | None,
    typer.Option(
        "--max-transfer-lead-days", help="Drop transfer lanes longer than this many days."
    ),
]


def setting_changes(
    transfers: bool | None,
    donor_share: float | None,
    max_wait: int | None,
    patient_transfers: bool | None,
    patient_transfer_max_per_day: float | None,
    patient_transfer_max_lead_days: int | None,
    batch_size: int | None,
    max_shipments_per_day: int | None,
    transfer_neighbours: int | None,
    max_transfer_lead_days: int | None,
) -> dict[str, object]:
    """The switch options of `plan` and `check-plan` as PlanSettings changes (None: not given)."""
    return {
        "transfers": transfers,
        "donor_keep_share": donor_share,
        "max_wait_days": max_wait,
        "patient_transfers": patient_transfers,
        "patient_transfer_max_per_day": patient_transfer_max_per_day,
        "patient_transfer_max_lead_days": patient_transfer_max_lead_days,
        "batch_size": batch_size,
        "max_shipments_per_day": max_shipments_per_day,
        "transfer_neighbours": transfer_neighbours,
        "max_transfer_lead_days": max_transfer_lead_days,
    }


def load(instance_dir: Path) -> MultiPeriodInstance:
    """The instance, every problem listed on stderr (exit 2) when it is invalid."""
    from optimiser.multiperiod.instance import load_multiperiod

    try:
        return load_multiperiod(instance_dir)
    except InputError as exc:
        fail_with_problems(exc, instance_dir)


@app.command("plan")
def plan_command(
    instance_dir: Dir,
    json_output: JsonOpt = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write manifest.csv, plan.csv, daily.csv, regions.csv, result.json here "
            "(result.json records the settings and constraints: check-plan reads them back)."
        ),
    ] = None,
    executed: Annotated[
        Path | None,
        typer.Option(
            help="CSV of units already dispatched (day or dispatch_date, from, to, units[, "
            "arrives or arrival_date]; the manifest.csv of `plan --out` as it is): fixed; the "
            "rest is re-planned."
        ),
    ] = None,
    today: TodayOpt = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            help="Seconds for the whole command, from its start to its last byte; no plan by "
            "then: exit 4, nothing written.",
        ),
    ] = None,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    transfers: TransfersOpt = None,
    donor_share: DonorShareOpt = None,
    max_wait: MaxWaitOpt = None,
    patient_transfers: PatientTransfersOpt = None,
    patient_transfer_max_per_day: PatientPerDayOpt = None,
    patient_transfer_max_lead_days: PatientLeadOpt = None,
    batch_size: BatchOpt = None,
    max_shipments_per_day: ShipmentsOpt = None,
    transfer_neighbours: NeighboursOpt = None,
    max_transfer_lead_days: TransferLeadOpt = None,
    gap: Annotated[
        float | None,
        typer.Option(
            help="Also accept plans within this relative gap of the bound (default: none; "
            "every optimum is proved within 0.005 lives, so prices are exact to 0.01 lives)."
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help=f"Solution method: {', '.join(METHOD_NAMES)} (with --scenarios: exact is "
            "HiGHS on the whole extensive form, rounding the decomposition; "
            "docs/scenarios.md)."
        ),
    ] = "auto",
    no_price: Annotated[
        bool, typer.Option("--no-price", help="Skip the price-of-fairness report.")
    ] = False,
    no_tie_break: Annotated[
        bool, typer.Option("--no-tie-break", help="Skip the logistics tie-break stage.")
    ] = False,
    scenarios: Annotated[
        str | None,
        typer.Option(
            "--scenarios",
            help="Plan under uncertainty (two-stage): a folder with scenarios.csv (or the CSV), "
            "or 'instance' for the instance's own scenarios (docs/stochastic.md).",
        ),
    ] = None,
    commit_days: Annotated[
        int | None,
        typer.Option(
            "--commit-days",
            help="With --scenarios: the movements of the first N days are decided now, the "
            "same in every scenario (default 7).",
        ),
    ] = None,
    risk: Annotated[
        str | None,
        typer.Option(
            "--risk",
            help="With --scenarios: neutral (default), cvar:alpha=0.1,lambda=0.5 (expected "
            "survivors - lambda x CVaR of deaths) or worst:alpha=0.2 (the alpha-worst only).",
        ),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="With --scenarios: also score the mean, buffer, worst-case and hindsight plans "
            "(recourse + simulator): VSS, EVPI, shortfall.",
        ),
    ] = False,
    evaluate_on: Annotated[
        str | None,
        typer.Option(
            "--evaluate",
            help="With --compare: score on these scenarios (out of sample; default: the "
            "planning scenarios, in sample).",
        ),
    ] = None,
    buffer: Annotated[
        float | None,
        typer.Option("--buffer", help="With --compare: the mean plan's demand buffer (0.1)."),
    ] = None,
    relax_recourse: Annotated[
        bool,
        typer.Option(
            "--relax-recourse",
            help="With --scenarios: only the commit in whole units, the recourse an LP "
            "(large instances; its expected lives are an upper bound).",
        ),
    ] = False,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="With --scenarios and --out: also write OUT/report.html, with fan charts of "
            "the scenarios' need against the units on hand (docs/stochastic.md).",
        ),
    ] = False,
) -> None:
    """Plan deliveries, transfers and admissions over the horizon: most expected survivors."""
    from optimiser.multiperiod.planner import plan
    from optimiser.multiperiod.report import plan_text

    if time_limit is not None and not time_limit > 0:
        raise InputError(option_problem("time-limit", f"must be > 0 seconds, got {time_limit:g}"))
    if method not in METHOD_NAMES:  # before loading: the option, not the instance, is wrong
        raise InputError(
            option_problem("method", f"must be one of {', '.join(METHOD_NAMES)}, got {method!r}")
        )
    stochastic_only = {
        "--commit-days": commit_days is not None,
        "--risk": risk is not None,
        "--compare": compare,
        "--evaluate": evaluate_on is not None,
        "--relax-recourse": relax_recourse,
        "--report": report,
    }
    if scenarios is None and any(stochastic_only.values()):
        used = [k for k, v in stochastic_only.items() if v]
        verb = "needs" if len(used) == 1 else "need"
        raise InputError(
            Problem(f"{', '.join(used)} {verb} --scenarios (planning under uncertainty)")
        )
    if evaluate_on is not None and not compare:
        raise InputError(Problem("--evaluate needs --compare"))
    if buffer is not None and not compare:  # it was ignored: a plan on 100% of the forecast
        raise InputError(Problem("--buffer needs --compare (the mean plan's demand buffer)"))
    if report and out is None:
        raise InputError(Problem("--report needs --out (the folder report.html is written to)"))
    deadline = command_deadline(time_limit)  # the budget counts start-up and loading too
    if out is not None:  # before any work: an output inside the instance would mix with it
        check_out_apart(out, {"INSTANCE": instance_dir})
    loading = time.perf_counter()
    instance = load(instance_dir)
    changes = setting_changes(
        transfers,
        donor_share,
        max_wait,
        patient_transfers,
        patient_transfer_max_per_day,
        patient_transfer_max_lead_days,
        batch_size,
        max_shipments_per_day,
        transfer_neighbours,
        max_transfer_lead_days,
    )
    if scenarios is not None:
        from optimiser.cli.plan_stochastic import stochastic_plan

        stochastic_plan(
            instance_dir,
            instance.with_settings(**changes),
            scenarios,
            constraint or [],
            default_constraints=not no_default_constraints,
            commit_days=7 if commit_days is None else commit_days,
            risk=risk,
            compare=compare,
            evaluate_on=evaluate_on,
            buffer=0.1 if buffer is None else buffer,
            executed=executed,
            today=today,
            time_limit=time_limit,
            deadline=deadline,
            loading=loading,
            gap=gap,
            tie_break=not no_tie_break,
            price=not no_price,
            out=out,
            json_output=json_output,
            relax_recourse=relax_recourse,
            report=report,
            method=method,
        )
        return
    call = PlanCall(
        instance_dir, constraint or [], not no_default_constraints, executed, today, time_limit, gap
    )
    with call.problems_placed():
        instance = instance.with_settings(**changes)
        result = plan(
            instance,
            **call.arguments(),
            tie_break=not no_tie_break,
            price_of_fairness=not no_price,
            progress=not json_output and not Verbosity.quiet() and sys.stderr.isatty(),
            method=method,
            # the plan leaves time to write it
            deadline=output_reserve(deadline, loading, plan_output_seconds(instance)),
        )
    for note in result.notes:
        warn(note)
    if out is not None and result.lives_saved is not None:
        write_plan_outputs(result, out)
    typer.echo(result.to_json() if json_output else plan_text(result))
    exit_without_answer(result.status, result.explanation, result.lives_saved is not None, "plan")


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
    instance_settings: Annotated[
        bool,
        typer.Option(
            "--instance-settings",
            help="Ignore the settings and constraints `plan --out` recorded beside the plan "
            "(result.json); replay under instance.toml's.",
        ),
    ] = False,
    transfers: TransfersOpt = None,
    donor_share: DonorShareOpt = None,
    max_wait: MaxWaitOpt = None,
    patient_transfers: PatientTransfersOpt = None,
    patient_transfer_max_per_day: PatientPerDayOpt = None,
    patient_transfer_max_lead_days: PatientLeadOpt = None,
    batch_size: BatchOpt = None,
    max_shipments_per_day: ShipmentsOpt = None,
    transfer_neighbours: NeighboursOpt = None,
    max_transfer_lead_days: TransferLeadOpt = None,
) -> None:
    """Replay a plan day by day (independent simulation): expected survivors and every rule
    it breaks. The rules are those the plan was made under: the settings and constraints
    `triage plan --out` recorded beside it (result.json), else instance.toml's; the switch
    options, -c and --no-default-constraints override them. Exit 0: no rule broken; 1: rules
    broken; 2: invalid instance or plan file."""
    from dataclasses import replace

    from optimiser.multiperiod.check import check_plan, recorded_context
    from optimiser.multiperiod.report import check_text

    instance = load(instance_dir)
    changes = setting_changes(
        transfers,
        donor_share,
        max_wait,
        patient_transfers,
        patient_transfer_max_per_day,
        patient_transfer_max_lead_days,
        batch_size,
        max_shipments_per_day,
        transfer_neighbours,
        max_transfer_lead_days,
    )
    try:
        record = None if instance_settings else recorded_context(plan_file)
        source = "instance"
        labels: list[str] = list(constraint or [])
        use_defaults = not no_default_constraints
        if record is not None and (
            record.instance != instance.name or record.days != instance.days
        ):
            warn(
                f"{record.path} is a plan of {record.instance!r} "
                f"({record.days} days), not of {instance.name!r} ({instance.days} days): "
                "its recorded settings are not used"
            )
            record = None
        if record is not None:
            instance = instance.with_settings(**record.settings)
            source = f"recorded ({record.path})"
            if not constraint and not no_default_constraints:
                labels, use_defaults = list(record.constraints), False
            if record.fingerprint and record.fingerprint != instance.fingerprint():
                warn(
                    f"the instance files changed since the plan was made "
                    f"({record.path}: fingerprint {record.fingerprint}, now "
                    f"{instance.fingerprint()})"
                )
        if any(v is not None for v in changes.values()):
            instance = instance.with_settings(**changes)
            source += " + options"
        result = check_plan(
            instance,
            plan_file,
            labels,
            default_constraints=use_defaults,
            today=record.today if record is not None else 0,
        )
    except InputError as exc:
        fail_with_problems(exc, plan_file)
    result = replace(result, settings_source=source)
    if record is not None and not json_output:
        typer.echo(f"replaying under the settings recorded in {record.path}", err=True)
    typer.echo(result.to_json() if json_output else check_text(result))
    if not result.ok:
        raise typer.Exit(EXIT_RULES_BROKEN)


@app.command("generate")
def generate_command(
    out: Annotated[
        Path, typer.Argument(help="Folder to write the synthetic instance into (must not exist).")
    ],
    regions: Annotated[int, typer.Option(min=1, help="Number of regions.")] = 20,
    days: Annotated[
        int, typer.Option(min=2, max=3_660, help="Days in the horizon (at most 3,660).")  # MAX_DAYS
    ] = 30,
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
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed, >= 0 (same seed, same files).")
    ] = 0,
    demand_kind: Annotated[str, typer.Option(help="census or new_patients.")] = "census",
) -> None:
    """Write a seeded synthetic national instance (docs/multiperiod.md, "Generator")."""
    from optimiser.multiperiod.generator import GeneratorSpec, generate

    if out.exists():
        raise InputError(Problem(f"{out}: already exists; choose a new folder"))
    if demand_kind not in ("census", "new_patients"):
        raise InputError(
            option_problem("demand-kind", f"must be census or new_patients, got {demand_kind!r}")
        )
    too_big = generated_tables_too_big(regions, days, depots, neighbours, not no_transfers)
    if too_big is not None:
        raise InputError(Problem(too_big))
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
    typer.echo(
        f"wrote {out}: {regions} regions x {days} days, {counted(depots, 'depot')}, seed {seed}"
    )


GENERATED_ROW_BYTES = 16  # a demand or lead-time row as the generator writes it, at most
MAX_GENERATED_TRANSFER_REGIONS = 10_000  # the generator's distance matrix: regions^2 floats


def generated_tables_too_big(
    regions: int, days: int, depots: int, neighbours: int | None, transfers: bool
) -> str | None:
    """Why `triage generate` would write a table the loader refuses (over MAX_FILE_BYTES) or
    run out of memory on the way (all-pairs lanes and the distance matrix grow as regions
    squared); None: it fits."""
    from optimiser.textfiles import MAX_FILE_BYTES

    limit = MAX_FILE_BYTES // GENERATED_ROW_BYTES
    size = f"over the {limit:,} rows a table may have ({MAX_FILE_BYTES // 2**20} MB)"
    if regions * days > limit:
        return (
            f"--regions {regions:,} x --days {days:,} writes {regions * days:,} demand rows, {size}"
        )
    if transfers and regions > MAX_GENERATED_TRANSFER_REGIONS:
        return (
            f"--regions {regions:,} with transfers: the generator places at most "
            f"{MAX_GENERATED_TRANSFER_REGIONS:,} regions with lanes between them; "
            "pass --no-transfers or fewer regions"
        )
    per_region = 0 if not transfers else regions - 1 if neighbours is None else neighbours
    lanes = depots * regions + regions * min(per_region, regions - 1)
    if lanes > limit:
        pairs = "all-pairs transfer lanes" if neighbours is None else f"--neighbours {neighbours}"
        return (
            f"--regions {regions:,} with {pairs} and {counted(depots, 'depot')} writes {lanes:,} "
            f"lead-time rows, {size}: fewer regions or depots, --neighbours K (e.g. 10) or "
            "--no-transfers"
        )
    return None
