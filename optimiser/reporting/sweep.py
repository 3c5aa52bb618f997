"""The sweep section of a report: what was varied, and one chart per varied input (a random
sample: scatter with binned medians; a grid: median and range, or a frontier for a varied
constraint parameter with what is held fixed said)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from optimiser import charts
from optimiser.errors import InputError
from optimiser.instance import Instance
from optimiser.reporting import labels
from optimiser.reporting.model import Report, Section
from optimiser.sweeps.run import SweepResult

MAX_RESPONSE_CHARTS = 6
MAX_GROUP_LINES = 6


def sweep_section(report: Report, sweep: SweepResult, instance: Instance) -> Section:
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
    samples = spec.get("samples")
    sampled = samples is not None
    design = f"random sample of {samples}, seed {spec.get('seed')}" if sampled else "full grid"
    rows = [
        ("Folder", str(sweep.out)),
        ("Varied", [f"{labels.varied(d)} = {t.partition('=')[2]}"
                    for d, t in zip(_dim_names(spec), spec.get("vary", []), strict=False)]),
        ("Design", design),
        ("Variants", f"{len(v):,} (" + ", ".join(f"{k}: {n:,}" for k, n in counts.items())
         + ")"),
        ("Base constraints",
         ", ".join(labels.constraint(c) for c in spec.get("constraints", [])) or "none"),
        ("Spec hash", str(manifest.get("spec_hash"))),
    ]
    dims = [c for c in _dim_names(spec) if c in v.columns]
    report.tables["sweep_variants"] = v
    star = "lives_optimal" in v and bool(v["lives_optimal"].notna().any())
    names = []
    for i, dim in enumerate(dims[:MAX_RESPONSE_CHARTS]):
        others = [d for d in dims if d != dim]
        shown = [labels.varied(o) for o in others]
        if sampled:
            name = f"sweep_response_{i}"
            report.add_figure(name, charts.response_chart(
                v, dim, xlabel=_dim_label(dim), sampled=True,
                title=f"Lives saved against {labels.varied(dim)} ({len(v):,} sampled variants)",
            ), "Each point is one sampled variant"
                + (f"; {', '.join(shown)} vary at random too" if others else "")
                + f". The line joins the median lives saved in each of {charts.RESPONSE_BINS} "
                f"equal-width bins of {labels.varied(dim)} (bins with fewer than 3 variants "
                "left out)."
                + (" Triangles: L* of the same variant (no fairness constraint)." if star else ""))
        elif "." in dim and "*" not in dim and star:
            name = f"sweep_frontier_{i}"
            frame, group, fixed = _frontier_slice(v, dim, others, instance, spec)
            held = "; ".join(f"{labels.varied(o)} = {value:g} ({why})"
                             for o, (value, why) in fixed.items())
            report.add_figure(name, charts.frontier_chart(
                frame, dim, group=group, level_label=labels.varied(dim),
                title=f"Efficiency-fairness frontier from the sweep: {labels.varied(dim)}"
                + ("\nheld fixed: " + ", ".join(f"{labels.varied(o)} = {val:g}"
                                                for o, (val, _) in fixed.items())
                   if fixed else ""),
            ), "Lives saved and L* at each level of the varied constraint parameter (from the "
                "sweep)"
                + (f"; one line per value of {labels.varied(group)}" if group else "")
                + (f". Held fixed: {held}." if held else "."))
        else:
            name = f"sweep_response_{i}"
            report.add_figure(name, charts.response_chart(v, dim, xlabel=_dim_label(dim)),
                              f"Lives saved at each grid value of {labels.varied(dim)}" + (
                                  f": median and range over the other varied inputs "
                                  f"({', '.join(shown)})." if others else "."))
        names.append(name)
    failed = v[v["status"].isin(["failed", "error"])] if "status" in v else v.iloc[0:0]
    reasons = []
    if len(failed):
        reasons = [(int(n), str(r)) for r, n in failed["reason"].value_counts().head(5).items()]
    return Section("Sweep", "sweep", {"rows": rows, "figures": names, "failed": reasons})


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
        return f"factor applied to {labels.column(column.rstrip('*'))}" + (
            f" in {regions}" if regions else " (all regions)"
        )
    return labels.varied(dim)


