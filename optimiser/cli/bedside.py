"""`triage bedside allocate | compare | curve | replay | validate | generate` (docs/bedside.md).

The engine is imported inside each command, so `triage --help` stays fast.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from optimiser import budget_watchdog
from optimiser.cli import HELP_STYLE, app
from optimiser.cli.common import DaskSchedulerOpt, JsonOpt, WorkersOpt, echo_json, write_outputs
from optimiser.errors import EXIT_INTERNAL, InputError, counted

bedside = typer.Typer(
    name="bedside",
    help="Bedside triage: who receives the unit at each hospital, under the committee's policy.",
    no_args_is_help=True,
    add_completion=False,
    **HELP_STYLE,
)
app.add_typer(bedside, name="bedside")

Case = Annotated[Path, typer.Argument(help="Folder with patients.csv, units.csv, policy.toml.")]
UnitsOpt = Annotated[Path | None, typer.Option(
    "--units", help="units.csv, a `triage plan --out` folder (or its daily.csv), or a regional "
    "result.json (default: DIR/units.csv).")]
PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", help="policy.toml (default: DIR/policy.toml).")]
ExistingOpt = Annotated[Path | None, typer.Option(
    "--existing-capacity", help="CSV site,units added to a result.json's allocation.")]


def _load(case: Path, units: Path | None, policy: Path | None, existing: Path | None) -> Any:
    from optimiser.bedside.io import load_inputs
    from optimiser.cli.regional import fail_with_problems

    try:
        return load_inputs(case, units=units, policy=policy, existing=existing)
    except InputError as exc:
        fail_with_problems(exc, case)


@bedside.command("validate")
def validate_command(case: Case, units: UnitsOpt = None, policy: PolicyOpt = None,
                     existing_capacity: ExistingOpt = None) -> None:
    """Check a case and list every problem (file, line, column); guardrails included."""
    inputs = _load(case, units, policy, existing_capacity)
    p = inputs.cohort.patients
    typer.echo(
        f"ok: {counted(len(p), 'patient')} ({int(p['dni'].sum())} DNI) at "
        f"{counted(p['site'].nunique(), 'site')}, "
        f"days {int(p['day'].min())}-{int(p['day'].max())}; units from {inputs.units.source}; "
        f"policy {inputs.policy.name!r} ({inputs.policy.priority}, {inputs.policy.method}, "
        f"{counted(len(inputs.policy.reserves), 'reserve')}) approved by "
        f"{inputs.policy.approval.approved_by} on {inputs.policy.approval.date}")


# The time kept for writing an allocation's answer (result.json, the decision log,
# decisions.csv, the --json copy): the larger of OUTPUT_SECONDS_PER_PATIENT a patient and
# OUTPUT_SHARE_OF_LOADING times what loading the case took in this run (it measures this
# machine's pace under its load now). 5,000 patients over 90 days (budgets2, the JSON made once
# and without a Series per row): writing 0.92-1.37 s at load 5, 1.17-1.75 s at load 5.4
# (0.35 ms a patient at most), 1.6-3.3 times the loading; before, 2.0 s at load 3 and 3.1-4.4 s
# at load 5, past the 2.5 s kept (`--time-limit 6` ended after 6.25 s).
OUTPUT_SECONDS_PER_PATIENT = 0.5e-3
OUTPUT_SHARE_OF_LOADING = 4.0


@bedside.command("allocate")
def allocate_command(
    case: Case,
    units: UnitsOpt = None,
    policy: PolicyOpt = None,
    existing_capacity: ExistingOpt = None,
    overrides: Annotated[Path | None, typer.Option(
        help="overrides.csv: patient, decision (unit|no_unit), justification, officer.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write decisions.csv, sites.csv, protocols.csv, price_of_fairness.csv, "
        "result.json and decision_log.jsonl here.")] = None,
    log: Annotated[Path | None, typer.Option(
        help="Decision log path (default: OUT/decision_log.jsonl, else ./decision_log.jsonl).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing decision log (without it, a log that exists "
        "is refused, exit 2, nothing written: a record is never replaced silently).")
    ] = False,
    json_output: JsonOpt = False,
    no_price: Annotated[bool, typer.Option("--no-price", help="Skip the price of fairness.")
                        ] = False,
    no_protocols: Annotated[bool, typer.Option(
        "--no-protocols", help="Skip the protocols scored beside the policy.")] = False,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="Seconds for the whole run (a decision still open falls back "
        "to the policy's rule, and says so).")] = None,
) -> None:
    """Recommend who receives the units (an advisory decision: the officer decides)."""
    from optimiser.bedside.api import allocate
    from optimiser.bedside.log import (
        check_log_path,
        read_overrides,
        refuse_existing_logs,
        write_log,
    )
    from optimiser.bedside.report import allocation_text
    from optimiser.cli.common import check_out_apart, command_deadline, output_reserve
    from optimiser.cli.regional import fail_with_problems

    deadline = command_deadline(time_limit)  # the budget counts start-up and loading too
    loading = time.perf_counter()
    inputs = _load(case, units, policy, existing_capacity)
    given = _input_paths(case, units, policy, existing_capacity, overrides)
    if out is not None:
        check_out_apart(out, *given)
    if log is not None:
        check_log_path(log)
        _check_log_apart(log, *given)
    log_path = log if log is not None else (out / "decision_log.jsonl" if out is not None
                                            else Path("decision_log.jsonl"))
    if not overwrite:  # before any work: an earlier record is never lost (--out replaces OUT)
        refuse_existing_logs([log_path, *([] if out is None else [out / "decision_log.jsonl"])],
                             "pass --overwrite")
    table = None
    if overrides is not None:
        try:
            table = read_overrides(overrides, set(inputs.cohort.patients.index))
        except InputError as exc:
            fail_with_problems(exc, overrides)
        _refuse_dni_units(inputs, table, overrides)
    # what is left of the budget, less the time writing the answer takes (before, allocate
    # was given the whole budget from its own start: 5,000 patients over 90 days under
    # --time-limit 5 ended with no decision, exit 4, at the watchdog)
    left = time_limit
    if time_limit is not None and 0 < time_limit < math.inf:  # else allocate explains it
        answer = max(OUTPUT_SECONDS_PER_PATIENT * len(inputs.cohort.patients),
                     OUTPUT_SHARE_OF_LOADING * (time.perf_counter() - loading))
        left = output_reserve(deadline, loading, answer).remaining()
    result = allocate(inputs, price=not no_price, protocols=not no_protocols,
                      time_limit=left, overrides=table)
    budget_watchdog.commit()  # the answer begins (its log too): written whole from here
    options = {"price": not no_price, "protocols": not no_protocols, "time_limit": time_limit}
    answer_json = functools.cache(result.to_json)  # made once for result.json and --json
    override_path = None if overrides is None else str(overrides)
    if out is not None:
        def write(folder: Path) -> None:
            result.patients.drop(columns=["components"]).to_csv(folder / "decisions.csv",
                                                                lineterminator="\n")
            result.sites.to_csv(folder / "sites.csv", lineterminator="\n")
            result.protocols.to_csv(folder / "protocols.csv", index=False, lineterminator="\n")
            result.price_of_fairness.to_csv(folder / "price_of_fairness.csv", index=False,
                                            lineterminator="\n")
            (folder / "result.json").write_text(answer_json())
            if log is None:
                write_log(folder / "decision_log.jsonl", result, options, override_path)

        write_outputs(out, write)
    if log is not None or out is None:
        write_log(log_path, result, options, override_path, overwrite=overwrite)
    if json_output:
        typer.echo(answer_json())
    else:
        typer.echo(allocation_text(result))
        typer.echo(f"\ndecision log: {log_path}")


def _input_paths(case: Path, units: Path | None, policy: Path | None, existing: Path | None,
                 overrides: Path | None = None) -> tuple[dict[str, Path | None],
                                                         dict[str, Path | None]]:
    """The folders and files a run reads, for check_out_apart: an output never replaces or
    lands among them (a plan folder given to --units is a folder)."""
    folders: dict[str, Path | None] = {"case": case}
    files: dict[str, Path | None] = {"policy": policy, "existing-capacity": existing,
                                     "overrides": overrides}
    if units is not None and units.is_dir():
        folders["units"] = units
    else:
        files["units"] = units
    return folders, files


def _check_log_apart(log: Path, folders: dict[str, Path | None],
                     files: dict[str, Path | None]) -> None:
    """--log is never an input file nor inside an input folder (it would replace an input)."""
    import os

    from optimiser.errors import Problem

    target = Path(os.path.abspath(log))
    for option, folder in folders.items():
        source = None if folder is None else Path(os.path.abspath(folder))
        if source is not None and (target == source or source in target.parents):
            raise InputError(Problem(f"--log {log}: is inside the {option} folder {folder}; "
                                     "choose a path outside it (nothing was written)"))
    for option, file in files.items():
        if file is not None and Path(os.path.abspath(file)) == target:
            raise InputError(Problem(f"--log {log}: is the {option} file; choose another path "
                                     "(nothing was written)"))


def _refuse_dni_units(inputs: Any, table: Any, path: Path) -> None:
    from optimiser.cli.regional import fail_with_problems
    from optimiser.errors import Problem

    dni = set(inputs.cohort.patients.index[inputs.cohort.patients["dni"]])
    bad = [pid for pid, row in table.iterrows() if pid in dni and row["decision"] == "unit"]
    if bad:
        fail_with_problems(InputError([
            Problem(f"patient {pid!r} declined the treatment (DNI): an override cannot give "
                    "them a unit (autonomy, seed 000)", file=path.name, column="decision")
            for pid in bad]), path)


@bedside.command("replay")
def replay_command(
    log: Annotated[Path, typer.Argument(help="A decision_log.jsonl written by allocate.")],
    inputs: Annotated[Path | None, typer.Option(
        "--inputs", help="Folder holding the logged input files (default: the logged paths).")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Re-run a logged decision and compare every decision (exit 0 when the same, 2 when the
    inputs are not the logged ones, 4 when a decision differs). Reasons worded differently by
    another version are a notice, not a failure."""
    from optimiser.bedside.log import replay
    from optimiser.cli.regional import fail_with_problems

    try:
        outcome = replay(log, inputs)
    except InputError as exc:
        fail_with_problems(exc, log)
    if json_output:
        echo_json({"identical": outcome.identical, "decisions": outcome.decisions,
                   "differences": list(outcome.differences),
                   "logged_by": outcome.header.get("engine"),
                   "reasons_reworded": [{"line": n, "patient": pid, "logged": old,
                                         "replayed": new}
                                        for n, pid, old, new in outcome.reworded],
                   "notices": list(outcome.notices)})
    elif outcome.identical:
        same = "the same decisions as" if outcome.reworded else "identical to"
        typer.echo(f"replayed {outcome.decisions} decisions: {same} the log "
                   f"(policy {outcome.header['policy']['name']!r}, approved by "
                   f"{outcome.header['approved_by']} on {outcome.header['approval_date']})")
        _notices(outcome.notices, err=False)
    else:
        for line in outcome.differences[:20]:
            typer.echo(f"differs: {line}", err=True)
        _notices(outcome.notices, err=True)
    if not outcome.identical:
        raise typer.Exit(EXIT_INTERNAL)


def _notices(lines: tuple[str, ...], err: bool) -> None:
    for k, line in enumerate(lines):
        typer.echo(f"notice: {line}" if k == 0 else f"  {line}", err=err)


@bedside.command("compare")
def compare_command(
    case: Case,
    units: UnitsOpt = None,
    policy: PolicyOpt = None,
    existing_capacity: ExistingOpt = None,
    replications: Annotated[int, typer.Option(help="Seeded replications.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the streams.")] = 0,
    stream: Annotated[str, typer.Option(
        help="synthetic (generator.py's cohort) or resample (patients.csv with replacement).")
    ] = "synthetic",
    patients: Annotated[int | None, typer.Option(
        help="Patients per replication (default: as many as patients.csv).")] = None,
    days: Annotated[int | None, typer.Option(help="Days of a synthetic stream.")] = None,
    workers: WorkersOpt = None,
    dask_scheduler: DaskSchedulerOpt = None,
    out: Annotated[Path | None, typer.Option(
        help="Write summary.csv, groups.csv, replications.parquet, result.json, report.html.")
    ] = None,
    json_output: JsonOpt = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")
                           ] = False,
) -> None:
    """Every protocol, with and without the reserves, over seeded replications."""
    from optimiser.bedside.compare import CompareSpec, compare
    from optimiser.bedside.report import compare_text, write_compare
    from optimiser.cli.common import check_out_apart

    inputs = _load(case, units, policy, existing_capacity)
    spec = CompareSpec(replications=replications, seed=seed, stream=stream, patients=patients,
                       days=days)
    spec.check()
    if workers is not None and workers < 1:
        from optimiser.errors import Problem

        raise InputError(Problem(f"must be a whole number >= 1, got {workers}",
                                 column="workers", column_word="option"))
    if out is not None:
        check_out_apart(out, *_input_paths(case, units, policy, existing_capacity))
    result = compare(inputs, spec, workers=workers, scheduler=dask_scheduler,
                     progress=not no_progress and not json_output)
    if out is not None:
        write_outputs(out, lambda folder: write_compare(result, folder))
    if json_output:
        echo_json(result.to_dict())
    else:
        typer.echo(compare_text(result))


@bedside.command("curve")
def curve_command(
    case: Case,
    regional: Annotated[Path, typer.Option(
        help="The regional instance whose regions are the case's sites.")],
    out: Annotated[Path, typer.Option(help="Write the regional instance with tiers.csv here.")],
    units: UnitsOpt = None,
    policy: PolicyOpt = None,
    sites: Annotated[str | None, typer.Option(
        help="Comma-separated sites (default: every site that is a region).")] = None,
    max_units: Annotated[int | None, typer.Option(
        "--max-units", help="Extra units per site (default: the regional supply).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Marginal survivors per extra unit under the policy, written as tiers.csv."""
    from optimiser.bedside.curve import curves_to_instance
    from optimiser.cli.common import check_out_apart

    inputs = _load(case, units, policy, None)
    folders, files = _input_paths(case, units, policy, None)
    check_out_apart(out, {**folders, "regional": regional}, files)
    chosen = [s.strip() for s in sites.split(",") if s.strip()] if sites is not None else None
    captured: dict[str, Any] = {}

    def write(folder: Path) -> None:
        captured["curves"], captured["tiers"] = curves_to_instance(
            inputs, regional, folder, chosen, max_units)
        import pandas as pd

        pd.concat([c.table() for c in captured["curves"]]).to_csv(
            folder / "bedside_curves.csv", index=False, lineterminator="\n")

    write_outputs(out, write)
    curves = captured["curves"]
    if json_output:
        echo_json({"out": str(out), "curves": [
            {"site": c.site, "useful_units": c.useful_units,
             "marginal": [round(float(v), 9) for v in c.marginal],
             "marginal_concave": [round(float(v), 9) for v in c.concave]} for c in curves]})
        return
    for c in curves:
        head = ", ".join(f"{v:.2f}" for v in c.concave[:8])
        gain = "gains" if c.useful_units == 1 else "gain"
        typer.echo(f"{c.site}: {counted(c.useful_units, 'extra unit')} {gain} survivors; marginal "
                   f"(concave) {head}{' ...' if c.useful_units > 8 else ''}")
    typer.echo(f"curves under policy {inputs.policy.name!r}, approved by "
               f"{inputs.policy.approval.approved_by} on {inputs.policy.approval.date}")
    typer.echo(f"wrote {out} (regions.csv, tiers.csv, bedside_curves.csv, bedside_policy.json): "
               f"solve it with `triage solve {out}`")


@bedside.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option(help="Folder to write patients.csv into.")],
    patients: Annotated[int, typer.Option(help="Number of patients.")] = 300,
    days: Annotated[int, typer.Option(help="Days of arrivals.")] = 30,
    sites: Annotated[str, typer.Option(help="Comma-separated site ids.")] = "H1,H2,H3",
    seed: Annotated[int, typer.Option(help="Seed.")] = 2020,
    with_survival: Annotated[bool, typer.Option(
        "--with-survival/--sofa-only", help="Write survival_with, or leave it to the policy's "
        "survival_from_sofa table.")] = False,
) -> None:
    """Write a SYNTHETIC patients.csv (optimiser/bedside/generator.py, cited distributions)."""
    from optimiser.bedside.generator import CohortSpec, generate, write_patients
    from optimiser.errors import Problem

    names = tuple(s.strip() for s in sites.split(",") if s.strip())
    from optimiser.bedside.compare import MAX_STREAM_PATIENTS
    from optimiser.bedside.patients import MAX_DAY

    problems = [Problem(f"must be >= 1 and <= {most:,}, got {value:,}", column=name,
                        column_word="option")
                for name, value, most in (("patients", patients, MAX_STREAM_PATIENTS),
                                          ("days", days, MAX_DAY)) if not 1 <= value <= most]
    if not names:
        problems.append(Problem("no site", column="sites", column_word="option"))
    if twice := sorted({n for n in names if names.count(n) > 1}):  # they merged into one site
        problems.append(Problem(f"a site is listed twice: {', '.join(twice)}", column="sites",
                                column_word="option"))
    if seed < 0:
        problems.append(Problem(f"must be >= 0, got {seed}", column="seed", column_word="option"))
    if problems:
        raise InputError(problems)
    weights = (0.45, 0.35, 0.20) if len(names) == 3 else tuple(1.0 for _ in names)
    skew = (1.0, 0.0, -1.0) if len(names) == 3 else tuple(0.0 for _ in names)
    frame = generate(CohortSpec(patients=patients, days=days, sites=names, site_weights=weights,
                                deprivation_skew=skew, seed=seed))
    write_outputs(out, lambda folder: write_patients(frame, folder / "patients.csv",
                                                     with_survival))
    typer.echo(f"wrote {out / 'patients.csv'}: {patients} SYNTHETIC patients, seed {seed}")
