"""Rendering: a Report's sections through Jinja2 templates (templates/, package data) and one
stylesheet (report.css, inlined: the page stays a single self-contained file). Figures are
embedded as SVG; numbers are formatted here, from the raw values the data stage keeps."""

from __future__ import annotations

import base64
import json
import math
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from optimiser import charts
from optimiser.json_values import json_ready
from optimiser.reporting import labels
from optimiser.reporting.model import Report, is_number, missing

DASH = "–"


def number(value: Any, digits: int = 1) -> str:
    if missing(value) or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def cell(value: Any, fmt: str | None = None) -> str:
    """A table cell as text: '–' when missing, numbers by the column's format."""
    if missing(value):
        return DASH
    if fmt and is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            return DASH
        return format(value, fmt)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}" if fmt is None else format(value, fmt)
    return str(value)


@cache
def stylesheet() -> str:
    return (resources.files("optimiser.reporting") / "report.css").read_text(encoding="utf-8")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("optimiser.reporting", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = number
    env.filters["cell"] = cell
    env.filters["constraint"] = labels.constraint
    env.globals["is_number"] = is_number
    return env


def figure_source(report: Report, name: str) -> str:
    if name not in report.svgs:
        report.svgs[name] = charts.svg_text(report.figures[name])
    return "data:image/svg+xml;base64," + base64.b64encode(report.svgs[name].encode()).decode()


def render_html(report: Report) -> str:
    prov = report.provenance
    figures = {
        name: {"src": figure_source(report, name), "caption": report.captions.get(name, "")}
        for name in report.figures
    }
    return environment().get_template("report.html.j2").render(
        report=report,
        title=report.title,
        sections=report.sections,
        figures=figures,
        style=stylesheet(),
        generated=prov.get("generated_at", ""),
        fingerprint=prov.get("instance", {}).get("fingerprint", ""),
        engine=prov.get("versions", {}).get("engine", ""),
        highs=prov.get("versions", {}).get("highs", ""),
        options=labels.option_rows(prov.get("options", {})),
        provenance_json=json.dumps(json_ready(prov), indent=2, default=str, allow_nan=False),
    )
