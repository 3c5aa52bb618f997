"""`triage scenarios generate | validate | evaluate`: demand scenarios (docs/scenarios.md)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from optimiser.cli import HELP_STYLE, app
from optimiser.cli.common import (
    DaskSchedulerOpt,
    JsonOpt,
    ProblemsIn,
    WorkersOpt,
    check_out_apart,
    located,
    write_outputs,
)
from optimiser.cli.regional import fail_with_problems
from optimiser.errors import InputError, Problem, counted

if TYPE_CHECKING:
    from optimiser.multiperiod.instance import MultiPeriodInstance
    from optimiser.scenarios.evaluate import Evaluation
    from optimiser.scenarios.model import ScenarioSet

scenarios_app = typer.Typer(
    name="scenarios",
    help="Demand scenarios: generate them, validate them, evaluate a plan over them "
    "(docs/scenarios.md).",
    no_args_is_help=True,
    **HELP_STYLE,
)
app.add_typer(scenarios_app, name="scenarios")

Dir = Annotated[Path, typer.Argument(help="Multi-period instance folder (with demand.csv).")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Backtest date YYYY-MM-DD: only forecasts released by then may be used.",
    ),
]


def _load(instance_dir: Path) -> MultiPeriodInstance:
    from optimiser.multiperiod.instance import load_multiperiod

    try:
        return load_multiperiod(instance_dir)
    except InputError as exc:
        fail_with_problems(exc, instance_dir)


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            Problem(
                f"must be a date YYYY-MM-DD, got {text!r}", column="as-of", column_word="option"
            )
        ) from None


def _summary(scenarios: ScenarioSet) -> dict[str, Any]:
    """Spread of the total demand over regions and days, per scenario."""
    import numpy as np

    totals = scenarios.array().sum(axis=(1, 2))
    peaks = scenarios.array().sum(axis=1).max(axis=1)
    q = [0.05, 0.5, 0.95]
    return {
        "scenarios": len(scenarios),
        "sampled": scenarios.sampled,
        "regions": len(scenarios.regions),
        "days": scenarios.days,
        "demand_kind": scenarios.demand_kind,
        "total_patient_days_q05_q50_q95": [round(float(v), 1) for v in np.quantile(totals, q)],
        "national_peak_q05_q50_q95": [round(float(v), 1) for v in np.quantile(peaks, q)],
        "info": dict(scenarios.info),
    }


@scenarios_app.command("generate")
def generate_command(
    instance_dir: Dir,
    out: Annotated[
        Path,
        typer.Option(
            help="Folder to write scenarios.csv, scenario_weights.csv and scenarios.json into."
        ),
    ],
    method: Annotated[
        str | None,
        typer.Option(
            help="lognormal | intervals | forecasts (default: instance.toml's uncertainty table).",
        ),
    ] = None,
    scenarios: Annotated[
        int | None,
        typer.Option(
            help="How many to draw (forecasts: 0 = each forecast is one scenario; default 100, "
            "forecasts 0)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same files).")] = None,
    correlation: Annotated[
        float | None, typer.Option(help="Rank correlation across regions, 0..1 (default 0.5).")
    ] = None,
    sigma0: Annotated[
        float | None, typer.Option(help="lognormal: log sd of the level on day 0 (0.45).")
    ] = None,
    sigma_growth: Annotated[
        float | None,
        typer.Option(help="lognormal: log sd of the growth rate per day of lead time (0.05)."),
    ] = None,
    peak_shift_sd: Annotated[
        float | None, typer.Option(help="lognormal: sd of the peak-date shift in days (7).")
    ] = None,
    center: Annotated[
        str | None,
        typer.Option(help="lognormal: the base forecast is the scenarios' mean or median (mean)."),
    ] = None,
    forecast: Annotated[
        list[str] | None,
        typer.Option(
            "--forecast",
            "-f",
            help="A forecast CSV, or SOURCE[@RELEASE] of forecasts/releases.csv; repeatable "
            "(lognormal: the base instead of demand.csv; intervals: one with lower/upper; "
            "forecasts: the competing ones).",
        ),
    ] = None,
    weight: Annotated[
        list[float] | None,
        typer.Option("--weight", "-w", help="forecasts: one weight per --forecast (equal)."),
    ] = None,
    as_of: AsOfOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Generate a seeded scenario set for an instance (docs/scenarios.md, "Generators")."""
    from optimiser.scenarios.backtest import is_backtest, load_backtest
    from optimiser.scenarios.io import write_scenarios
    from optimiser.scenarios.table import GeneratorRequest, request_from_table

    instance = _load(instance_dir)
    try:
        check_out_apart(out, {"instance": instance_dir})
        when = _date(as_of)
        if when is not None and is_backtest(instance_dir):
            load_backtest(instance_dir, read_forecasts=False).check_date(when)
        table = instance.base.extra.get("uncertainty")
        base = (
            request_from_table(table)
            if table is not None and method in (None, table.get("method"))
            else None
        )
        chosen = method or (base.method if base is not None else None)
        if chosen is None:
            raise InputError(
                Problem(
                    "give --method (lognormal, intervals or forecasts): the instance has no "
                    "[uncertainty] table",
                    column="method",
                    column_word="option",
                )
            )
        params: dict[str, Any] = dict(base.parameters) if base is not None else {}
        names = list(base.forecasts) if base is not None else []
        given = {
            "scenarios": scenarios,
            "seed": seed,
            "correlation": correlation,
            "sigma0": sigma0,
            "sigma_growth": sigma_growth,
            "peak_shift_sd": peak_shift_sd,
            "center": center,
            "weights": tuple(weight) if weight else None,
        }
        allowed = {
            "lognormal": {"scenarios", "seed", "correlation", "sigma0", "sigma_growth"}
            | {"peak_shift_sd", "center"},
            "intervals": {"scenarios", "seed", "correlation"},
            "forecasts": {"scenarios", "seed", "correlation", "weights"},
        }.get(chosen)
        if allowed is None:
            raise InputError(
                Problem(
                    f"unknown method {chosen!r} (methods: lognormal, intervals, forecasts)",
                    column="method",
                    column_word="option",
                )
            )
        extra = [k for k, v in given.items() if v is not None and k not in allowed]
        if extra:
            raise InputError(
                Problem(
                    f"--{extra[0].replace('_', '-')} is not a parameter of the {chosen} generator",
                    column=extra[0],
                    column_word="option",
                )
            )
        params.update({k: v for k, v in given.items() if v is not None})
        if forecast:
            names = list(forecast)
        request = GeneratorRequest(method=chosen, parameters=params, forecasts=tuple(names))
        result = request.run(instance, instance_dir, when)
    except InputError as exc:
        fail_with_problems(exc, instance_dir)

    write_outputs(out, lambda folder: write_scenarios(result, folder))
    summary = _summary(result)
    if json_output:
        typer.echo(json.dumps({"out": str(out), **summary}, indent=2, allow_nan=False))
        return
    info = result.info
    seed_text = f", seed {info['parameters'].get('seed')}" if "parameters" in info else ""
    low, mid, high = summary["national_peak_q05_q50_q95"]
    typer.echo(
        f"wrote {out}: {counted(len(result), 'scenario')} ({info.get('generator')}{seed_text}) of "
        f"{summary['regions']} regions x {summary['days']} days; national peak "
        f"{result.demand_kind} {mid:,.0f} (5%-95%: {low:,.0f}-{high:,.0f})"
    )


def _scenarios_for(
    instance_dir: Path, instance: MultiPeriodInstance, scenarios: str | None
) -> ScenarioSet:
    """--scenarios: a folder or scenarios CSV, 'observed' (a backtest's observed.csv), or,
    when not given, the instance's own (scenarios.csv or [uncertainty])."""
    from optimiser.scenarios.backtest import load_backtest
    from optimiser.scenarios.io import load_scenarios
    from optimiser.scenarios.table import instance_scenarios

    if scenarios == "observed" and not (instance_dir / "observed.csv").is_file():
        raise InputError(
            Problem(
                "--scenarios observed needs the instance's observed.csv (a backtest instance)",
                column="scenarios",
                column_word="option",
            )
        )
    given = None if scenarios in (None, "observed") else Path(str(scenarios))
    try:
        if given is not None:
            return load_scenarios(given, instance)
        if scenarios == "observed":
            return load_backtest(instance_dir, read_forecasts=False).observed_scenarios()
        return instance_scenarios(instance)
    except InputError as exc:  # the count line names the file that holds each problem
        raise located(exc, given or instance_dir) from None


ScenariosOpt = Annotated[
    str | None,
    typer.Option(
        "--scenarios",
        "-s",
        help="Folder with scenarios.csv (or the CSV itself), or 'observed' for a backtest "
        "instance's observed.csv (default: the instance's scenarios.csv or its uncertainty table).",
    ),
]


@scenarios_app.command("validate")
def validate_command(
    instance_dir: Dir,
    scenarios: ScenariosOpt = None,
    as_of: AsOfOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Check an instance's scenarios (or --scenarios) and, for a backtest instance, its
    observed series and forecast releases; every problem listed, exit 2 if any."""
    from optimiser.scenarios.backtest import is_backtest, load_backtest
    from optimiser.scenarios.io import SCENARIOS_FILE

    instance = _load(instance_dir)
    report: dict[str, Any] = {"instance": instance.name}
    errors: list[InputError] = []  # each placed in its file (ProblemsIn.joined)
    try:
        when = _date(as_of)
    except InputError as exc:
        fail_with_problems(exc, instance_dir)
    backtest = None
    if is_backtest(instance_dir):
        try:
            backtest = load_backtest(instance_dir)
            if when is not None:
                report["forecasts_as_of"] = [r.name for r in backtest.forecasts_as_of(when)]
        except InputError as exc:
            errors.append(exc)
    elif when is not None:
        errors.append(
            InputError(
                Problem(
                    "--as-of applies to backtest instances (with observed.csv)",
                    column="as-of",
                    column_word="option",
                )
            )
        )
    has_own = (instance_dir / SCENARIOS_FILE).is_file() or "uncertainty" in instance.base.extra
    if scenarios is not None or has_own:
        try:
            report["scenarios"] = _summary(_scenarios_for(instance_dir, instance, scenarios))
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise ProblemsIn.joined(errors, instance_dir)
    if backtest is not None:
        first, last = backtest.window
        report["backtest"] = {
            "window": [first.isoformat(), last.isoformat()],
            "observed_total": round(float(backtest.observed.to_numpy().sum()), 3),
            "releases": [
                {"source": r.source, "release": r.release.isoformat(), "file": r.file}
                for r in backtest.releases
            ],
        }
    if json_output:
        typer.echo(json.dumps(report, indent=2, allow_nan=False))
        return
    lines = [f"ok: {instance.name}"]
    if "scenarios" in report:
        s = report["scenarios"]
        lines.append(
            f"  scenarios: {s['scenarios']} ({'sampled' if s['sampled'] else 'weighted'}), "
            f"{s['regions']} regions x {s['days']} days of {s['demand_kind']}"
        )
    else:
        lines.append("  scenarios: none (no scenarios.csv, no [uncertainty] table)")
    if backtest is not None:
        b = report["backtest"]
        lines.append(
            f"  backtest window {b['window'][0]}..{b['window'][1]}, observed.csv covers it; "
            f"releases: {', '.join(r.name for r in backtest.releases)}"
        )
    if "forecasts_as_of" in report:
        lines.append(f"  known on {when}: {', '.join(report['forecasts_as_of']) or 'none'}")
    typer.echo("\n".join(lines))


@scenarios_app.command("evaluate")
def evaluate_command(
    instance_dir: Dir,
    plan_file: Annotated[
        Path,
        typer.Argument(help="Plan CSV (plan --out writes manifest.csv and plan.csv)."),
    ],
    scenarios: ScenariosOpt = None,
    policy: Annotated[
        str,
        typer.Option(
            help="manifest: dispatch the ship/transfer rows as written, admissions by the "
            "simulator; as_is: replay every row."
        ),
    ] = "manifest",
    alpha: Annotated[float, typer.Option(help="Tail share of CVaR (0.1: worst 10%).")] = 0.1,
    confidence: Annotated[float, typer.Option(help="Level of the intervals.")] = 0.95,
    shortfall_tolerance: Annotated[
        float,
        typer.Option(help="Resource-days of unmet need below which a scenario has no shortfall."),
    ] = 0.5,
    sampled: Annotated[
        bool | None,
        typer.Option(
            "--sampled/--not-sampled",
            help="Treat the scenarios as an i.i.d. sample (confidence intervals) or as the "
            "distribution itself (default: as scenarios.json says).",
        ),
    ] = None,
    workers: WorkersOpt = None,
    dask_scheduler: DaskSchedulerOpt = None,
    instance_settings: Annotated[
        bool,
        typer.Option(
            "--instance-settings",
            help="Ignore the settings `plan --out` recorded beside the plan (result.json).",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Write evaluation.json and per_scenario.csv here."),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="With --out: also write report.html, with fan charts of the scenarios' need "
            "against the plan's units on hand (docs/scenarios.md).",
        ),
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Replay a plan in every scenario through check-plan's simulator: expected survivors and
    deaths, probability of any shortfall, expected and CVaR shortfall (with confidence
    intervals for sampled scenarios). Exit 0, or 2 for invalid input."""
    from optimiser.multiperiod.check import recorded_context
    from optimiser.scenarios.evaluate import evaluate

    if report and out is None:
        raise InputError(Problem("--report needs --out (the folder report.html is written to)"))
    instance = _load(instance_dir)
    page = None
    try:
        if out is not None:
            check_out_apart(out, {"instance": instance_dir}, {"plan": plan_file})
        record = None if instance_settings else recorded_context(plan_file)
        if record is not None and (
            record.instance != instance.name or record.days != instance.days
        ):
            typer.echo(
                f"warning: {record.path} is a plan of {record.instance!r}, not of "
                f"{instance.name!r}: its recorded settings are not used",
                err=True,
            )
        elif record is not None:
            instance = instance.with_settings(**record.settings)
            if not json_output:
                typer.echo(f"replaying under the settings recorded in {record.path}", err=True)
        chosen = _scenarios_for(instance_dir, instance, scenarios)
        result = evaluate(
            instance,
            plan_file,
            chosen,
            policy=policy,
            alpha=alpha,
            confidence=confidence,
            shortfall_tolerance=shortfall_tolerance,
            sampled=sampled,
            workers=workers,
            scheduler=dask_scheduler,
            progress=not no_progress and not json_output and sys.stderr.isatty(),
        )
        if report:
            from optimiser.reporting.stochastic import build_evaluation_report
            from optimiser.stochastic.fan import plan_fan

            fan = plan_fan(instance, chosen, plan_file, policy=result.policy)
            page = build_evaluation_report(
                instance, result, fan, command=["triage", *sys.argv[1:]]
            )
    except InputError as exc:
        fail_with_problems(exc, instance_dir, plan_file)
    if out is not None:

        def write(folder: Path) -> None:
            (folder / "evaluation.json").write_text(result.to_json() + "\n")
            result.per_scenario.to_csv(folder / "per_scenario.csv", lineterminator="\n")
            if page is not None:
                from optimiser.reporting.build import write_report_files

                write_report_files(page, folder)

        write_outputs(out, write)
    typer.echo(result.to_json() if json_output else evaluation_text(result))


def evaluation_text(result: Evaluation) -> str:
    """The readable summary of an evaluation."""
    m = result.metrics
    level = f"{100 * result.confidence:g}%"
    kind = "sampled: " + level + " intervals" if result.sampled else "exact for these weights"

    def fmt(key: str, digits: int = 1, scale: float = 1.0) -> str:
        e = m[key]
        text = f"{scale * e.value:,.{digits}f}"
        if e.low is not None and e.high is not None:
            text += f"  [{scale * e.low:,.{digits}f}, {scale * e.high:,.{digits}f}]"
        return text

    a = f"{100 * result.alpha:g}%"
    lines = [
        f"{result.plan} on {result.instance}: {counted(result.scenarios, 'scenario')} ({kind}), "
        f"policy {result.policy}",
        f"  expected extra survivors        {fmt('expected_survivors')}",
        f"  expected deaths                 {fmt('expected_deaths')}",
        f"  patients never admitted         {fmt('expected_not_admitted')}",
        f"  P(shortfall > {result.shortfall_tolerance:g} resource-days)  "
        f"{fmt('probability_of_shortfall', 1, 100)} %",
        f"  expected shortfall (res.-days)  {fmt('expected_shortfall')}",
        f"  CVaR {a} shortfall (worst {a})  {fmt('cvar_shortfall')}",
        f"  CVaR {a} deaths                 {fmt('cvar_deaths')}",
    ]
    broken = m["probability_of_broken_rules"].value
    if broken > 0:
        lines.append(
            f"  the plan breaks a rule in {100 * broken:.1f}% of scenarios "
            "(per_scenario rules_broken; replay one with check-plan)"
        )
    lines.append(f"  ({result.info.get('executor')}, {result.info.get('seconds')} s)")
    return "\n".join(lines)


@scenarios_app.command("skill")
def skill_command(
    instance_dir: Dir,
    regions: Annotated[
        bool, typer.Option("--regions", help="One line per region too, not only the totals.")
    ] = False,
    errors: Annotated[
        bool,
        typer.Option(
            "--errors",
            help="The spread of ln(observed / forecast) across regions by lead time, weekly.",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """How far each forecast of a backtest instance was from what happened: peak size and
    date, decline, patient-days, interval coverage (docs/scenarios.md)."""
    from optimiser.scenarios.backtest import load_backtest
    from optimiser.scenarios.skill import NATIONAL, forecast_skill, log_errors, skill_summary

    try:
        backtest = load_backtest(instance_dir)
    except InputError as exc:
        fail_with_problems(exc, instance_dir)
    skill = forecast_skill(backtest)
    summary = skill_summary(skill)
    import pandas as pd

    spread = pd.concat([log_errors(backtest, r) for r in backtest.releases], ignore_index=True)
    if json_output:
        payload = {
            "instance": backtest.instance.name,
            "summary": json.loads(summary.to_json(orient="records")),
            "regions": json.loads(skill.to_json(orient="records")),
            "log_errors": json.loads(spread.to_json(orient="records")),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    first, last = backtest.window
    lines = [f"{backtest.instance.name}: forecasts against observed.csv, {first}..{last}"]
    lines.append(
        f"{'release':<18} {'peak ratio':>10} {'patient-days':>12} {'last day':>9} "
        f"{'half peak (f / o)':>24} {'regional peak ratio':>22} {'in 95% band':>11}"
    )
    for row in summary.to_dict("records"):
        band = row["interval_coverage"]
        lines.append(
            f"{row['release']:<18} {row['national_peak_ratio']:>10.2f} "
            f"{row['national_patient_days_ratio']:>12.2f} {row['national_last_day_ratio']:>9.2f} "
            f"{(row['forecast_half_date'] or '-') + ' / ' + (row['observed_half_date'] or '-'):>24}"
            f" {row['regional_peak_ratio_median']:>6.2f} ({row['regional_peak_ratio_min']:.2f}-"
            f"{row['regional_peak_ratio_max']:.2f}) "
            f"{'-' if band != band else f'{100 * band:.0f}%':>11}"
        )
    lines.append(
        "ratios: forecast / observed (national total); half peak: first day below half the peak"
    )
    if regions:
        lines.append("")
        lines.append(skill[skill.region != NATIONAL].to_string(index=False))
    if errors:
        lines.append("")
        lines.append("ln(observed / forecast) across regions (both >= 5 patients), by lead time:")
        lines.append(spread.round(3).to_string(index=False))
    typer.echo("\n".join(lines))
