"""Bedside reports: readable text for the CLI, and the compare report as one self-contained
HTML page rendered from a Jinja2 template (templates/compare.html.j2) with inline SVG charts
(matplotlib, through optimiser.charts' helpers): every protocol with and without reserves,
with 95% intervals, and outcomes by reporting group. Data gathering (`compare_page`) is apart
from rendering (`render_compare`)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimiser.charts import DPI, CountFormatter, svg_text
from optimiser.errors import counted

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from optimiser.bedside.compare import CompareResult
    from optimiser.bedside.results import BedsideResult

WITH, WITHOUT = "#1f6fb4", "#9e9e9e"
LABELS = {"fcfs": "first come, first served", "lottery": "lottery",
          "ny2015_tiers": "NY 2015 tiers", "pittsburgh_points": "Pittsburgh points",
          "rapr": "RAPR", "max_life_years": "max life-years", "offline_optimum": "offline optimum"}


def _n(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def allocation_text(result: BedsideResult) -> str:
    """The officer's view of an allocation: who, why, what it achieves, what else would."""
    p = result.policy
    s = result.summary
    lines = [
        f"Policy {p['name']!r} ({p['priority']}, method {p['method']}, objective "
        f"{result.objective}), approved by {p['approved_by']} on {p['approval_date']}",
        f"{result.mode}: {counted(s['candidates'], 'candidate')} of "
        f"{counted(s['patients'], 'patient')}; "
        f"{s['treated']} receive a unit; expected survivors {_n(s['expected_survivors'])} "
        f"(+{_n(s['lives_gained'])} against no unit)"
        + (f", life-years gained {_n(s.get('life_years_gained'), 1)}"
           if s.get("life_years_gained") is not None else ""),
        "ADVISORY: a recommendation for the triage officer, who decides.",
    ]
    h = result.horizon
    if result.mode == "horizon":
        lines.append(f"Online (day by day) {_n(h['online'])}; offline optimum with hindsight "
                     f"{_n(h['offline_optimum'])} ({h['offline_proof']}); gap {_n(h['gap'])}")
    certified = sum(1 for c in result.certificates if not c["violations"])
    lines.append(f"Decisions certified: {certified} of {len(result.certificates)}")
    for cert in result.certificates:
        for violation in cert["violations"]:
            lines.append(f"  {cert['site']} day {cert['day']}: {violation}")
    lines.append("")
    table = result.patients
    shown = table[table["candidate"]] if result.mode == "snapshot" else table[
        table["final"] == "unit"]
    title = "Decisions" if result.mode == "snapshot" else "Patients receiving a unit"
    lines.append(f"{title}:")
    cols = ["site", "day", "benefit", "batch_rank", "decision", "category", "override"]
    if result.mode == "snapshot":
        shown = shown.sort_values(["site", "batch_rank"], kind="stable")
    view = shown[cols].head(40).copy()
    view["benefit"] = view["benefit"].map(lambda v: f"{v:.3f}")
    lines.append(view.to_string() if len(view) else "  none")
    if len(shown) > 40:
        lines.append(f"... {len(shown) - 40} more (decisions.csv or --json)")
    not_candidates = table[~table["candidate"]]
    if len(not_candidates):
        lines.append(f"Not candidates: {len(not_candidates)} (" + "; ".join(
            f"{pid}: {r}" for pid, r in not_candidates["reason"].head(5).items()) + ")")
    if not result.protocols.empty:
        lines += ["", "Protocols scored by the same objective:"]
        view = result.protocols[["protocol", "reserves", "objective_value", "treated"]].copy()
        lines.append(view.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    if not result.price_of_fairness.empty:
        lines += ["", "Price of fairness (objective lost; negative: the component gains):"]
        lines.append(result.price_of_fairness.to_string(index=False,
                                                        float_format=lambda v: f"{v:,.3f}"))
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def compare_text(result: CompareResult) -> str:
    spec = result.spec
    lines = [f"{spec['replications']} replications of a {spec['stream']} stream (seed "
             f"{spec['seed']}), policy {result.policy['name']!r}; mean [95% interval]",
             ""]
    rows = []
    for (protocol, reserves), group in result.summary.groupby(["protocol", "reserves"],
                                                             sort=False):
        cells = {"protocol": LABELS.get(str(protocol), str(protocol)),
                 "reserves": "with" if reserves else "without"}
        for metric in ("lives_gained", "lives_below_offline", "life_years_gained", "treated"):
            row = group[group["metric"] == metric]
            cells[metric] = _cell(row, 1)
        rows.append(cells)
    lines.append(pd.DataFrame(rows).to_string(index=False))
    if result.summary["ci_low"].isna().any():
        lines.append(f"[-]: no interval from {spec['replications']} replication "
                     "(a 95% interval needs 2 or more)")
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# HTML


PROTOCOL_COLOURS = {"fcfs": "#8c564b", "lottery": "#7f7f7f", "ny2015_tiers": "#9467bd",
                    "pittsburgh_points": "#ff7f0e", "rapr": "#1f77b4", "max_life_years": "#2ca02c",
                    "offline_optimum": "#111111"}


def _interval_chart(summary: pd.DataFrame, metric: str, xlabel: str, title: str) -> Figure:
    """Mean and 95% interval of `metric` per protocol, with and without reserves (points and
    intervals, so that the axis can zoom on the differences without misleading bars)."""
    from matplotlib.figure import Figure

    rows = summary[summary["metric"] == metric]
    protocols = list(dict.fromkeys(rows["protocol"]))
    fig = Figure(figsize=(8.5, max(2.8, 0.5 * len(protocols) + 1.4)), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(protocols))
    for offset, reserves, colour, marker in ((-0.12, False, WITHOUT, "o"),
                                             (0.12, True, WITH, "s")):
        part = rows[rows["reserves"] == reserves].set_index("protocol").reindex(protocols)
        if part["mean"].isna().all():
            continue
        mean = part["mean"].to_numpy(dtype=float)
        err = np.nan_to_num(np.vstack([mean - part["ci_low"].to_numpy(dtype=float),
                                       part["ci_high"].to_numpy(dtype=float) - mean]))
        ax.errorbar(mean, y + offset, xerr=err, fmt=marker, color=colour, capsize=3,
                    markersize=5, label="with reserves" if reserves else "without reserves")
    ax.set_yticks(y, [LABELS.get(p, p) for p in protocols], fontsize=9)
    ax.set_ylim(len(protocols) - 0.5, -0.5)
    ax.xaxis.set_major_formatter(CountFormatter())
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title, fontsize=11)
    return fig


def _group_chart(groups: pd.DataFrame, group: str, reserves: bool) -> Figure:
    """Per value of a reporting group: survival, and share of units minus share of patients
    (percentage points), one marker per protocol with its 95% interval."""
    from matplotlib.figure import Figure

    rows = groups[(groups["group"] == group) & (groups["reserves"] == reserves)]
    protocols = list(dict.fromkeys(rows["protocol"]))
    values = sorted(set(rows["value"]), key=_natural)
    fig = Figure(figsize=(10.0, max(3.0, 0.42 * len(values) * max(1, len(protocols)) / 3 + 1.8)),
                 dpi=DPI, layout="constrained")
    panels = fig.subplots(1, 2, sharey=True)
    step = 0.8 / max(len(protocols), 1)
    for ax, metric, label in ((panels[0], "survival", "expected survival (%)"),
                              (panels[1], "units_minus_patients",
                               "share of units minus share of patients (points)")):
        for k, protocol in enumerate(protocols):
            part = rows[(rows["protocol"] == protocol) & (rows["metric"] == metric)]
            part = part.set_index("value").reindex(values)
            mean = 100 * part["mean"].to_numpy(dtype=float)
            err = 100 * np.nan_to_num(np.vstack([part["mean"] - part["ci_low"],
                                                 part["ci_high"] - part["mean"]]).astype(float))
            y = np.arange(len(values)) - 0.4 + (k + 0.5) * step
            ax.errorbar(mean, y, xerr=err, fmt="o", markersize=3.5, capsize=2, linewidth=1,
                        color=PROTOCOL_COLOURS.get(protocol, "C0"),
                        label=LABELS.get(protocol, protocol))
        if metric == "units_minus_patients":
            ax.axvline(0, color="#444444", linewidth=0.8)
        ax.set_xlabel(label, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.set_major_formatter(CountFormatter())
    panels[0].set_yticks(np.arange(len(values)), values, fontsize=9)
    panels[0].set_ylim(len(values) - 0.5, -0.5)
    panels[0].set_ylabel(group)
    panels[1].legend(fontsize=7, loc="best")
    fig.suptitle(f"Outcomes by {group} ({'with' if reserves else 'without'} reserves; "
                 "mean and 95% interval)", fontsize=11)
    return fig


def _natural(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _cell(row: pd.DataFrame, digits: int, pct: bool = False) -> str:
    if row.empty:
        return "-"
    scale = 100.0 if pct else 1.0
    m, lo, hi = (float(row[c].iloc[0]) * scale for c in ("mean", "ci_low", "ci_high"))
    unit = "%" if pct else ""
    if np.isnan(lo) or np.isnan(hi):  # one replication: no interval
        return f"{m:,.{digits}f}{unit} [-]"
    return f"{m:,.{digits}f}{unit} [{lo:,.{digits}f}, {hi:,.{digits}f}]"


def compare_page(result: CompareResult) -> dict[str, Any]:
    """Everything the compare template shows (tables, charts as SVG, provenance)."""
    summary, groups = result.summary, result.groups
    rows = []
    for (protocol, reserves), part in summary.groupby(["protocol", "reserves"], sort=False):
        rows.append({"protocol": LABELS.get(str(protocol), str(protocol)),
                     "reserves": "with" if reserves else "without",
                     **{m: _cell(part[part["metric"] == m], 1 if m != "treated" else 0)
                        for m in ("lives_gained", "lives_below_offline", "expected_survivors",
                                  "life_years_gained", "treated", "idle_unit_days")}})
    charts = [
        svg_text(_interval_chart(summary, "lives_gained", "expected survivors gained (lives)",
                                 "Lives gained by protocol (mean, 95% interval)")),
        svg_text(_interval_chart(summary, "lives_below_offline",
                                 "lives below the offline optimum on the same stream",
                                 "Lives each protocol loses against hindsight (paired, 95% "
                                 "interval)")),
        svg_text(_interval_chart(summary, "life_years_gained", "life-years gained",
                                 "Life-years gained by protocol (mean, 95% interval)")),
    ]
    sections = []
    for group in dict.fromkeys(groups["group"]) if not groups.empty else []:
        table = []
        part = groups[groups["group"] == group]
        for (protocol, reserves, value), cell in part.groupby(["protocol", "reserves", "value"],
                                                              sort=False):
            table.append({"protocol": LABELS.get(protocol, protocol),
                          "reserves": "with" if reserves else "without", "value": value,
                          "survival": _cell(cell[cell["metric"] == "survival"], 1, True),
                          "units": _cell(cell[cell["metric"] == "share_of_units"], 1, True),
                          "patients": _cell(cell[cell["metric"] == "share_of_patients"], 1,
                                            True)})
        figures = [svg_text(_group_chart(groups, group, r))
                   for r in sorted(set(part["reserves"]))]
        sections.append({"group": group, "rows": table, "charts": figures})
    return {
        "title": f"Bedside protocols compared: {result.policy['name']}",
        "policy": result.policy,
        "spec": result.spec,
        "inputs": result.inputs,
        "rows": rows,
        "charts": charts,
        "sections": sections,
        "notes": list(result.notes),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(result.timings.get("total", 0.0), 1),
    }


def render_compare(page: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("optimiser.bedside", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["safe_svg"] = lambda svg: svg  # our own matplotlib output
    return env.get_template("compare.html.j2").render(**page)


def write_compare(result: CompareResult, folder: Path) -> None:
    """summary.csv, groups.csv, replications.csv, result.json and report.html."""
    import json

    result.summary.to_csv(folder / "summary.csv", index=False, lineterminator="\n")
    result.groups.to_csv(folder / "groups.csv", index=False, lineterminator="\n")
    result.replications.to_csv(folder / "replications.csv", index=False, lineterminator="\n")
    (folder / "result.json").write_text(json.dumps(result.to_dict(), indent=2,
                                                   allow_nan=False, default=str))
    (folder / "report.html").write_text(render_compare(compare_page(result)))
