"""The decision report's former home: every name now lives in optimiser.reporting (data
gathered apart from rendering, Jinja2 templates and a stylesheet). Kept so that existing
imports (`from optimiser.html_report import build_report`) go on working."""

from optimiser.reporting import (
    INSTANCE_FILES,
    PlanInput,
    Report,
    build_report,
    check_plan_matches,
    plan_input,
    provenance,
    read_plan_input,
    render_html,
    write_report,
)

__all__ = [
    "INSTANCE_FILES",
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
