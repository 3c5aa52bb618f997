"""build_report: gather everything a decision report shows (no HTML here), then render it.

Pipeline: `build_report(...)` computes the data (a solve, optimiser.compare, sweeps for the
frontier and the tornado, a plan's tables) into a Report of Sections, renders it with the
templates (optimiser.reporting.render) and returns it; `write_report(report, out)` writes
report.html, charts/*.png|svg, tables/*.csv and provenance.json.

Plan mode: given a multi-period plan (`read_plan_input`: a `triage plan --out` folder or its
result.json, or a PlanResult), the report is the plan's: expected survivors, deliveries and
transfers, shortfall, patients not admitted, why short regions give units away, price of
fairness over the horizon, per-region totals, charts over time and maps. The plan must belong
to the instance (same regions, and the multi-period fingerprint under the plan's settings). The
single-period sections follow only when there is a supply on hand to allocate (an instance
whose supply is 0 gets every unit through deliveries.csv), labelled as a one-shot view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from models.fairness import ConstraintSpec
from optimiser.coordinates import load_coordinates
from optimiser.engine import active_constraints, solve
from optimiser.errors import InfeasibleError, InputError, Problem
from optimiser.instance import Instance
from optimiser.json_values import json_ready
from optimiser.reporting import plan_sections, single
from optimiser.reporting.model import Report, Section
from optimiser.reporting.plans import check_plan_matches, plan_input, plan_provenance
from optimiser.reporting.provenance import provenance
from optimiser.reporting.render import render_html
from optimiser.reporting.sweep import sweep_section
from optimiser.solver import SolveStatus
from optimiser.sweeps.run import SweepResult


def build_report(
    instance: Instance,
    *,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
    supply: int | None = None,
    sweep: SweepResult | None = None,
    plan: Any = None,
    plan_source: str | None = None,
    tornado_pct: float | None = 20.0,
    frontiers: bool = True,
    seed: int = 0,
    command: Sequence[str] | None = None,
) -> Report:
    """Compute a decision report. Raises InfeasibleError (with the engine's explanation) when
    the active constraints admit no allocation.

    plan: a PlanResult, a PlanInput (read_plan_input) or a time-series DataFrame. A plan
    result makes this a plan report (module docstring); InputError when it is not for this
    instance."""
    if sweep is not None:
        fingerprint = sweep.manifest.get("spec", {}).get("fingerprint")
        if fingerprint and fingerprint != instance.fingerprint():
            raise InputError(
                Problem(
                    f"the sweep in {sweep.out} was run on another instance (fingerprint "
                    f"{fingerprint}, this one is {instance.fingerprint()})"
                )
            )
    given = plan_input(plan, plan_source) if plan is not None else None
    if given is not None:
        check_plan_matches(given, instance)
    coordinates = load_coordinates(instance)
    plan_mode = given is not None and given.is_plan
    base_instance = instance
    if supply is not None:
        instance = instance.with_supply(supply)
    active = active_constraints(instance, constraints, default_constraints)
    resource = instance.resource
    # A plan of a zero-supply instance: nothing on hand to allocate once, so no single-period
    # sections (each unit arrives through deliveries.csv)
    one_shot = not plan_mode or instance.supply > 0
    result = None
    if one_shot:
        result = solve(instance, constraints=active, default_constraints=False, seed=seed)
        if result.status == SolveStatus.INFEASIBLE:
            raise InfeasibleError(result.explanation or "infeasible")
    options: dict[str, Any] = {
        "constraints": [c.label for c in active],
        "default_constraints": default_constraints,
        "supply": instance.supply,
        "supply_override": supply,
        "policy": "optimal",
        "tie_break": True,
        "tornado_pct": tornado_pct if one_shot else None,
        "frontiers": frontiers and one_shot,
        "seed": seed,
    }
    if plan_mode:
        assert given is not None and given.result is not None
        report = Report(title=plan_sections.plan_title(given.result, base_instance))
        plan_sections.plan_sections(report, given, base_instance, active, coordinates)
    else:
        assert result is not None
        report = Report(title=f"Allocation of {instance.supply:,} {resource}s: {instance.name}")
        report.sections.append(single.decision(result, instance))
        report.sections.append(single.instance_section(instance, active))
    if one_shot:
        assert result is not None
        prefix = "Single-period view: " if plan_mode else ""
        if plan_mode:
            report.sections.append(Section(
                f"{prefix}allocating {instance.supply:,} {resource}s at once", "one_shot",
                {"supply": instance.supply, "resource": resource,
                 "decision": single.decision_data(result, instance)},
            ))
        report.sections += single.allocation_sections(report, instance, result, prefix,
                                                      coordinates)
        report.sections.append(single.policies_section(report, instance, active, seed, prefix))
        report.tables["price_of_fairness"] = result.price_of_fairness
        report.sections.append(single.price_section(result, prefix))
        if frontiers:
            report.sections.append(single.frontier_section(report, instance, active, prefix))
        if tornado_pct:
            report.sections.append(
                single.tornado_section(report, instance, active, tornado_pct, prefix)
            )
    elif plan_mode:
        report.sections.append(Section("Single-period analysis: not applicable",
                                       "no_one_shot", {}))
    if sweep is not None:
        report.sections.append(sweep_section(report, sweep, base_instance))
        options["sweep"] = {
            "folder": None if sweep.out is None else str(sweep.out),
            "spec_hash": sweep.manifest.get("spec_hash"),
            "spec": sweep.manifest.get("spec"),
            "counts": sweep.manifest.get("counts"),
            "versions": sweep.manifest.get("versions"),
        }
    if given is not None and not given.is_plan:  # a time series only: its chart, said so
        assert given.daily is not None
        report.tables["plan"] = given.daily
        data = plan_sections.over_time(report, given.daily, resource, arrivals=None)
        report.sections.append(Section("Plan over time (time series only)", "time_series", data))
    if given is not None:
        options["plan"] = plan_provenance(given)
    report.provenance = provenance(base_instance, options, command=command)
    if result is not None:
        report.provenance["result"] = {
            "status": str(result.status),
            "lives_saved": result.lives_saved,
            "lives_optimal": result.lives_optimal,
            "lives_lost_total": result.lives_lost_total,
            "allocation": result.allocation,
            "solver": None
            if result.solver is None
            else {
                "name": result.solver.name,
                "version": result.solver.version,
                "gap": result.solver.gap,
                "solves": result.solver.solves,
            },
        }
    if plan_mode:
        assert given is not None
        report.provenance["plan_result"] = plan_sections.plan_summary(given.result)
    report.sections.append(Section("Provenance", "provenance", {"provenance": report.provenance}))
    report.html = render_html(report)
    return report


def write_report(report: Report, out: str | Path) -> Path:
    """report.html, charts/NAME.png|svg, tables/NAME.csv, provenance.json, written through
    optimiser.cli.common.write_outputs: into a temporary folder moved into place (never half a
    report), and an existing `out` is replaced only if triage wrote it (a folder of other files,
    e.g. a sweep's, is refused: InputError, left untouched). Files follow the user's umask."""
    from optimiser.cli.common import write_outputs

    out = Path(out)
    write_outputs(out, lambda folder: write_report_files(report, folder))
    return out / "report.html"


def write_report_files(report: Report, folder: Path) -> None:
    """report.html, charts/, tables/ and provenance.json into `folder` (already made; callers
    write through write_outputs so a report is never half written)."""
    import json

    from optimiser import charts

    (folder / "report.html").write_text(report.html, encoding="utf-8")
    (folder / "charts").mkdir()
    for name, fig in report.figures.items():
        fig.savefig(folder / "charts" / f"{name}.png", dpi=charts.DPI)
        svg = report.svgs.get(name) or charts.svg_text(fig)
        (folder / "charts" / f"{name}.svg").write_text(svg, encoding="utf-8")
    tables = folder / "tables"
    tables.mkdir()
    for name, frame in report.tables.items():
        frame.to_csv(tables / f"{name}.csv", index=not isinstance(frame.index, pd.RangeIndex))
    (folder / "provenance.json").write_text(
        json.dumps(json_ready(report.provenance), indent=2, default=str, allow_nan=False),
        encoding="utf-8",
    )
