"""`triage solve | compare | validate | evaluate`: the single-period regional engine."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from optimiser.cli import app, log
from optimiser.cli.common import (
    JsonOpt,
    NoDefaults,
    ProblemsIn,
    check_out_apart,
    command_deadline,
    echo_json,
    exit_without_answer,
    output_reserve,
    with_folder_kind,
    write_outputs,
)
from optimiser.cli.common import RegionalConstraintOpt as ConstraintOpt
from optimiser.cli.common import RegionalDir as Dir
from optimiser.errors import EXIT_RULES_BROKEN, InputError, Problem, counted, listed
from optimiser.textfiles import (
    did_you_mean,
    load_json,
    not_a_number,
    read_csv_table,
    read_text,
    strict_float,
)

if TYPE_CHECKING:
    from optimiser.instance import Instance
    from optimiser.results import AllocationResult

# The engine (pandas, Pyomo, HiGHS) is imported inside each command: `triage --help` stays fast.
#: optimiser.policies.POLICIES's names (tests/test_cli_startup.py checks they agree)
POLICY_NAMES = ("optimal", "per_capita", "excess", "excess_per_capita", "rai", "lottery")
#: the columns of an allocation CSV (`triage evaluate`); any other is refused
ALLOCATION_COLUMNS = ("region", "units")
#: optimiser.instance.MAX_SUPPLY (checked by the same test)
MAX_UNITS = 10**9


def write_result(result: AllocationResult, out: Path) -> None:
    """allocation.csv (region, units: feeds back into `triage evaluate`), regions.csv,
    price_of_fairness.csv and result.json."""

    import pandas as pd

    def write(folder: Path) -> None:
        pd.DataFrame(
            {"region": list(result.allocation), "units": list(result.allocation.values())}
        ).to_csv(folder / "allocation.csv", index=False)
        result.regions.to_csv(folder / "regions.csv")
        result.price_of_fairness.to_csv(folder / "price_of_fairness.csv", index=False)
        (folder / "result.json").write_text(result.to_json())

    write_outputs(out, write)


@app.command("solve")
def solve_command(
    instance_dir: Dir,
    policy: Annotated[str, typer.Option(help=f"One of: {', '.join(POLICY_NAMES)}.")] = "optimal",
    supply: Annotated[
        int | None, typer.Option(help="Units to allocate (default: the instance's).")
    ] = None,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    json_output: JsonOpt = False,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            help="Seconds for the whole command, from its start to its last byte (every "
            "solve, the price of fairness included); no answer by then: exit 4.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the lottery policy.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Also write allocation.csv, regions.csv, result.json here.")
    ] = None,
    no_price: Annotated[
        bool, typer.Option("--no-price", help="Skip the price-of-fairness report.")
    ] = False,
) -> None:
    """Allocate the supply: the most expected survivors under the active fairness constraints."""
    from optimiser.engine import check_time_limit, solve
    from optimiser.report import allocation_text, price_text

    check_time_limit(time_limit)
    if out is not None:  # before any work: an output inside the instance would mix with it
        check_out_apart(out, {"INSTANCE": instance_dir})
    deadline = command_deadline(time_limit)  # the budget counts start-up and loading too
    loading = time.perf_counter()
    instance = load_single_period(instance_dir)
    log.info("loaded %s: %d regions, supply %s", instance.name, len(instance.regions),
             f"{instance.supply:,}")
    result = solve(
        instance,
        constraints=constraint or [],
        policy=policy,
        supply=supply,
        default_constraints=not no_default_constraints,
        time_limit=time_limit,
        price_of_fairness=not no_price,
        seed=seed,
        # the solves leave time to finish and write the answer
        deadline=output_reserve(
            deadline, loading, regional_finish_seconds(time_limit, len(instance.regions))
        ),
    )
    if out is not None and result.lives_saved is not None:
        write_result(result, out)
    if result.solver is not None:
        log.info("solved: %s in %.3f s (%d HiGHS runs)", result.status, result.solver.seconds,
                 result.solver.solves)
    if json_output:
        typer.echo(result.to_json())
    else:
        typer.echo(allocation_text(result, instance))
        if result.lives_saved is not None:
            typer.echo("")
            typer.echo(price_text(result))
    exit_without_answer(
        result.status, result.explanation, result.lives_saved is not None, "allocation"
    )


# What the regional engine and the command do after the last HiGHS run (extraction, the prices
# of fairness, the JSON): 1,500 regions under threshold(tau=100) finished 0.16-0.5 s after the
# solves' deadline on a free core (session 25), which a 1.5 x loading reserve (0.1 s there) did
# not hold: the watchdog then ended the command with no answer although HiGHS had proved the
# optimum. At least this much, never more than a quarter of the budget.
FINISH_FLOOR_SECONDS = 1.0
FINISH_SECONDS_PER_REGION = 0.5e-3


def regional_finish_seconds(limit: float | None, regions: int) -> float:
    """The reserve for a regional command's work after its solves (`output_reserve`'s floor)."""
    if limit is None:
        return 0.0
    return min(0.25 * limit, max(FINISH_FLOOR_SECONDS, FINISH_SECONDS_PER_REGION * regions))


@app.command("compare")
def compare_command(
    instance_dir: Dir,
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    supply: Annotated[
        int | None, typer.Option(help="Units to allocate (default: the instance's).")
    ] = None,
    json_output: JsonOpt = False,
    seed: Annotated[int, typer.Option(help="Seed of the lottery policy.")] = 0,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            help="Seconds for the whole command, from its start to its last byte; no answer "
            "by then: exit 4.",
        ),
    ] = None,
) -> None:
    """Every baseline policy beside the optimum: lives saved and lives lost."""
    import pandas as pd

    from optimiser.engine import check_time_limit, compare
    from optimiser.json_values import json_number
    from optimiser.report import comparison_text

    check_time_limit(time_limit)
    deadline = command_deadline(time_limit)
    loading = time.perf_counter()
    instance = load_single_period(instance_dir)
    table = compare(
        instance,
        constraint or [],
        default_constraints=not no_default_constraints,
        supply=supply,
        seed=seed,
        deadline=output_reserve(
            deadline, loading, regional_finish_seconds(time_limit, len(instance.regions))
        ),
    )
    if json_output:
        records = []
        for name, row in table.iterrows():
            units = {
                c.split(":", 1)[1]: None if pd.isna(row[c]) else int(row[c])
                for c in table.columns
                if c.startswith("units:")
            }
            item = {k: json_number(row[k]) for k in table.columns if not k.startswith("units:")}
            records.append({"policy": name, **item, "allocation": units})
        supply_used = instance.supply if supply is None else supply
        echo_json({"instance": instance.name, "supply": supply_used, "policies": records})
    else:
        typer.echo(comparison_text(table, instance))


def fail_with_problems(exc: InputError, where: object, *inputs: Path | None) -> NoReturn:
    """One `error: ...` line per problem on stderr, then their count and where they are (the
    files among `inputs` that hold them, the command line, or `where`: ProblemsIn); exit 2
    (with --json, the JSON error object lists them on stdout)."""
    raise ProblemsIn(exc, where, [p for p in inputs if p is not None]) from exc


@app.command("validate")
def validate_command(instance_dir: Dir) -> None:
    """Check an instance and explain every problem found (exit 2 if any). A folder with a
    demand.csv is a multi-period instance: its demand, deliveries, lead times, capacity and
    [multiperiod] settings are checked too."""
    from optimiser.instance import load_instance
    from optimiser.multiperiod.instance import is_multiperiod, load_multiperiod

    try:
        if is_multiperiod(instance_dir):
            plan = load_multiperiod(instance_dir)
            instance = plan.base
        else:
            plan, instance = None, load_instance(instance_dir)
        from optimiser.coordinates import load_coordinates  # the maps' coordinates.csv

        coordinates = load_coordinates(instance)
    except InputError as exc:
        fail_with_problems(exc, instance_dir)
    shortage = int((instance.excess_demand > 0).sum())
    typer.echo(
        f"ok: {instance.name}: {len(instance.regions)} regions ({shortage} with excess demand "
        f"{instance.excess_demand.sum():,.0f}), supply {instance.supply:,}, "
        f"{counted(len(instance.constraints), 'default constraint')}"
        + ("" if coordinates is None else f"; coordinates for {len(coordinates)} regions")
    )
    if plan is not None:
        delivered = float(plan.deliveries.to_numpy().sum())
        typer.echo(
            f"ok: multi-period: {plan.days} days ({plan.demand_kind}), "
            f"{counted(len(plan.depots), 'depot')} receiving {counted(round(delivered), 'unit')}"
        )


@app.command("evaluate")
def evaluate_command(
    instance_dir: Dir,
    allocation: Annotated[
        Path,
        typer.Argument(
            help="CSV with columns region, units (solve --out's allocation.csv) or a result.json."
        ),
    ],
    constraint: ConstraintOpt = None,
    no_default_constraints: NoDefaults = False,
    json_output: JsonOpt = False,
) -> None:
    """Score an allocation (the engine's, fed back in, or one made by hand). Exit 0: it
    breaks no rule; 1: scored, and breaks rules (supply, staff caps, active constraints),
    listed under violations, as `triage check-plan`."""
    from optimiser.engine import evaluate
    from optimiser.report import allocation_text

    instance = load_single_period(instance_dir)
    try:
        units = read_allocation(allocation, instance.region_ids)
        # A result.json carries the constraints and supply it was solved under: the round
        # trip scores it under the same ones unless the command line says otherwise.
        stored = result_context(allocation)
    except InputError as exc:  # list every bad line of the allocation, not just the first
        fail_with_problems(exc, allocation)
    use_stored = stored is not None and not constraint and not no_default_constraints
    result = evaluate(
        instance,
        units,
        stored[0] if use_stored and stored else constraint or [],
        default_constraints=not no_default_constraints and not use_stored,
        source=allocation.name,
        supply=stored[1] if use_stored and stored else None,
    )
    if json_output:
        typer.echo(result.to_json())
    else:
        typer.echo(allocation_text(result, instance))
    if result.violations:
        raise typer.Exit(EXIT_RULES_BROKEN)


def load_single_period(instance_dir: Path) -> Instance:
    """The instance of a single-period command; a multi-period folder (it has demand.csv)
    is refused with a pointer to `triage plan` (exit 2): its supply arrives over time in
    deliveries.csv, so one allocation of `supply` would not be its answer."""
    from optimiser.engine import multiperiod_problem
    from optimiser.instance import load_instance
    from optimiser.multiperiod.instance import is_multiperiod

    if is_multiperiod(instance_dir):
        raise InputError(multiperiod_problem(instance_dir))
    try:
        return load_instance(instance_dir)
    except InputError as exc:  # a bedside case given to solve: say which command reads it
        raise with_folder_kind(exc, instance_dir) from None


def _units_problem(value: Any, shown: str | None = None) -> str | None:
    """Why `value` is not a whole number of units >= 0 (None when it is)."""
    shown = shown if shown is not None else repr(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"units must be a whole number >= 0, got {shown}"
    if not math.isfinite(value) or value != int(value) or value < 0:
        return f"units must be a whole number >= 0, got {shown}"
    if value > MAX_UNITS:
        return f"units must be at most {MAX_UNITS:,}, got {shown}"
    return None


def result_context(path: Path) -> tuple[list[str], int] | None:
    """(constraint labels, supply) of a result JSON (`solve --json`, result.json); None for
    a CSV or a JSON without them. Only called after read_allocation has read the file."""
    if path.suffix != ".json":
        return None
    payload = load_json(path.read_text(encoding="utf-8-sig"), path.name)
    if not isinstance(payload, dict):
        return None
    labels, supply = payload.get("constraints"), payload.get("supply")
    # present but damaged is a problem: ignoring it scored the allocation under the instance's
    # own constraints and supply, silently, not those the result was solved with
    problems = []
    if labels is not None and (
            not isinstance(labels, list) or not all(isinstance(c, str) for c in labels)):
        problems.append(Problem(f"'constraints' must be a list of constraint labels "
                                f"(strings), got {_shown(labels)}", file=path.name))
    if supply is not None and (isinstance(supply, bool) or not isinstance(supply, int)
                               or not 0 <= supply <= MAX_UNITS):
        problems.append(Problem(f"'supply' must be a whole number of units in "
                                f"[0, {MAX_UNITS:,}], got {_shown(supply)}", file=path.name))
    if problems:
        raise InputError(problems)
    if labels is None or supply is None:
        return None
    return labels, supply


def _shown(value: Any) -> str:
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _of_another_instance(name: str, ids: list[str], regions: Sequence[str] | None,
                         instance: object) -> None:
    """One problem, not one per region, when no region of the allocation is the instance's
    (the result.json of another instance: `triage evaluate instances/pugh2021 us/result.json`
    listed 50 unknown regions)."""
    if regions is None or len(ids) < 2 or set(ids) & set(regions):
        return
    of = f" (a result for {instance!r})" if isinstance(instance, str) else ""
    shown = ", ".join(f"'{r}'" for r in ids[:3]) + (", ..." if len(ids) > 3 else "")
    ours = ", ".join(regions[:5]) + (", ..." if len(regions) > 5 else "")
    raise InputError(Problem(
        f"none of its {len(ids)} regions ({shown}) is a region of this instance ({ours}): an "
        f"allocation for another instance{of}?", file=name))


def read_allocation(path: Path, regions: Sequence[str] | None = None) -> dict[str, int]:
    """Read region -> units from a CSV (region, units) or a result JSON ('allocation').

    Every problem is reported with the file, line and column; with `regions`, region ids are
    checked against the instance.
    """
    name = path.name
    problems: list[Problem] = []
    text = read_text(path, problems, required=True)
    if text is None:
        raise InputError(problems)
    known = set(regions) if regions is not None else None
    out: dict[str, int] = {}
    if path.suffix == ".json":
        payload = load_json(text, name)
        alloc = payload.get("allocation") if isinstance(payload, dict) else None
        if not isinstance(alloc, dict):
            raise InputError(Problem("expected an object with an 'allocation' object", file=name))
        _of_another_instance(name, [str(r) for r in alloc], regions, payload.get("instance"))
        for rid, units in alloc.items():
            if known is not None and str(rid) not in known:
                message: str | None = f"unknown region '{rid}'"
            else:
                message = _units_problem(units)
            if message:
                problems.append(Problem(message, file=name, region=str(rid), column="allocation"))
            else:
                out[str(rid)] = int(units)
        if problems:
            raise InputError(problems)
        return out
    table = read_csv_table(text, name, problems, expected=("region", "units"))
    if table is None:
        raise InputError(problems or [Problem("empty file", file=name)])
    header = table.header
    missing = [c for c in ("region", "units") if c not in header]
    if missing:  # "Region,Units" from a spreadsheet: say which header was meant
        found = [f"'{c}'{did_you_mean(c, missing)}" for c in header if c not in ("region", "units")]
        raise InputError(Problem(
            f"missing {listed('column', missing)} (needs region, units; found "
            f"{', '.join(found) or 'no other column'})", file=name, line=1))
    unknown = [c + did_you_mean(c, ALLOCATION_COLUMNS) for c in header
               if c not in ALLOCATION_COLUMNS]
    if unknown:  # as every other input table: a column nothing reads is refused, not ignored
        problems.append(Problem(
            f"unknown {listed('column', unknown)} (an allocation has the columns "
            f"{', '.join(ALLOCATION_COLUMNS)} only, as solve --out's allocation.csv)",
            file=name, line=1))
    ri, ui = header.index("region"), header.index("units")
    _of_another_instance(name, [row[ri].strip() for row in table.rows], regions, None)
    first: dict[str, int] = {}
    for line, row in zip(table.lines, table.rows, strict=True):
        rid, raw = row[ri].strip(), row[ui].strip()
        if rid in first:
            problems.append(
                Problem(
                    f"duplicate region '{rid}' (first on line {first[rid]})",
                    file=name,
                    line=line,
                    column="region",
                )
            )
            continue
        first[rid] = line
        if known is not None and rid not in known:
            problems.append(
                Problem(f"unknown region '{rid}'", file=name, line=line, column="region")
            )
            continue
        number = strict_float(raw)
        if number is None:
            what = not_a_number(raw) if raw else "missing value (units sent, 0 for none)"
            problems.append(Problem(what, file=name, line=line, column="units"))
            continue
        if reason := _units_problem(number, raw):
            problems.append(Problem(reason, file=name, line=line, column="units"))
            continue
        out[rid] = int(number)
    if problems:
        raise InputError(problems)
    return out


__all__ = ["read_allocation", "write_result"]
