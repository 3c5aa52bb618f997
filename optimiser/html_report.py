"""One self-contained HTML decision report: instance summary, allocation, policies, price of
fairness, frontier, tornado, sweep and plan charts, and the provenance needed to audit it.

Pipeline: `build_report(...)` computes everything (a solve, optimiser.compare, sweeps for the
frontier and the tornado) and returns a Report (figures, tables, provenance, HTML);
`write_report(report, out)` writes report.html, charts/*.png|svg, tables/*.csv and
provenance.json into `out` through optimiser.cli.common.write_outputs (a temporary folder moved
into place; a folder that triage did not write is never replaced).

Plan mode: given a multi-period plan (`read_plan_input`: a `triage plan --out` folder or its
result.json, or a PlanResult), the report is the plan's: expected survivors, deliveries and
transfers, shortfall, patients not admitted, price of fairness over the horizon, per-region
totals and charts over time. The plan must belong to the instance (same regions, and the
multi-period fingerprint under the plan's settings). The single-period sections (allocation
of the supply on hand, policies, frontier, tornado) follow only when there is a supply on hand
to allocate (an instance whose supply is 0 gets every unit through deliveries.csv), clearly
labelled as a one-shot view that ignores deliveries and timing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import math
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.fairness import ConstraintSpec
from optimiser import charts
from optimiser.engine import active_constraints, compare, solve
from optimiser.errors import InfeasibleError, InputError, Problem
from optimiser.instance import Instance
from optimiser.results import AllocationResult, SolverInfo
from optimiser.solver import SolveStatus, solver_versions
from optimiser.sweeps.analysis import frontier, numeric_params, tornado
from optimiser.sweeps.run import SweepResult

if TYPE_CHECKING:
    from optimiser.multiperiod.results import PlanResult

MAX_FRONTIERS = 3
MAX_RESPONSE_CHARTS = 6
MAX_GROUP_LINES = 6
#: Every file an instance folder may hold (single-period and multi-period); all are hashed.
INSTANCE_FILES = (
    "instance.toml",
    "regions.csv",
    "tiers.csv",
    "demand.csv",
    "deliveries.csv",
    "lead_times.csv",
    "capacity.csv",
)
#: Time-series files (the plan-chart contract, charts.PLAN_COLUMNS) accepted as a plan.
TIME_SERIES_SUFFIXES = (".csv", ".parquet")


@dataclass
class Report:
    """Everything a report holds; `html` embeds the figures (SVG as data URIs)."""

    title: str
    figures: dict[str, Figure] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (heading, html body)
    html: str = ""
    svgs: dict[str, str] = field(default_factory=dict)  # rendered once, reused by write_report


# ---------------------------------------------------------------------------------------------
# Provenance


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def _git_commit() -> str | None:
    """The engine's source commit (read-only git), with '+dirty' when files differ; None outside "
    "git."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def provenance(
    instance: Instance, options: Mapping[str, Any], *, command: Sequence[str] | None = None
) -> dict[str, Any]:
    """What is needed to reproduce and audit a report (every instance file is hashed)."""
    import matplotlib
    import numpy

    import optimiser

    files = {}
    if instance.path is not None:
        for name in INSTANCE_FILES:
            path = Path(instance.path) / name
            if path.is_file():
                files[name] = _sha256(path)
    versions = solver_versions()
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": None if command is None else " ".join(command),
        "instance": {
            "name": instance.name,
            "path": None if instance.path is None else str(instance.path),
            "fingerprint": instance.fingerprint(),
            "files_sha256": files,
            "resource": instance.resource,
            "supply": instance.supply,
        },
        "options": dict(options),
        "versions": {
            "engine": getattr(optimiser, "__version__", "unknown"),
            "engine_commit": _git_commit(),
            "highs": versions["highs"],
            "highspy": versions["highspy"],
            "pyomo": versions["pyomo"],
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "pandas": pd.__version__,
            "matplotlib": matplotlib.__version__,
            "platform": platform.platform(),
        },
    }


# ---------------------------------------------------------------------------------------------
# Plans as inputs


@dataclass(frozen=True)
class PlanInput:
    """A plan for the report: a multi-period PlanResult (plan mode) or, for the chart only, a
    time series in the plan-chart contract. `daily`: PLAN_COLUMNS (None: no daily table)."""

    result: PlanResult | None
    daily: pd.DataFrame | None
    source: str
    files_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def is_plan(self) -> bool:
        return self.result is not None


def plan_input(plan: Any, source: str | None = None) -> PlanInput:
    """A PlanInput from a PlanInput, a PlanResult or a time-series DataFrame."""
    from optimiser.multiperiod.results import PlanResult

    if isinstance(plan, PlanInput):
        return plan
    if isinstance(plan, PlanResult):
        daily = charts.plan_frame(plan) if len(plan.daily) else None
        return PlanInput(plan, daily, source or "PlanResult (Python)")
    if isinstance(plan, pd.DataFrame):
        return PlanInput(None, charts.plan_frame(plan), source or "DataFrame (Python)")
    raise InputError(Problem("a plan must be a PlanResult, a plan folder or a DataFrame"))


def read_plan_input(path: str | Path) -> PlanInput:
    """Read --from-plan: a `triage plan --out` folder, its result.json (with daily.csv,
    regions.csv, manifest.csv, plan.csv, price_of_fairness.csv beside it when present), or a
    time series (CSV/Parquet with region, day, units_on_hand, demand or need: the chart only)."""
    path = Path(path)
    where = f"--from-plan {path}"
    if path.is_dir():
        if not (path / "result.json").is_file():
            raise InputError(
                Problem(
                    f"{where}: no result.json in this folder; give a `triage plan --out` "
                    "folder, its result.json, or a time series (CSV/Parquet)"
                )
            )
        path = path / "result.json"
    if not path.is_file():
        raise InputError(Problem(f"{where}: file not found"))
    if path.suffix.lower() == ".json":
        return _read_plan_json(path, where)
    if path.suffix.lower() not in TIME_SERIES_SUFFIXES:
        raise InputError(
            Problem(f"{where}: expected a plan folder, result.json, or a .csv/.parquet time series")
        )
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:
        raise InputError(Problem(f"cannot read: {exc}", file=path.name)) from exc
    return PlanInput(None, charts.plan_frame(frame), str(path), {path.name: _sha256(path)})


def _read_plan_json(path: Path, where: str) -> PlanInput:
    """A PlanResult rebuilt from result.json (the `triage plan --json` contract) and the CSV
    files `triage plan --out` writes beside it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(Problem(f"{where}: unreadable JSON ({exc})")) from exc
    needed = ("instance", "status", "days", "regions", "lives_saved", "fingerprint")
    if not isinstance(data, dict) or any(k not in data for k in needed):
        raise InputError(
            Problem(f"{where}: not the result.json of `triage plan` (needs {', '.join(needed)})")
        )
    folder = path.parent
    files = {path.name: _sha256(path)}

    def table(name: str, **kwargs: Any) -> pd.DataFrame | None:
        file = folder / name
        if not file.is_file():
            return None
        files[name] = _sha256(file)
        try:
            return pd.read_csv(file, **kwargs)
        except Exception as exc:
            raise InputError(Problem(f"cannot read: {exc}", file=name)) from exc

    try:
        regions = pd.DataFrame(data["regions"]).set_index("region")
        regions.index = regions.index.astype(str)
        movements = [dict(m) for m in data.get("shipments") or []] + [
            {"kind": "patients", "units": p.get("patients"), **p}
            for p in data.get("patient_transfers") or []
        ]
        manifest = table("manifest.csv")
        if manifest is None:
            manifest = pd.DataFrame(movements)
        daily = table("daily.csv")
        plan_rows = table("plan.csv")
        table("regions.csv")  # hashed: the same numbers as result.json's regions
        table("price_of_fairness.csv")
        from optimiser.multiperiod.results import PRICE_COLUMNS, PlanResult

        price = pd.DataFrame(data.get("price_of_fairness") or [], columns=PRICE_COLUMNS)
        solver = data.get("solver")
        result = PlanResult(
            instance=str(data["instance"]),
            status=str(data["status"]),
            days=int(data["days"]),
            start_date=data.get("start_date"),
            lives_saved=data.get("lives_saved"),
            lives_optimal=data.get("lives_optimal"),
            constraints=tuple(data.get("constraints") or ()),
            settings=dict(data.get("settings") or {}),
            manifest=manifest,
            plan=plan_rows if plan_rows is not None else pd.DataFrame(),
            daily=daily if daily is not None else pd.DataFrame(),
            regions=regions,
            price_of_fairness=price,
            shortfall=data.get("shortfall_resource_days"),
            supply_shortfall=data.get("supply_shortfall_resource_days"),
            logistics_cost=data.get("logistics_cost"),
            reserve_left=data.get("reserve_left"),
            today=int(data.get("today") or 0),
            executed_rows=int(data.get("executed_rows") or 0),
            explanation=data.get("explanation"),
            solver=None
            if not solver
            else SolverInfo(
                name=str(solver.get("name")),
                version=str(solver.get("version")),
                gap=solver.get("gap"),
                seconds=float(solver.get("seconds") or 0.0),
                solves=int(solver.get("solves") or 0),
            ),
            fingerprint=str(data.get("fingerprint") or ""),
            resource=str(data.get("resource") or "ventilator"),
            sizes=dict(data.get("model_size") or {}),
        )
    except InputError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(Problem(f"{where}: malformed plan result ({exc})")) from exc
    frame = charts.plan_frame(result) if len(result.daily) else None
    return PlanInput(result, frame, str(path), files)


def plan_fingerprint(instance: Instance, settings: Mapping[str, Any]) -> str | None:
    """The multi-period fingerprint of the instance's folder under a plan's settings (what
    `triage plan` records); None when the instance has no folder with a demand.csv."""
    from optimiser.multiperiod.instance import PlanSettings, is_multiperiod, load_multiperiod

    if instance.path is None or not is_multiperiod(instance.path):
        return None
    mp = load_multiperiod(instance.path)
    known = {f.name for f in dataclasses.fields(PlanSettings)}
    if set(settings) - known:
        return ""  # settings this engine does not know: cannot be the same plan
    return dataclasses.replace(mp, settings=PlanSettings(**settings)).fingerprint()


def check_plan_matches(plan: PlanInput, instance: Instance) -> None:
    """InputError unless the plan is for this instance: same regions and, for a plan result,
    the same multi-period data (fingerprint) when the instance folder has it, else the name."""
    where = f"--from-plan {plan.source}"
    ids = set(instance.region_ids)
    if plan.result is not None:
        theirs = {str(r) for r in plan.result.regions.index}
        if not theirs and plan.daily is not None:
            theirs = set(plan.daily["region"].astype(str))
        exact = True
    else:
        assert plan.daily is not None
        theirs = set(plan.daily["region"].astype(str))
        exact = False
    unknown = sorted(theirs - ids)
    missing = sorted(ids - theirs) if exact else []
    if unknown or missing:
        detail = "; ".join(
            part
            for part in (
                f"regions not in the instance: {_few(unknown)}" if unknown else "",
                f"instance regions not in the plan: {_few(missing)}" if missing else "",
            )
            if part
        )
        raise InputError(
            Problem(f"{where}: the plan is not for instance {instance.name} ({detail})")
        )
    if plan.result is None:
        return
    result = plan.result
    mine = plan_fingerprint(instance, result.settings)
    if mine is None:
        if instance.path is not None:
            raise InputError(
                Problem(
                    f"{where}: instance {instance.name} has no demand.csv: a plan belongs to a "
                    "multi-period instance folder"
                )
            )
        if result.instance != instance.name:
            raise InputError(
                Problem(f"{where}: the plan is for instance {result.instance}, not {instance.name}")
            )
        return
    if result.fingerprint and result.fingerprint != mine:
        raise InputError(
            Problem(
                f"{where}: the plan was made for other data (plan of {result.instance}, "
                f"fingerprint {result.fingerprint}; {instance.name} with the plan's settings: "
                f"{mine}); run `triage plan` on this instance again"
            )
        )


def _few(items: Sequence[str], most: int = 6) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


# ---------------------------------------------------------------------------------------------
# Building


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
                    f"{fingerprint}, "
                    f"this one is {instance.fingerprint()})"
                )
            )
    given = plan_input(plan, plan_source) if plan is not None else None
    if given is not None:
        check_plan_matches(given, instance)
    plan_mode = given is not None and given.is_plan
    base_instance = instance
    if supply is not None:
        instance = instance.with_supply(supply)
    active = active_constraints(instance, constraints, default_constraints)
    resource = instance.resource
    # A plan of a zero-supply instance: nothing on hand to allocate once, so no single-period
    # sections (each unit arrives through deliveries.csv)
    single = not plan_mode or instance.supply > 0
    result = None
    if single:
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
        "tornado_pct": tornado_pct if single else None,
        "frontiers": frontiers and single,
        "seed": seed,
    }
    if plan_mode:
        assert given is not None
        report = Report(title=_plan_title(given.result, base_instance))
        _plan_sections(report, given, base_instance, active)
    else:
        assert result is not None
        report = Report(title=f"Allocation of {instance.supply:,} {resource}s: {instance.name}")
        report.sections.append(("Decision", _decision_html(result, instance)))
        report.sections.append(("Instance", _instance_html(instance, active)))
    if single:
        assert result is not None
        prefix = "Single-period view: " if plan_mode else ""
        if plan_mode:
            report.sections.append(
                (
                    f"{prefix}allocating {instance.supply:,} {resource}s at once",
                    "<p class='note'>The sections below allocate the supply on hand "
                    f"(<b>{instance.supply:,}</b> {_e(resource)}s) once, at the peak, as "
                    "<code>triage solve</code> does: they ignore the plan's deliveries, lead "
                    "times and the timing of demand. The plan above is the decision over time."
                    "</p>" + _decision_html(result, instance),
                )
            )
        _single_period_sections(
            report, instance, active, result, prefix, tornado_pct, frontiers, seed
        )
    elif plan_mode:
        report.sections.append(
            (
                "Single-period analysis: not applicable",
                "<p class='note'>This instance has no supply on hand (<code>supply = 0</code> in "
                "instance.toml): every unit arrives through <code>deliveries.csv</code> over "
                "the horizon, so a one-shot allocation of the supply on hand, the policy "
                "comparison, the frontier and the tornado of a single period would all be about "
                "0 units and are left out. The plan above is the decision. Give "
                "<code>--supply N</code> to add a one-shot view of N units.</p>",
            )
        )

    # Sweep
    if sweep is not None:
        report.sections.append(("Sweep", _sweep_html(report, sweep, base_instance)))
        options["sweep"] = {
            "folder": None if sweep.out is None else str(sweep.out),
            "spec_hash": sweep.manifest.get("spec_hash"),
            "spec": sweep.manifest.get("spec"),
            "counts": sweep.manifest.get("counts"),
            "versions": sweep.manifest.get("versions"),
        }

    # A time series only (no plan result): its chart, labelled as such
    if given is not None and not given.is_plan:
        assert given.daily is not None
        report.tables["plan"] = given.daily
        names = _plan_charts(report, given.daily, resource, arrivals=None)
        report.sections.append(
            (
                "Plan over time (time series only)",
                "<p class='note'>Only a time series of units on hand and demand was given (no "
                "plan result): the plan's survivors, deliveries and shortfall are not known to "
                "this report. Give the <code>triage plan --out</code> folder for a plan report."
                "</p>" + "".join(_figure_ref(n) for n in names),
            )
        )
    if given is not None:
        options["plan"] = _plan_provenance(given)

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
        report.provenance["plan_result"] = _plan_summary(given.result)
    report.sections.append(("Provenance", _provenance_html(report.provenance)))
    report.html = render_html(report)
    return report


def _single_period_sections(
    report: Report,
    instance: Instance,
    active: Sequence[ConstraintSpec],
    result: AllocationResult,
    prefix: str,
    tornado_pct: float | None,
    frontiers: bool,
    seed: int,
) -> None:
    """Allocation, policies, price of fairness, frontiers and tornado of a one-shot solve."""
    resource = instance.resource
    # Allocation
    regions = result.regions.copy()
    report.tables["allocation"] = regions
    report.figures["allocation"] = charts.allocation_chart(regions, resource)
    report.captions["allocation"] = (
        f"Existing capacity (grey) plus the {resource}s sent (blue; hatched beyond the region's "
        "peak demand), "
        "against projected peak demand (black tick)."
    )
    report.figures["coverage"] = charts.coverage_chart(regions)
    report.captions["coverage"] = (
        "Share of peak demand covered by existing capacity (open) and after the allocation "
        "(filled)."
    )
    report.sections.append(
        (
            f"{prefix}Allocation",
            _figure_ref("allocation")
            + _figure_ref("coverage")
            + _allocation_table_html(regions, resource),
        )
    )

    # Policies
    policies = compare(instance, active, default_constraints=False, seed=seed)
    report.tables["policies"] = policies
    report.figures["policies"] = charts.policy_chart(policies)
    report.captions["policies"] = (
        "Expected extra survivors under each baseline rule and the optimum, scored by the same "
        "lives function."
    )
    report.sections.append(
        (f"{prefix}Policies compared", _figure_ref("policies") + _policy_table_html(policies))
    )

    # Price of fairness
    report.tables["price_of_fairness"] = result.price_of_fairness
    report.sections.append((f"{prefix}Price of fairness", _price_html(result)))

    # Frontiers
    if frontiers:
        body = ""
        targets = [
            (c.kind, numeric_params(c.kind)[0], float(c.options[numeric_params(c.kind)[0]]))
            for c in active
            if numeric_params(c.kind)
        ][:MAX_FRONTIERS]
        illustration = not targets
        if illustration:
            targets = [("per_capita_floor", "share", math.nan)]
        for kind, param, current in targets:
            table = frontier(instance, kind, param, constraints=active, default_constraints=False)
            name = f"frontier_{kind}"
            report.tables[name] = table
            report.figures[name] = charts.frontier_chart(
                table,
                "level",
                mark=None if math.isnan(current) else current,
                level_label=f"{kind}: {param}",
                title=f"Efficiency-fairness frontier: {kind} ({param})",
            )
            report.captions[name] = (
                f"Lives saved as the {param} of {kind} rises, the other active constraints held "
                "fixed; "
                "the shaded gap to L* (the optimum without any fairness constraint) is the price "
                "of fairness."
                + ("" if math.isnan(current) else f" Marked: the chosen level {current:g}.")
            )
            body += _figure_ref(name)
        if illustration:
            body = (
                "<p>No fairness constraint is active; the frontier of the per-capita floor (Table "
                "2's egalitarian share) is shown for illustration.</p>" + body
            )
        report.sections.append((f"{prefix}Efficiency-fairness frontier", body))

    # Tornado
    if tornado_pct:
        t = tornado(instance, pct=tornado_pct, constraints=active, default_constraints=False)
        report.tables["tornado"] = t.rows
        report.figures["tornado"] = charts.tornado_chart(t.rows, t.base, pct=t.pct)
        report.captions["tornado"] = (
            f"Each input moved {t.pct:g}% down and up alone (the allocation re-optimised each "
            "time); "
            "bars show the change in expected extra survivors."
        )
        report.sections.append(
            (
                f"{prefix}Sensitivity (tornado)",
                _figure_ref("tornado") + _tornado_table_html(t.rows),
            )
        )


# ---------------------------------------------------------------------------------------------
# Plan sections


def _movements(result: Any, kind: str) -> pd.DataFrame:
    m = result.manifest
    if not len(m) or "kind" not in m:
        return pd.DataFrame(columns=["kind", "day", "from", "to", "units", "arrives"])
    return m[m["kind"] == kind]


def _units(frame: pd.DataFrame) -> float:
    return float(pd.to_numeric(frame["units"], errors="coerce").sum()) if len(frame) else 0.0


def _plan_title(result: Any, instance: Instance) -> str:
    shipped = _units(_movements(result, "ship"))
    delivered = _delivered(instance)
    start = f" from {result.start_date}" if result.start_date else ""
    of = "" if delivered is None else f" of {delivered:,.0f}"
    return (
        f"Plan over {result.days} days{start} ({shipped:,.0f}{of} {result.resource}s shipped): "
        f"{instance.name}"
    )


def _plan_sections(
    report: Report, given: PlanInput, instance: Instance, active: Sequence[ConstraintSpec]
) -> None:
    """Decision, instance, charts over time, movements, per-region totals, price of fairness."""
    result = given.result
    assert result is not None
    resource = result.resource
    report.sections.append(("Decision (plan over the horizon)", _plan_decision_html(result)))
    report.sections.append(("Instance", _instance_html(instance, active, plan=result)))

    names: list[str] = []
    if given.daily is not None:
        report.tables["plan_daily"] = given.daily
        ships = _movements(result, "ship")
        arrivals = None
        if len(ships):
            arrivals = (
                ships.assign(units=pd.to_numeric(ships["units"], errors="coerce"))
                .groupby(pd.to_numeric(ships["arrives"], errors="coerce"))["units"]
                .sum()
            )
        names = _plan_charts(report, given.daily, resource, arrivals=arrivals)
        body = "".join(_figure_ref(n) for n in names)
    else:
        body = (
            "<p class='note'>No daily.csv beside the plan's result.json: no charts over time "
            "(give the whole <code>triage plan --out</code> folder).</p>"
        )
    report.sections.append(("Plan over time", body))

    report.tables["plan_manifest"] = result.manifest
    report.sections.append(("Deliveries and transfers", _manifest_html(result)))
    report.tables["plan_regions"] = result.regions
    report.sections.append(("Per-region totals", _plan_regions_html(result)))
    report.tables["plan_price_of_fairness"] = result.price_of_fairness
    report.sections.append(("Price of fairness over the horizon", _plan_price_html(result)))


def _plan_charts(
    report: Report, daily: pd.DataFrame, resource: str, *, arrivals: pd.Series | None
) -> list[str]:
    """The national chart and the per-region pages; returns the figure names."""
    report.figures["plan_national"] = charts.plan_totals_chart(daily, resource, arrivals=arrivals)
    report.captions["plan_national"] = (
        f"All regions together: {resource}s on hand in the regions (blue) and patients "
        "needing one (black); red: the shortage of each region (patients above its units on "
        "hand) summed, which national totals alone would hide"
        + ("; bars: units arriving from the depots that day." if arrivals is not None else ".")
    )
    names = ["plan_national"]
    pages = charts.plan_chart_pages(daily, resource)
    for k, fig in enumerate(pages, start=1):
        name = f"plan_regions_{k}"
        report.figures[name] = fig
        report.captions[name] = (
            "Units on hand (blue steps) against patients needing one (black), per region, most "
            "strained first; shortage shaded"
            + (f" (page {k} of {len(pages)})." if len(pages) > 1 else ".")
        )
        names.append(name)
    return names


def _plan_decision_html(result: Any) -> str:
    regions = result.regions
    ships, transfers = _movements(result, "ship"), _movements(result, "transfer")
    patients_moved = _movements(result, "patients")
    start = f" from {_e(result.start_date)}" if result.start_date else ""
    parts = [
        f"<p class='lead'>Over <b>{result.days}</b> days{start}, the plan is expected to save "
        f"<b>{_n(result.lives_saved)}</b> extra lives.</p>",
        "<table class='kv'>",
    ]
    gap = None if result.solver is None else result.solver.gap
    rows = [
        ("Status", _e(result.status) + ("" if gap is None else f" (gap {100 * gap:.4f}%)")),
        (
            "Shipments from depots",
            f"{len(ships):,} shipments, <b>{_units(ships):,.0f}</b> {_e(result.resource)}s",
        ),
        (
            "Transfers between regions",
            f"{len(transfers):,} transfers, <b>{_units(transfers):,.0f}</b> units",
        ),
    ]
    if len(patients_moved):
        rows.append(
            (
                "Patients moved",
                f"{len(patients_moved):,} transfers, {_units(patients_moved):,.1f} patients",
            )
        )
    rows.append(("Left in the depots at the end", _n(result.reserve_left, 0)))
    rows.append(
        (
            "Shortfall",
            f"<b>{_n(result.shortfall)}</b> {_e(result.resource)}-days of unmet need (patients "
            f"not in treatment); {_n(result.supply_shortfall)} {_e(result.resource)}-days of "
            "need above the units on hand",
        )
    )
    if "not_admitted" in regions and "patients" in regions:
        total = float(regions["patients"].sum())
        not_admitted = float(regions["not_admitted"].sum())
        share = f" ({100 * not_admitted / total:.1f}%)" if total > 0 else ""
        rows.append(
            (
                "Patients not admitted",
                f"<b>{not_admitted:,.1f}</b> of {total:,.1f} patients{share}",
            )
        )
    if result.constraints:
        rows.append(
            (
                "Fairness constraints",
                ", ".join(f"<code>{_e(c)}</code>" for c in result.constraints)
                + f"; without them the plan saves {_n(result.lives_optimal)}: together they "
                f"cost <b>{_n(result.lives_lost_total)}</b> lives",
            )
        )
    else:
        rows.append(("Fairness constraints", "none: the plan that saves the most lives"))
    if result.today:
        rows.append(
            (
                "Re-planned",
                f"from day {result.today} ({result.executed_rows} executed moves fixed)",
            )
        )
    parts += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows]
    parts.append("</table>")
    if result.explanation:
        parts.append(f"<p>{_e(result.explanation)}</p>")
    return "\n".join(parts)


def _manifest_html(result: Any) -> str:
    m = result.manifest
    if not len(m):
        return "<p>Nothing to ship or transfer.</p>"
    summary = []
    for kind, word in (
        ("ship", "shipments"),
        ("transfer", "transfers"),
        ("patients", "patient moves"),
    ):
        rows = _movements(result, kind)
        if len(rows):
            days = pd.to_numeric(rows["day"], errors="coerce")
            summary.append(
                f"<li>{len(rows):,} {word}, {_units(rows):,.0f} units, days "
                f"{int(days.min())}-{int(days.max())}</li>"
            )
    shown = m.drop(columns=[c for c in ("cohort_day",) if c in m])
    return (
        "<ul>"
        + "".join(summary)
        + "</ul><details><summary>Manifest (every movement; tables/plan_manifest.csv)</summary>"
        + _table(shown, {"units": ",.0f"}, index=False)
        + "</details>"
    )


PLAN_REGION_COLUMNS = {
    "name": "name",
    "patients": "patients",
    "admitted": "admitted",
    "not_admitted": "not admitted",
    "expected_survivors": "expected survivors",
    "units_shipped_in": "units shipped in",
    "transfers_in": "transfers in",
    "transfers_out": "transfers out",
    "peak_need": "peak need",
    "own_units_day0": "own units day 0",
    "shortfall": "shortfall (unit-days)",
}


def _plan_regions_html(result: Any) -> str:
    regions = result.regions
    if not len(regions):
        return "<p>No per-region totals in the plan.</p>"
    cols = [c for c in PLAN_REGION_COLUMNS if c in regions]
    keys = [c for c in ("not_admitted", "expected_survivors") if c in regions]
    frame = regions[cols]
    if keys:
        frame = frame.sort_values(keys, ascending=False, kind="stable")
    frame = frame.rename(columns=PLAN_REGION_COLUMNS)
    formats = {PLAN_REGION_COLUMNS[c]: ",.1f" for c in cols if c != "name"}
    return (
        "<details open><summary>Per-region totals over the horizon (every region, most patients "
        "not admitted first; tables/plan_regions.csv)</summary>"
        + _table(frame, formats)
        + "</details>"
    )


def _plan_price_html(result: Any) -> str:
    price = result.price_of_fairness
    if not result.constraints or price is None or not len(price):
        return "<p>No fairness constraint is active over the horizon: nothing is given up.</p>"
    tolerance = 1e-4 * abs(result.lives_optimal or 0.0)
    intro = (
        f"<p>L* over the horizon (no fairness constraint) = <b>{_n(result.lives_optimal)}</b>. "
        f"All active constraints together cost <b>{_n(result.lives_lost_total)}</b> lives. "
        "<i>Alone</i>: the constraint by itself; <i>marginal</i>: what dropping it from the "
        "full set would give back. Plans are solved to a relative optimality gap (by default "
        f"0.01%, about {tolerance:,.1f} lives here): differences smaller than that, negative ones "
        "included, are solver tolerance.</p>"
    )
    return intro + _table(
        price.set_index("constraint"),
        {"lives_saved_alone": ",.1f", "lives_lost_alone": ",.1f", "lives_lost_marginal": ",.1f"},
    )


def _plan_summary(result: Any) -> dict[str, Any]:
    return {
        "instance": result.instance,
        "status": str(result.status),
        "days": result.days,
        "start_date": result.start_date,
        "lives_saved": result.lives_saved,
        "lives_optimal": result.lives_optimal,
        "shortfall_resource_days": result.shortfall,
        "constraints": list(result.constraints),
        "settings": result.settings,
        "fingerprint": result.fingerprint,
    }


def _plan_provenance(given: PlanInput) -> dict[str, Any]:
    out: dict[str, Any] = {"source": given.source, "files_sha256": dict(given.files_sha256)}
    if given.result is not None:
        out["fingerprint"] = given.result.fingerprint
        if not given.files_sha256:  # a PlanResult from Python: hash its JSON contract
            text = json.dumps(given.result.to_dict(), sort_keys=True, default=str)
            out["result_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    else:
        out["kind"] = "time series (plan-chart contract)"
    return out


# ---------------------------------------------------------------------------------------------
# HTML pieces


def _e(value: Any) -> str:
    return html.escape(str(value))


def _n(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def _figure_ref(name: str) -> str:
    return f"<!--figure:{name}-->"


def _decision_html(result: AllocationResult, instance: Instance) -> str:
    lives = result.lives_saved
    star = result.lives_optimal
    lost = result.lives_lost_total
    parts = [
        f"<p class='lead'>Sending <b>{result.supply - (result.unallocated or 0):,}</b> of "
        f"{result.supply:,} "
        f"{_e(instance.resource)}s as below is expected to save <b>{_n(lives)}</b> extra lives.</p>"
    ]
    if result.constraints:
        parts.append(
            "<p>Active fairness constraints: "
            f"{', '.join('<code>' + _e(c) + '</code>' for c in result.constraints)}. "
            f"Without them the best allocation saves {_n(star)}: together they cost "
            f"<b>{_n(lost)}</b> lives ({_n(result.lives_lost_pct)}% of the optimum).</p>"
        )
    else:
        parts.append(
            "<p>No fairness constraint is active: this is the allocation that saves the most "
            "lives.</p>"
        )
    if result.unallocated:
        parts.append(
            f"<p>{result.unallocated:,} units stay in the national reserve (no region can use "
            "them).</p>"
        )
    if result.clipped_floors is not None and len(result.clipped_floors):
        parts.append(
            f"<p>{len(result.clipped_floors)} floor(s) were clipped at a region's staff cap (see "
            "tables/allocation.csv).</p>"
        )
    return "\n".join(parts)


def _instance_html(instance: Instance, active: Sequence[ConstraintSpec], plan: Any = None) -> str:
    r = instance.regions
    excess = instance.excess_demand
    rows = [
        ("Name", _e(instance.name)),
        ("Description", _e(instance.description)),
        ("Source", _e(instance.source)),  # whole: an auditor needs every reference
        ("Resource", _e(instance.resource)),
        (
            "Supply on hand" if plan is not None else "Supply to allocate",
            f"{instance.supply:,}",
        ),
        ("Regions", f"{len(r):,} ({int((excess > 0).sum())} with excess demand)"),
        ("Population", f"{r['population'].sum():,.0f}"),
        ("Existing capacity", f"{r['capacity'].sum():,.0f}"),
        ("Peak demand", f"{r['peak_demand'].sum():,.0f}"),
        ("Excess demand (sum of max(0, peak − capacity))", f"{excess.sum():,.0f}"),
        ("Horizon H", f"{instance.horizon:g} days"),
        ("Active constraints", ", ".join(f"<code>{_e(c.label)}</code>" for c in active) or "none"),
    ]
    if plan is not None:
        delivered = _delivered(instance)
        rows[5:5] = [
            (
                "Plan horizon",
                f"{plan.days} days" + (f" from {_e(plan.start_date)}" if plan.start_date else ""),
            ),
            (
                "Units delivered to the depots over the horizon (deliveries.csv)",
                "–" if delivered is None else f"{delivered:,.0f}",
            ),
            (
                "Plan constraints",
                ", ".join(f"<code>{_e(c)}</code>" for c in plan.constraints) or "none",
            ),
        ]
        rows = [row for row in rows if row[0] != "Active constraints"]
    return (
        "<table class='kv'>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _delivered(instance: Instance) -> float | None:
    """Units arriving at the depots over the horizon (deliveries.csv's quantities)."""
    if instance.path is None or not (Path(instance.path) / "deliveries.csv").is_file():
        return None
    try:
        frame = pd.read_csv(Path(instance.path) / "deliveries.csv")
        return float(pd.to_numeric(frame["quantity"], errors="coerce").sum())
    except (OSError, KeyError, ValueError, pd.errors.ParserError):
        return None


def _table(
    frame: pd.DataFrame, formats: Mapping[str, str] | None = None, index: bool = True
) -> str:
    formats = formats or {}
    head = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    out = [
        "<table class='data'><thead><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
    ]
    for idx, row in frame.iterrows():
        cells = [f"<td>{_e(idx)}</td>"] if index else []
        for col, value in row.items():
            fmt = formats.get(str(col))
            if value is None or (isinstance(value, float) and math.isnan(value)):
                text = "–"
            elif fmt and isinstance(value, int | float):
                text = format(value, fmt)
            else:
                text = str(value)
            cls = " class='num'" if isinstance(value, int | float) else ""
            cells.append(f"<td{cls}>{_e(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _allocation_table_html(regions: pd.DataFrame, resource: str) -> str:
    names = {
        "name": "name",
        "units": f"{resource}s sent",
        "capacity": "capacity",
        "peak_demand": "peak demand",
        "excess_demand": "excess demand",
        "coverage_before": "coverage before %",
        "coverage_after": "coverage after %",
        "lives": "extra survivors",
        "staff_cap": "staff cap",
        "change": "vs. no fairness constraint",
    }
    formats = {
        "units": ",.0f",
        "capacity": ",.0f",
        "peak_demand": ",.0f",
        "excess_demand": ",.0f",
        "coverage_before": ".1f",
        "coverage_after": ".1f",
        "lives": ",.1f",
        "staff_cap": ",.0f",
        "change": "+,.0f",
    }
    frame = regions[[c for c in names if c in regions]].copy()
    for c in ("coverage_before", "coverage_after"):
        if c in frame:
            frame[c] = 100 * frame[c]
    frame = frame.sort_values(["units", "excess_demand"], ascending=False, kind="stable").rename(
        columns=names
    )
    return (
        "<details open><summary>Allocation table (every region)</summary>"
        + _table(frame, {names[k]: v for k, v in formats.items()})
        + "</details>"
    )


def _policy_table_html(policies: pd.DataFrame) -> str:
    cols = [
        "status",
        "lives_saved",
        "lives_lost_vs_optimal",
        "pct_of_optimal",
        "unallocated",
        "violates",
        "description",
    ]
    frame = policies[[c for c in cols if c in policies]]
    return _table(
        frame,
        {
            "lives_saved": ",.1f",
            "lives_lost_vs_optimal": ",.1f",
            "pct_of_optimal": ".1f",
            "unallocated": ",.0f",
        },
    )


def _price_html(result: AllocationResult) -> str:
    price = result.price_of_fairness
    if price is None or price.empty:
        return "<p>No fairness constraint is active: nothing is given up.</p>"
    intro = (
        f"<p>L* (lives saved with no fairness constraint) = <b>{_n(result.lives_optimal)}</b>. "
        f"All active constraints together cost <b>{_n(result.lives_lost_total)}</b> lives "
        f"({_n(result.lives_lost_pct)}%). <i>Alone</i>: the constraint by itself; "
        "<i>marginal</i>: what dropping it "
        "from the full set would give back.</p>"
    )
    return intro + _table(
        price.set_index("constraint"),
        {"lives_saved_alone": ",.1f", "lives_lost_alone": ",.1f", "lives_lost_marginal": ",.1f"},
    )


def _tornado_table_html(rows: pd.DataFrame) -> str:
    frame = rows[
        ["input", "low_label", "lives_low", "high_label", "lives_high", "swing", "note"]
    ].set_index("input")
    return (
        "<details><summary>Tornado table</summary>"
        + _table(frame, {"lives_low": ",.1f", "lives_high": ",.1f", "swing": ",.1f"})
        + "</details>"
    )


def _sweep_html(report: Report, sweep: SweepResult, instance: Instance) -> str:
    """The sweep's summary and charts. A random sample: scatter plots with binned medians (the
    values never repeat, so a line through them or a filter on one value would mislead). A
    grid: the median and range over the other varied inputs; a varied constraint parameter
    gets a frontier, one line per value of the next input and every other input held at its
    base-case value (the instance's own value, factor 1) when on the grid, else its first:
    the caption says which."""
    manifest = sweep.manifest
    spec = manifest.get("spec", {})
    v = sweep.variants
    counts = manifest.get("counts") or (
        v["status"].value_counts().to_dict() if "status" in v else {}
    )
    varied = "<br>".join("<code>" + _e(t) + "</code>" for t in spec.get("vary", []))
    samples = spec.get("samples")
    sampled = samples is not None
    design = f"random sample of {samples}, seed {spec.get('seed')}" if sampled else "full grid"
    parts = [
        "<table class='kv'>",
        f"<tr><th>Folder</th><td>{_e(sweep.out)}</td></tr>",
        f"<tr><th>Varied</th><td>{varied}</td></tr>",
        f"<tr><th>Design</th><td>{design}</td></tr>",
        f"<tr><th>Variants</th><td>{len(v):,} "
        f"({', '.join(f'{k}: {n:,}' for k, n in counts.items())})</td></tr>",
        "<tr><th>Base "
        f"constraints</th><td>{_e(', '.join(spec.get('constraints', [])) or 'none')}</td></tr>",
        f"<tr><th>Spec hash</th><td><code>{_e(manifest.get('spec_hash'))}</code></td></tr>",
        "</table>",
    ]
    dims = [c for c in _dim_names(spec) if c in v.columns]
    report.tables["sweep_variants"] = v
    star = "lives_optimal" in v and bool(v["lives_optimal"].notna().any())
    for i, dim in enumerate(dims[:MAX_RESPONSE_CHARTS]):
        others = [d for d in dims if d != dim]
        if sampled:
            name = f"sweep_response_{i}"
            report.figures[name] = charts.response_chart(
                v,
                dim,
                xlabel=_dim_label(dim),
                sampled=True,
                title=f"Lives saved against {dim} ({len(v):,} sampled variants)",
            )
            report.captions[name] = (
                "Each point is one sampled variant"
                + (f"; {', '.join(others)} vary at random too" if others else "")
                + f". The line joins the median lives saved in each of {charts.RESPONSE_BINS} "
                f"equal-width bins of {dim} (bins with fewer than 3 variants left out)."
                + (" Triangles: L* of the same variant (no fairness constraint)." if star else "")
            )
        elif "." in dim and "*" not in dim and star:
            name = f"sweep_frontier_{i}"
            frame, group, fixed = _frontier_slice(v, dim, others, instance, spec)
            held = "; ".join(f"{o} = {value:g} ({why})" for o, (value, why) in fixed.items())
            report.figures[name] = charts.frontier_chart(
                frame,
                dim,
                group=group,
                level_label=dim,
                title=f"Efficiency-fairness frontier from the sweep: {dim}"
                + (
                    "\nheld fixed: " + ", ".join(f"{o} = {val:g}" for o, (val, _) in fixed.items())
                    if fixed
                    else ""
                ),
            )
            report.captions[name] = (
                "Lives saved and L* at each level of the varied constraint parameter (from the "
                "sweep)"
                + (f"; one line per value of {group}" if group else "")
                + (f". Held fixed: {held}." if held else ".")
            )
        else:
            name = f"sweep_response_{i}"
            report.figures[name] = charts.response_chart(v, dim, xlabel=_dim_label(dim))
            report.captions[name] = f"Lives saved at each grid value of {dim}" + (
                f": median and range over the other varied inputs ({', '.join(others)})."
                if others
                else "."
            )
        parts.append(_figure_ref(name))
    failed = v[v["status"].isin(["failed", "error"])] if "status" in v else v.iloc[0:0]
    if len(failed):
        reasons = failed["reason"].value_counts().head(5)
        parts.append(
            "<p>Failed variants (most common reasons):</p><ul>"
            + "".join(f"<li>{n:,} × {_e(reason)}</li>" for reason, n in reasons.items())
            + "</ul>"
        )
    return "\n".join(parts)


def _frontier_slice(
    v: pd.DataFrame,
    dim: str,
    others: Sequence[str],
    instance: Instance,
    spec: Mapping[str, Any],
) -> tuple[pd.DataFrame, str | None, dict[str, tuple[float, str]]]:
    """The variants of a grid frontier: one line per value (at most MAX_GROUP_LINES, the base
    case among them) of the first other input, the rest held fixed (value, why)."""
    if not others:
        return v, None, {}
    group = others[0]
    values = sorted(float(x) for x in v[group].unique())
    base, _ = _base_value(group, instance, spec)
    keep = _spread(values, MAX_GROUP_LINES, base)
    frame = v[np.isin(v[group].astype(float), keep)]
    fixed: dict[str, tuple[float, str]] = {}
    for other in others[1:]:
        value, why = _fixed_value(other, v[other], instance, spec)
        frame = frame[np.isclose(frame[other].astype(float), value)]
        fixed[other] = (value, why)
    return frame, group, fixed


def _spread(values: Sequence[float], most: int, base: float | None) -> list[float]:
    """At most `most` of the values, evenly spread, with the base case when it is one of them."""
    if len(values) <= most:
        return list(values)
    picked = [values[round(j * (len(values) - 1) / (most - 1))] for j in range(most)]
    if base is not None:
        on_grid = [x for x in values if math.isclose(x, base, rel_tol=1e-9, abs_tol=1e-12)]
        if on_grid and on_grid[0] not in picked:
            nearest = min(range(most), key=lambda j: abs(picked[j] - on_grid[0]))
            picked[nearest] = on_grid[0]
    return sorted(set(picked))


def _base_value(dim: str, instance: Instance, spec: Mapping[str, Any]) -> tuple[float | None, str]:
    """The base case of a varied input: (its value in the unchanged instance, why)."""
    if dim == "supply":
        return float(instance.supply), "the instance's supply"
    if dim == "horizon_days":
        return float(instance.horizon), "the instance's horizon"
    name, _, regions = dim.partition("@")
    if name.endswith("*"):
        return 1.0, "factor 1: the instance's own values"
    if "." in name:
        from optimiser.constraints import parse_constraint

        kind, param = name.split(".", 1)
        for label in spec.get("constraints", []):
            try:
                c = parse_constraint(str(label))
            except InputError:
                continue
            if c.kind == kind and param in c.options:
                return float(c.options[param]), f"the value of the base constraint {label}"
        return None, ""
    if name in instance.regions:
        rows = regions.split(",") if regions else list(instance.regions.index)
        column = instance.regions.loc[rows, name].to_numpy(dtype=float)
        if len(column) and np.allclose(column, column[0], equal_nan=False):
            return float(column[0]), "the instance's value"
    return None, ""


def _fixed_value(
    dim: str, column: pd.Series, instance: Instance, spec: Mapping[str, Any]
) -> tuple[float, str]:
    """Where a grid input not drawn is held: its base case when on the grid, else its first."""
    grid = sorted(float(x) for x in column.unique())
    base, why = _base_value(dim, instance, spec)
    if base is not None:
        for x in grid:
            if math.isclose(x, base, rel_tol=1e-9, abs_tol=1e-12):
                return x, why
    return grid[0], "the first grid value" + (
        ": the base case is not on the grid" if base is not None else ""
    )


def _dim_names(spec: Mapping[str, Any]) -> list[str]:
    names = []
    for text in spec.get("vary", []):
        name, _, rest = str(text).partition("=")
        _, at, regions = rest.partition("@")
        names.append(name.strip() + (f"@{regions}" if at else ""))
    return names


def _dim_label(dim: str) -> str:
    if dim == "supply":
        return "supply (units)"
    if dim == "horizon_days":
        return "horizon (days)"
    if "*" in dim:
        column, _, regions = dim.partition("@")
        return f"factor applied to {column.rstrip('*')}" + (
            f" in {regions}" if regions else " (all regions)"
        )
    return dim


def _provenance_html(prov: Mapping[str, Any]) -> str:
    inst = prov["instance"]
    versions = prov["versions"]
    rows = [
        ("Generated", _e(prov["generated_at"])),
        ("Command", f"<code>{_e(prov.get('command') or '(Python API)')}</code>"),
        ("Instance", f"{_e(inst['name'])} ({_e(inst.get('path') or 'in memory')})"),
        ("Instance fingerprint", f"<code>{_e(inst['fingerprint'])}</code>"),
        (
            "Instance files (SHA-256)",
            "<br>".join(f"{_e(k)}: <code>{_e(v)}</code>" for k, v in inst["files_sha256"].items())
            or "–",
        ),
        (
            "Engine",
            f"optimiser {_e(versions['engine'])}"
            + (
                f", commit <code>{_e(versions['engine_commit'])}</code>"
                if versions.get("engine_commit")
                else ""
            ),
        ),
        (
            "Solver",
            f"HiGHS {_e(versions['highs'])} (highspy {_e(versions['highspy'])}), Pyomo "
            f"{_e(versions['pyomo'])}",
        ),
        ("Python", f"{_e(versions['python'])} on {_e(versions['platform'])}"),
        ("Options", f"<code>{_e(json.dumps(prov['options'], default=str))}</code>"),
    ]
    plan = prov["options"].get("plan")
    if plan:
        hashes = plan.get("files_sha256") or (
            {"PlanResult JSON": plan["result_sha256"]} if plan.get("result_sha256") else {}
        )
        rows.insert(
            5,
            (
                "Plan input (SHA-256)",
                f"{_e(plan.get('source'))}<br>"
                + "<br>".join(f"{_e(k)}: <code>{_e(v)}</code>" for k, v in hashes.items()),
            ),
        )
    table = (
        "<table class='kv'>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        + "</table>"
    )
    return (
        table
        + "<details><summary>provenance.json</summary><pre>"
        + _e(json.dumps(prov, indent=2, default=str))
        + "</pre></details>"
    )


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
p.lead{font-size:1.15em}
code{background:#f4f4f4;padding:0 .25em;border-radius:3px}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top;overflow-wrap:anywhere}
table.kv th{text-align:left;background:#fafafa;width:16em}
table.data th{background:#f0f0f0;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#555}
pre{background:#f8f8f8;padding:.8em;overflow:auto;font-size:.8em}
.meta{color:#666;font-size:.9em}
p.note{background:#fff8e5;border-left:3px solid #e0b040;padding:.4em .7em}
"""


def _figure_html(report: Report, name: str) -> str:
    if name not in report.svgs:
        report.svgs[name] = charts.svg_text(report.figures[name])
    svg = report.svgs[name].encode()
    data = base64.b64encode(svg).decode("ascii")
    caption = report.captions.get(name, "")
    return (
        f"<figure id='fig-{_e(name)}'><img alt='{_e(caption or name)}' "
        f"src='data:image/svg+xml;base64,{data}'>"
        f"<figcaption>{_e(caption)} (charts/{_e(name)}.png, .svg)</figcaption></figure>"
    )


def render_html(report: Report) -> str:
    prov = report.provenance
    body = []
    for heading, content in report.sections:
        for name in report.figures:
            marker = _figure_ref(name)
            if marker in content:
                content = content.replace(marker, _figure_html(report, name))
        body.append(f"<section><h2>{_e(heading)}</h2>\n{content}\n</section>")
    meta = (
        f"Generated {_e(prov.get('generated_at', ''))} · instance fingerprint "
        f"<code>{_e(prov.get('instance', {}).get('fingerprint', ''))}</code> · optimiser "
        f"{_e(prov.get('versions', {}).get('engine', ''))}, HiGHS "
        f"{_e(prov.get('versions', {}).get('highs', ''))}"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_e(report.title)}</h1><p class='meta'>{meta}</p>\n"
        + "\n".join(body)
        + "</body></html>\n"
    )


# ---------------------------------------------------------------------------------------------
# Writing


def write_report(report: Report, out: str | Path) -> Path:
    """report.html, charts/NAME.png|svg, tables/NAME.csv, provenance.json, written through
    optimiser.cli.common.write_outputs: into a temporary folder moved into place (never half a
    report), and an existing `out` is replaced only if triage wrote it (a folder of other files,
    e.g. a sweep's, is refused: InputError, left untouched). Files follow the user's umask."""
    from optimiser.cli.common import write_outputs

    def write(folder: Path) -> None:
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
            json.dumps(report.provenance, indent=2, default=str), encoding="utf-8"
        )

    out = Path(out)
    write_outputs(out, write)
    return out / "report.html"


__all__ = [
    "PlanInput",
    "Report",
    "build_report",
    "check_plan_matches",
    "plan_input",
    "provenance",
    "read_plan_input",
    "render_html",
    "write_report",
]
