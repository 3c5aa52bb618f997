"""Sweeps with a purpose: the efficiency-fairness frontier and the tornado (one input at a time).

Both are ordinary sweeps (run_sweep) with a chosen design, so they take the fast path and
everything a sweep guarantees (failed variants recorded with their reason, infeasible levels
explained).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from optimiser.engine import active_constraints, regional_data
from optimiser.errors import InputError, Problem, counted
from optimiser.instance import Instance
from optimiser.sweeps.run import run_sweep
from optimiser.sweeps.spec import Dimension, parse_vary

FRONTIER_POINTS = 21
# regions.csv columns the lives do not read, only some constraints (their kinds' `inputs`)
CONSTRAINT_COLUMNS = ("population", "pressure", "weight")


def numeric_params(kind: str) -> list[str]:
    out = []
    for p in REGISTRY[kind].params:
        numeric = p.type in (int, float) or (isinstance(p.type, tuple) and float in p.type)
        if numeric and p.choices is None:
            out.append(p.name)
    return out


def default_levels(
    instance: Instance,
    kind: str,
    param: str,
    current: float | None = None,
    points: int = FRONTIER_POINTS,
) -> list[float]:
    """Levels for a frontier: the parameter's range when bounded (shares, levels, gaps), else
    0 .. a natural top (2x the current value, the largest excess demand, the largest index)."""
    spec = REGISTRY[kind].param(param)
    if spec is None:
        raise InputError(Problem(f"{kind} has no parameter {param!r}"))
    low = float(spec.minimum or 0.0)
    if spec.maximum is not None:
        high = float(spec.maximum)
    elif current is not None and current > 0:
        high = 2.0 * float(current)
    elif spec.top is not None:  # the kind's natural top for this instance
        high = float(spec.top(regional_data(instance)))
    else:
        high = 1.0
    if not high > low:
        high = low + 1.0
    levels = np.linspace(low, high, points)
    if spec.whole:
        levels = np.unique(np.round(levels))
    return [round(float(v), 10) for v in levels]


def frontier(
    instance: Instance,
    kind: str,
    param: str | None = None,
    levels: Sequence[float] | None = None,
    *,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Lives saved (and L*, the price of fairness) at each level of one constraint parameter,
    the other active constraints held fixed. Columns: level, lives_saved, lives_optimal,
    price_of_fairness, price_of_fairness_pct, status, reason (and the sweep's others)."""
    if kind not in REGISTRY:
        raise InputError(Problem(f"unknown constraint kind {kind!r}"))
    names = numeric_params(kind)
    if not names:
        raise InputError(Problem(f"{kind} has no numeric parameter to vary"))
    param = param or names[0]
    base = active_constraints(instance, constraints, default_constraints)
    current = next(
        (float(c.options[param]) for c in base if c.kind == kind and param in c.options), None
    )
    values = list(levels) if levels is not None else default_levels(instance, kind, param, current)
    text = f"{kind}.{param}=" + ",".join(repr(float(v)) for v in values)
    result = run_sweep(
        instance,
        [text],
        constraints=base,
        default_constraints=False,
        price_of_fairness=True,
        **options,
    )
    table = result.variants.rename(columns={f"{kind}.{param}": "level"})
    table.attrs = {"kind": kind, "param": param, "current": current}
    return table


@dataclass(frozen=True)
class Tornado:
    """rows: input, low_label, high_label, lives_low, lives_high, swing, note; base: lives of the
    unchanged instance; variants: the sweep behind it."""

    rows: pd.DataFrame
    base: float
    pct: float
    variants: pd.DataFrame


def _scale_dims(instance: Instance, base: Sequence[ConstraintSpec]) -> list[str]:
    r = instance.regions
    declared: set[str] = set()  # what the active constraints' rows and weights depend on
    for c in base:
        declared |= REGISTRY[c.kind].inputs_of(c.options) or set()
    columns = ["peak_demand", "capacity", "survival_with", "survival_without"]
    if instance.horizon_days is not None:
        columns.append(
            "los_days"
        )  # without a fixed horizon, H is the mean los: scaling all is a no-op
    if np.isfinite(r["staff_cap"].to_numpy(dtype=float)).any():
        columns.append("staff_cap")
    # columns that matter only through a constraint: varied when one depends on them
    columns += [col for col in CONSTRAINT_COLUMNS if col in declared]
    out = []
    for col in columns:
        values = r[col].to_numpy(dtype=float)
        if np.isfinite(values).any() and np.nanmax(np.abs(values)) > 0:
            out.append(col)
    return out


def tornado(
    instance: Instance,
    *,
    pct: float = 20.0,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
    top_regions: int = 8,
    **options: Any,
) -> Tornado:
    """Vary each input by -pct% and +pct% alone (supply, the columns that matter, peak demand of
    the regions with the largest excess demand, each active constraint's parameters) and record
    how far lives saved moves. A variant made invalid (e.g. survival_with above 1) is kept as
    NaN with its reason in `note`."""
    if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 < pct < 100:
        raise InputError(Problem(f"tornado percentage must be in (0, 100), got {pct!r}"))
    base = active_constraints(instance, constraints, default_constraints)
    f_low, f_high = 1 - pct / 100, 1 + pct / 100
    specs: list[
        tuple[str, str, float, float, float, str, str]
    ] = []  # text name, dim name, low, neutral, high, labels
    supply = int(instance.supply)
    lo_s, hi_s = round(supply * f_low), round(supply * f_high)
    if hi_s > lo_s:
        specs.append(("supply", "supply", lo_s, supply, hi_s, f"{lo_s:,}", f"{hi_s:,}"))
    if instance.horizon_days is not None:
        h = float(instance.horizon_days)
        specs.append(
            (
                "horizon_days",
                "horizon_days",
                h * f_low,
                h,
                h * f_high,
                f"{h * f_low:g} d",
                f"{h * f_high:g} d",
            )
        )
    for col in _scale_dims(instance, base):
        specs.append((f"{col}*", f"{col}*", f_low, 1.0, f_high, f"×{f_low:g}", f"×{f_high:g}"))
    excess = instance.excess_demand
    top = [
        str(r)
        for r in excess[excess > 0].sort_values(ascending=False, kind="stable").index[:top_regions]
    ]
    for rid in top:
        specs.append(
            (
                f"peak_demand*@{rid}",
                f"peak_demand*@{rid}",
                f_low,
                1.0,
                f_high,
                f"×{f_low:g}",
                f"×{f_high:g}",
            )
        )
    for c in base:
        for name in numeric_params(c.kind):
            value = float(c.options[name])
            pspec = REGISTRY[c.kind].param(name)
            assert pspec is not None
            lo, hi = value * f_low, value * f_high
            if pspec.maximum is not None:
                hi = min(hi, float(pspec.maximum))
            if pspec.minimum is not None:
                lo = max(lo, float(pspec.minimum))
            if hi > lo:
                specs.append(
                    (f"{c.kind}.{name}", f"{c.kind}.{name}", lo, value, hi, f"{lo:g}", f"{hi:g}")
                )
    if not specs:
        raise InputError(Problem("nothing to vary for a tornado chart"))
    texts: list[Dimension] = []
    design_rows = []
    neutral = {name: mid for _, name, _, mid, _, _, _ in specs}
    for text, _name, lo, mid, hi, _, _ in specs:
        values = ",".join(repr(float(v)) for v in sorted({lo, mid, hi}))
        column, at, rid = text.partition("@")
        if not at:
            texts.append(parse_vary(f"{column}={values}", instance, base))
            continue
        # A region's id may hold a comma (quoted in regions.csv), which --vary's '@A,B' cannot
        # spell: the dimension is parsed without the region and the region set on it.
        dim = parse_vary(f"{column}={values}", instance, base)
        texts.append(replace(dim, text=f"{column}={values}@{rid}", name=text, regions=(rid,)))
    design_rows.append(dict(neutral))
    for _, name, lo, _mid, hi, _, _ in specs:
        design_rows.append({**neutral, name: lo})
        design_rows.append({**neutral, name: hi})
    design = pd.DataFrame(design_rows)
    result = run_sweep(
        instance, texts, design=design, constraints=base, default_constraints=False, **options
    )
    records: list[dict[str, Any]] = result.variants.to_dict("records")  # type: ignore[assignment]
    base_lives = float(records[0]["lives_saved"])
    if not math.isfinite(base_lives):
        raise InputError(
            Problem(
                f"the base case has no allocation: {records[0]['reason'] or records[0]['status']}"
            )
        )
    rows = []
    for i, (_, name, _lo, mid, _hi, low_label, high_label) in enumerate(specs):
        low, high = records[1 + 2 * i], records[2 + 2 * i]
        notes = [
            f"{side}: {row['reason'] or row['status']}"
            for side, row in (("low", low), ("high", high))
            if not math.isfinite(row["lives_saved"])
        ]
        rows.append(
            {
                "input": _display(name, mid),
                "dimension": name,
                "low_label": low_label,
                "high_label": high_label,
                "lives_low": float(low["lives_saved"]),
                "lives_high": float(high["lives_saved"]),
                "note": "; ".join(notes),
            }
        )
    table = pd.DataFrame(rows)
    table["swing"] = table[["lives_low", "lives_high"]].max(axis=1) - table[
        ["lives_low", "lives_high"]
    ].min(axis=1)
    table = table.sort_values(
        "swing", ascending=False, kind="stable", na_position="last"
    ).reset_index(drop=True)
    return Tornado(table, base_lives, float(pct), result.variants)


def _display(name: str, neutral: float) -> str:
    if name == "supply":
        return f"supply ({counted(round(neutral), 'unit')})"
    if name == "horizon_days":
        return f"horizon ({neutral:g} days)"
    if "." in name:
        kind, param = name.split(".", 1)
        return f"{kind} {param} ({neutral:g})"
    column, _, region = name.partition("@")
    column = column.rstrip("*")
    return f"{column}, {region}" if region else f"{column} (all regions)"
