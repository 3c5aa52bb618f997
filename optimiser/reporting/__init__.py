"""The HTML decision report: its data gathered apart from its rendering.

- build (build_report, write_report): the pipeline; single, plan_sections, sweep: the data of
  each part of the page, as Sections of plain values and labelled tables (model);
- plans (read_plan_input, check_plan_matches): plans as inputs; provenance: hashes and
  versions; labels: human names for the engine's identifiers;
- render: Jinja2 templates (templates/, package data) and report.css turn a Report into one
  self-contained page.
"""

from optimiser.reporting.build import build_report, load_coordinates, write_report
from optimiser.reporting.model import Column, Report, Section, TableView, table_view
from optimiser.reporting.plans import (
    PlanInput,
    check_plan_matches,
    plan_input,
    read_plan_input,
)
from optimiser.reporting.provenance import INSTANCE_FILES, provenance
from optimiser.reporting.render import render_html

__all__ = [
    "INSTANCE_FILES",
    "Column",
    "PlanInput",
    "Report",
    "Section",
    "TableView",
    "build_report",
    "check_plan_matches",
    "load_coordinates",
    "plan_input",
    "provenance",
    "read_plan_input",
    "render_html",
    "table_view",
    "write_report",
]
