"""One self-contained HTML decision report: instance summary, allocation, policies, price of
fairness, frontier, tornado, sweep and plan charts, and the provenance needed to audit it.

Pipeline: `build_report(...)` computes everything (a solve, optimiser.compare, sweeps for the
frontier and the tornado) and returns a Report (figures, tables, provenance, HTML);
`write_report(report, out)` writes report.html, charts/*.png|svg, tables/*.csv and
provenance.json into `out`, atomically (a temporary folder renamed into place).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from models.fairness import ConstraintSpec
from optimiser import charts
from optimiser.engine import active_constraints, compare, solve
from optimiser.errors import InfeasibleError, InputError, Problem
from optimiser.instance import Instance
from optimiser.results import AllocationResult
from optimiser.solver import SolveStatus, solver_versions
from optimiser.sweeps.analysis import frontier, numeric_params, tornado
from optimiser.sweeps.run import SweepResult

MAX_FRONTIERS = 3
MAX_RESPONSE_CHARTS = 6


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
    """What is needed to reproduce and audit a report."""
    import matplotlib
    import numpy

    import optimiser

    files = {}
    if instance.path is not None:
        for name in ("instance.toml", "regions.csv", "tiers.csv"):
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
    the active constraints admit no allocation."""
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
    base_instance = instance
    if supply is not None:
        instance = instance.with_supply(supply)
    active = active_constraints(instance, constraints, default_constraints)
    result = solve(instance, constraints=active, default_constraints=False, seed=seed)
    if result.status == SolveStatus.INFEASIBLE:
        raise InfeasibleError(result.explanation or "infeasible")
    resource = instance.resource
    report = Report(title=f"Allocation of {instance.supply:,} {resource}s: {instance.name}")
    options: dict[str, Any] = {
        "constraints": [c.label for c in active],
        "default_constraints": default_constraints,
        "supply": instance.supply,
        "supply_override": supply,
        "policy": "optimal",
        "tie_break": True,
        "tornado_pct": tornado_pct,
        "frontiers": frontiers,
        "seed": seed,
    }

    # Decision and instance summary
    report.sections.append(("Decision", _decision_html(result, instance)))
    report.sections.append(("Instance", _instance_html(instance, active)))

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
            "Allocation",
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
        ("Policies compared", _figure_ref("policies") + _policy_table_html(policies))
    )

    # Price of fairness
    price = result.price_of_fairness
    report.tables["price_of_fairness"] = price
    report.sections.append(("Price of fairness", _price_html(result)))

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
        report.sections.append(("Efficiency-fairness frontier", body))

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
            ("Sensitivity (tornado)", _figure_ref("tornado") + _tornado_table_html(t.rows))
        )

    # Sweep
    if sweep is not None:
        report.sections.append(("Sweep", _sweep_html(report, sweep)))
        options["sweep"] = {
            "folder": None if sweep.out is None else str(sweep.out),
            "spec_hash": sweep.manifest.get("spec_hash"),
            "spec": sweep.manifest.get("spec"),
            "counts": sweep.manifest.get("counts"),
            "versions": sweep.manifest.get("versions"),
        }

    # Plan
    if plan is not None:
        frame = charts.plan_frame(plan)
        report.tables["plan"] = frame
        report.figures["plan"] = charts.plan_chart(frame, resource)
        report.captions["plan"] = (
            "Units on hand (blue steps) against patients needing one (black), per region; "
            "shortage shaded."
        )
        report.sections.append(("Plan over time", _figure_ref("plan")))
        options["plan"] = plan_source

    report.provenance = provenance(base_instance, options, command=command)
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
    report.sections.append(("Provenance", _provenance_html(report.provenance)))
    report.html = render_html(report)
    return report


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


def _instance_html(instance: Instance, active: Sequence[ConstraintSpec]) -> str:
    r = instance.regions
    excess = instance.excess_demand
    rows = [
        ("Name", _e(instance.name)),
        ("Description", _e(instance.description)),
        ("Source", _e(instance.source[:600] + ("…" if len(instance.source) > 600 else ""))),
        ("Resource", _e(instance.resource)),
        ("Supply to allocate", f"{instance.supply:,}"),
        ("Regions", f"{len(r):,} ({int((excess > 0).sum())} with excess demand)"),
        ("Population", f"{r['population'].sum():,.0f}"),
        ("Existing capacity", f"{r['capacity'].sum():,.0f}"),
        ("Peak demand", f"{r['peak_demand'].sum():,.0f}"),
        ("Excess demand (sum of max(0, peak − capacity))", f"{excess.sum():,.0f}"),
        ("Horizon H", f"{instance.horizon:g} days"),
        ("Active constraints", ", ".join(f"<code>{_e(c.label)}</code>" for c in active) or "none"),
    ]
    return (
        "<table class='kv'>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        + "</table>"
    )


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


def _sweep_html(report: Report, sweep: SweepResult) -> str:
    manifest = sweep.manifest
    spec = manifest.get("spec", {})
    v = sweep.variants
    counts = manifest.get("counts") or (
        v["status"].value_counts().to_dict() if "status" in v else {}
    )
    varied = "<br>".join("<code>" + _e(t) + "</code>" for t in spec.get("vary", []))
    samples = spec.get("samples")
    design = f"random sample of {samples}, seed {spec.get('seed')}" if samples else "full grid"
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
    dims = [c for c in v.columns if c in _dim_names(spec)]
    report.tables["sweep_variants"] = v
    for i, dim in enumerate(dims[:MAX_RESPONSE_CHARTS]):
        if "." in dim and "*" not in dim and v["lives_optimal"].notna().any():
            others = [d for d in dims if d != dim]
            group = None
            frame = v
            if others:
                first = others[0]
                keep = sorted(v[first].unique())
                if len(keep) > 6:
                    keep = [keep[round(j * (len(keep) - 1) / 5)] for j in range(6)]
                frame = v[v[first].isin(keep)]
                if len(others) > 1:  # hold the remaining inputs at their first value
                    for other in others[1:]:
                        frame = frame[frame[other] == frame[other].iloc[0]]
                group = first
            name = f"sweep_frontier_{i}"
            report.figures[name] = charts.frontier_chart(
                frame,
                dim,
                group=group,
                level_label=dim,
                title=f"Efficiency-fairness frontier from the sweep: {dim}",
            )
            report.captions[name] = (
                "Lives saved and L* at each level of the varied constraint parameter (from the "
                "sweep)."
            )
            parts.append(_figure_ref(name))
        else:
            name = f"sweep_response_{i}"
            report.figures[name] = charts.response_chart(v, dim, xlabel=_dim_label(dim))
            report.captions[name] = (
                f"Lives saved as {dim} varies: median and range over the other varied inputs."
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
th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top}
table.kv th{text-align:left;background:#fafafa;width:16em}
table.data th{background:#f0f0f0;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#555}
pre{background:#f8f8f8;padding:.8em;overflow:auto;font-size:.8em}
.meta{color:#666;font-size:.9em}
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
    """report.html, charts/NAME.png|svg, tables/NAME.csv, provenance.json: written into a
    temporary folder next to `out`, then moved into place (never half a report; an existing
    `out` is replaced only once the new one is complete)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(Problem(f"--out {out}: exists and is not a folder"))
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise InputError(
            Problem(f"--out {out}: cannot write here ({exc.strerror or exc})")
        ) from exc
    try:
        (tmp / "report.html").write_text(report.html, encoding="utf-8")
        (tmp / "charts").mkdir()
        for name, fig in report.figures.items():
            fig.savefig(tmp / "charts" / f"{name}.png", dpi=charts.DPI)
            svg = report.svgs.get(name) or charts.svg_text(fig)
            (tmp / "charts" / f"{name}.svg").write_text(svg, encoding="utf-8")
        tables = tmp / "tables"
        tables.mkdir()
        for name, frame in report.tables.items():
            frame.to_csv(tables / f"{name}.csv", index=not isinstance(frame.index, pd.RangeIndex))
        (tmp / "provenance.json").write_text(
            json.dumps(report.provenance, indent=2, default=str), encoding="utf-8"
        )
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.replace(out, backup / "old")
            os.replace(tmp, out)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "report.html"


__all__ = ["Report", "build_report", "provenance", "render_html", "write_report"]
