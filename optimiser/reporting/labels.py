"""Human labels for the engine's identifiers (columns, constraint parameters, varied inputs,
report options), so a report says "length of stay (days)", not `los_days`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

COLUMNS = {
    "region": "region",
    "name": "name",
    "population": "population",
    "capacity": "existing capacity",
    "peak_demand": "peak demand",
    "excess_demand": "excess demand",
    "survival_with": "survival with the resource",
    "survival_without": "survival without it",
    "los_days": "length of stay (days)",
    "staff_cap": "staff cap",
    "pressure": "pressure",
    "weight": "weight",
    "supply": "supply",
    "horizon_days": "horizon (days)",
    "units": "units sent",
    "useful_units": "useful units",
    "lives": "extra survivors",
    "lives_saved": "lives saved",
    "lives_optimal": "L* (no fairness constraint)",
    "coverage_before": "coverage before",
    "coverage_after": "coverage after",
}
KINDS = {
    "per_capita_floor": "per-capita floor",
    "excess_per_capita_floor": "excess-per-capita floor",
    "coverage_floor": "coverage floor",
    "capacity_per_capita_floor": "capacity-per-capita floor",
    "max_coverage_gap": "largest coverage gap",
    "min_units": "minimum units",
    "threshold": "threshold rule",
    "prioritarian": "prioritarian weights",
}
PARAMS = {"share": "share", "level": "level", "gap": "gap", "units": "units", "tau": "tau",
          "index": "index", "power": "power"}
POLICIES = {
    "optimal": "optimum (most lives)",
    "per_capita": "per capita",
    "excess": "in proportion to excess demand",
    "excess_per_capita": "excess demand per capita",
    "rai": "Regional Allocation Index",
    "lottery": "lottery",
}
OPTIONS = {
    "constraints": "Fairness constraints",
    "default_constraints": "Constraints of instance.toml used",
    "supply": "Supply allocated",
    "supply_override": "Supply given on the command line",
    "policy": "Policy",
    "tie_break": "Tie-break rule",
    "tornado_pct": "Tornado: each input moved by ± (%)",
    "frontiers": "Frontier charts",
    "seed": "Lottery seed",
    "sweep": "Sweep",
    "plan": "Plan",
}


def column(name: str) -> str:
    return COLUMNS.get(name, name.replace("_", " "))


def kind(name: str) -> str:
    return KINDS.get(name, name.replace("_", " "))


def constraint(label: str) -> str:
    """'per_capita_floor(share=0.3)' -> 'per-capita floor (share 0.3)'."""
    match = re.fullmatch(r"(\w+)\((.*)\)", label.strip())
    if not match:
        return kind(label)
    params = ", ".join(
        f"{PARAMS.get(k.strip(), k.strip())} {v.strip()}"
        for k, _, v in (p.partition("=") for p in match.group(2).split(",") if p)
    )
    return f"{kind(match.group(1))} ({params})" if params else kind(match.group(1))


def policy(name: str) -> str:
    """'optimal+per_capita_floor(share=0.3)' -> 'optimum with per-capita floor (share 0.3)'."""
    base, plus, rest = name.partition("+")
    if plus and base == "optimal":
        return "optimum with " + ", ".join(constraint(c) for c in _split_labels(rest))
    return POLICIES.get(name, name.replace("_", " "))


def _split_labels(text: str) -> list[str]:
    out, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch in "+," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    return [c for c in [*out, current] if c]


def input_name(text: str) -> str:
    """A tornado input, 'los_days (all regions)' / 'peak_demand, NY' -> its column's label."""
    match = re.match(r"([a-z_]+)(.*)", text)
    if not match:
        return text
    name, rest = match.group(1), match.group(2)
    if name in KINDS:  # 'per_capita_floor share (0.3)'
        return kind(name) + rest
    return column(name) + rest if name in COLUMNS else text


def varied(dim: str) -> str:
    """A varied input of a sweep: 'peak_demand*@NY,NJ' -> 'peak demand (factor) in NY, NJ'."""
    name, _, regions = dim.partition("@")
    where = f" in {', '.join(regions.split(','))}" if regions else ""
    if name.endswith("*"):
        return f"{column(name[:-1])} (factor){where}"
    if "." in name:
        k, p = name.split(".", 1)
        return f"{kind(k)}: {PARAMS.get(p, p)}"
    return column(name) + where


def option_rows(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The report's options as (label, readable value) rows, not raw JSON."""
    rows = []
    for key, value in options.items():
        if value is None or key in ("sweep", "plan"):
            continue
        if key == "constraints":
            text = ", ".join(constraint(c) for c in value) or "none"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, int | float) and not isinstance(value, bool):
            text = f"{value:,}" if isinstance(value, int) else f"{value:g}"
        else:
            text = str(value)
        rows.append((OPTIONS.get(key, key.replace("_", " ")), text))
    return rows
