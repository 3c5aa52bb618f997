"""Helpers for the multi-period tests: hand-made instance folders (no tests here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

LIVES_TOL = 1e-6  # lives compared across paths (engine, Pyomo, simulation): far below one life


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def write_instance(
    folder: Path,
    regions: Sequence[Mapping[str, Any]],
    demand: Mapping[str, Sequence[float]],
    *,
    kind: str = "new_patients",
    deliveries: Sequence[tuple[int, int, str]] = (),
    leads: Sequence[tuple[str, str, int]] = (),
    capacity: Sequence[tuple[str, int, Any, Any]] = (),
    multiperiod: Mapping[str, Any] | None = None,
    supply: int = 0,
    constraints: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write an instance folder. `demand` maps region -> one value per day."""
    folder.mkdir(parents=True, exist_ok=True)
    cols = [
        "region",
        "population",
        "capacity",
        "peak_demand",
        "survival_with",
        "survival_without",
        "los_days",
    ]
    extra = sorted({k for r in regions for k in r} - set(cols))
    cols += extra
    defaults = {
        "population": 100000,
        "peak_demand": 1,
        "survival_with": 1.0,
        "survival_without": 0.0,
    }
    lines = [",".join(cols)]
    for r in regions:
        row = {**defaults, **r}
        lines.append(",".join("" if row.get(c) is None else str(row.get(c)) for c in cols))
    (folder / "regions.csv").write_text("\n".join(lines) + "\n")
    days = len(next(iter(demand.values())))
    rows = [f"region,day,{kind}"]
    for rid, values in demand.items():
        rows += [f"{rid},{d},{v}" for d, v in enumerate(values)]
    (folder / "demand.csv").write_text("\n".join(rows) + "\n")
    if deliveries:
        text = ["day,quantity,depot"] + [f"{d},{q},{k}" for d, q, k in deliveries]
        (folder / "deliveries.csv").write_text("\n".join(text) + "\n")
    if leads:
        text = ["from,to,days"] + [f"{a},{b},{d}" for a, b, d in leads]
        (folder / "lead_times.csv").write_text("\n".join(text) + "\n")
    if capacity:
        text = ["region,day,capacity,staff_cap"] + [
            f"{r},{d},{'' if c is None else c},{'' if s is None else s}" for r, d, c, s in capacity
        ]
        (folder / "capacity.csv").write_text("\n".join(text) + "\n")
    table = {"days": days, "default_lead_time_days": 1, **(multiperiod or {})}
    toml = [f'name = "{folder.name}"', f"supply = {supply}", "", "[multiperiod]"]
    toml += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    for c in constraints:
        toml += ["", "[[constraints]]"] + [f"{k} = {toml_value(v)}" for k, v in c.items()]
    (folder / "instance.toml").write_text("\n".join(toml) + "\n")
    return folder


def close(a: float | None, b: float | None, tol: float = LIVES_TOL) -> bool:
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def region_series(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=float)
