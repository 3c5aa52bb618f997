"""What a sweep varies: `--vary` specifications, the variants they produce, and how one variant
changes an instance (the semantic definition that the fast path must reproduce).

Spec syntax (docs/sweeps.md):

    supply=500:3000:100                  the instance's supply (whole units)
    horizon_days=30:60:10                the horizon H
    per_capita_floor.share=0:1:0.1       a constraint parameter: the constraint becomes active
    survival_with*=0.8:1.2:0.1           a regions.csv column scaled by a factor, every region
    peak_demand*=0.9:1.1:0.1@A,B         ... only the named regions
    capacity=100,200,400@NY              a column set to a value (named regions or all)

Values are `start:stop:step` (a grid, stop included when it falls on the grid), `start:stop`
(a range, for random samples only) or a comma-separated list.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import REGISTRY, ConstraintSpec
from optimiser.constraints import constraint as make_constraint
from optimiser.errors import InputError, Problem, option_problem, plural
from optimiser.instance import (
    MAX_SUPPLY,
    OPTIONAL_DEFAULTS,
    Instance,
    _check_range,
    validate_supply,
)
from optimiser.textfiles import did_you_mean

#: regions.csv columns a sweep may scale (`col*=`) or set (`col=`).
COLUMNS = ("population", "capacity", "peak_demand", *OPTIONAL_DEFAULTS)
#: Largest grid accepted (a typo like `supply=0:1e9:1` should not exhaust memory).
MAX_VARIANTS = 2_000_000
GRID_DIGITS = (
    10  # grid values are rounded to this many decimals (0.1 * 3 -> 0.3, not 0.30000000000000004)
)


class VariantError(ValueError):
    """A variant whose inputs are invalid (recorded as failed; the sweep goes on)."""


@dataclass(frozen=True)
class Dimension:
    """One varied input."""

    text: str  # as given, e.g. "peak_demand*=0.9:1.1:0.1@A,B"
    name: str  # output column, e.g. "peak_demand*@A,B"
    target: str  # "supply" | "horizon_days" | "constraint" | "column"
    values: tuple[float, ...] | None  # grid or list values; None for a bare range
    low: float
    high: float
    kind: str | None = None  # constraint kind
    param: str | None = None  # constraint parameter
    column: str | None = None
    scale: bool = False  # column*= (a factor) rather than column= (a value)
    regions: tuple[str, ...] | None = None  # None: every region
    listed: bool = False  # values given as a list (samples pick among them)

    @property
    def integer(self) -> bool:
        return self.target == "supply"

    @property
    def changes_data(self) -> bool:
        """Does it change the numbers of the instance (not supply, not a constraint parameter)?"""
        return self.target in ("column", "horizon_days")


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(Problem(f"--vary {where!r}: not a number: {text!r}")) from None
    if not math.isfinite(value):
        raise InputError(Problem(f"--vary {where!r}: must be finite, got {text!r}"))
    return value


def _parse_values(raw: str, where: str) -> tuple[tuple[float, ...] | None, float, float, bool]:
    raw = raw.strip()
    if not raw:
        raise InputError(
            Problem(f"--vary {where!r}: no values (expected start:stop:step, start:stop or a,b,c)")
        )
    if ":" in raw:
        parts = raw.split(":")
        if len(parts) not in (2, 3):
            raise InputError(
                Problem(f"--vary {where!r}: expected start:stop:step or start:stop, got {raw!r}")
            )
        start, stop = _number(parts[0], where), _number(parts[1], where)
        if stop < start:
            raise InputError(Problem(f"--vary {where!r}: stop {stop:g} is below start {start:g}"))
        if len(parts) == 2:
            return None, start, stop, False
        step = _number(parts[2], where)
        if step <= 0:
            raise InputError(Problem(f"--vary {where!r}: step must be > 0, got {step:g}"))
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_VARIANTS:
            raise InputError(
                Problem(f"--vary {where!r}: {count:,} values, more than {MAX_VARIANTS:,}")
            )
        values = tuple(round(start + i * step, GRID_DIGITS) for i in range(count))
        return values, start, stop, False
    values = tuple(_number(v.strip(), where) for v in raw.split(","))
    if len(set(values)) != len(values):
        raise InputError(Problem(f"--vary {where!r}: a value is listed twice"))
    return values, min(values), max(values), True


def parse_vary(
    text: str, instance: Instance, constraints: Sequence[ConstraintSpec] = ()
) -> Dimension:
    """Parse and validate one `--vary` specification against an instance."""
    if not isinstance(text, str) or "=" not in text:
        raise InputError(
            Problem(f"--vary {text!r}: expected NAME=VALUES (e.g. supply=500:3000:100)")
        )
    name, _, rest = text.partition("=")
    name = name.strip()
    values_text, at, regions_text = rest.partition("@")
    values, low, high, listed = _parse_values(values_text, text)
    regions: tuple[str, ...] | None = None
    if at:
        regions = tuple(r.strip() for r in regions_text.split(",") if r.strip())
        if not regions:
            raise InputError(Problem(f"--vary {text!r}: no region after '@'"))
        unknown = [r for r in regions if r not in instance.region_ids]
        if unknown:
            ids = instance.region_ids
            known = ", ".join(ids[:10]) + (f" ... ({len(ids)} regions)" if len(ids) > 10 else "")
            raise InputError(Problem(  # an option, not a column of a file
                f"--vary {text!r}: unknown {plural(len(unknown), 'region')} "
                f"{', '.join(r + did_you_mean(r, ids) for r in unknown)} (regions: {known})"))
        if len(set(regions)) != len(regions):
            raise InputError(Problem(f"--vary {text!r}: a region is listed twice"))
    grid = values if values is not None else (low, high)

    if name in ("supply", "horizon_days"):
        if regions is not None:
            raise InputError(
                Problem(f"--vary {text!r}: {name} is national; '@regions' does not apply")
            )
        for v in grid:
            if name == "supply":
                if values is None:  # a range for --samples: its ends need not be whole
                    if not 0 <= v <= MAX_SUPPLY:
                        raise InputError(
                            Problem(
                                f"--vary {text!r}: supply must be in [0, {MAX_SUPPLY:,}], got {v:g}"
                            )
                        )
                    if math.ceil(low) > math.floor(high):  # but it must hold a whole number
                        raise InputError(
                            Problem(f"--vary {text!r}: no whole number of units in the range")
                        )
                elif v < 0 or v != int(v):
                    raise InputError(
                        Problem(f"--vary {text!r}: supply must be a whole number >= 0, got {v:g}")
                    )
                else:  # the engine's own limit (triage solve refuses the same values)
                    validate_supply(int(v), f"--vary {text!r}: supply")
            if name == "horizon_days" and v <= 0:
                raise InputError(Problem(f"--vary {text!r}: horizon_days must be > 0, got {v:g}"))
        return Dimension(text, name, name, values, low, high, listed=listed)

    if "." in name:
        kind, _, param = name.partition(".")
        if kind not in REGISTRY:
            raise InputError(
                Problem(
                    f"--vary {text!r}: unknown constraint kind {kind!r} "
                    f"(known: {', '.join(sorted(REGISTRY))})"
                )
            )
        spec = REGISTRY[kind].param(param)
        if spec is None:
            allowed = ", ".join(p.name for p in REGISTRY[kind].params) or "none"
            raise InputError(
                Problem(
                    f"--vary {text!r}: {kind} has no parameter {param!r} (parameters: {allowed})"
                )
            )
        if (
            spec.choices is not None
            or spec.type is str
            or not (
                spec.type in (int, float) or (isinstance(spec.type, tuple) and float in spec.type)
            )
        ):
            raise InputError(
                Problem(f"--vary {text!r}: parameter {param!r} of {kind} is not numeric")
            )
        if regions is not None:
            raise InputError(
                Problem(
                    f"--vary {text!r}: a constraint parameter applies to every region; drop '@'"
                )
            )
        for v in grid:
            reason = spec.check(float(v))
            if reason:
                raise InputError(Problem(f"--vary {text!r}: parameter {param!r} {reason}"))
        same_kind = [c for c in constraints if c.kind == kind]
        if len(same_kind) > 1:
            labels = ", ".join(c.label for c in same_kind)
            raise InputError(
                Problem(
                    f"--vary {text!r}: ambiguous, {len(same_kind)} {kind} constraints "
                    f"are active ({labels})"
                )
            )
        if (
            not same_kind
        ):  # the constraint becomes active: it must be complete with this parameter alone
            missing = [p.name for p in REGISTRY[kind].params if p.required and p.name != param]
            if missing:
                raise InputError(
                    Problem(
                        f"--vary {text!r}: {kind} also needs {', '.join(missing)}; "
                        "add it with --constraint"
                    )
                )
        return Dimension(
            text, name, "constraint", values, low, high, kind=kind, param=param, listed=listed
        )

    scale = name.endswith("*")
    column = name[:-1].strip() if scale else name
    if column not in COLUMNS:
        raise InputError(
            Problem(
                f"--vary {text!r}: unknown input {name!r} "
                "(supply, horizon_days, KIND.PARAM, or a column "
                f"{', '.join(COLUMNS)} followed by '*' to scale it)"
            )
        )
    for v in grid:
        if scale and v < 0:
            raise InputError(Problem(f"--vary {text!r}: a factor must be >= 0, got {v:g}"))
        if scale and v == 0 and column in ("population", "los_days", "pressure"):
            raise InputError(
                Problem(f"--vary {text!r}: {column} must stay > 0, a factor of 0 is not allowed")
            )
        if not scale:
            reason = _check_range(column, float(v))
            if reason:
                raise InputError(Problem(f"--vary {text!r}: {column} {reason}"))
    label = f"{column}{'*' if scale else ''}" + (f"@{','.join(regions)}" if regions else "")
    return Dimension(
        text,
        label,
        "column",
        values,
        low,
        high,
        column=column,
        scale=scale,
        regions=regions,
        listed=listed,
    )


def parse_vary_all(
    specs: Iterable[str | Dimension], instance: Instance, constraints: Sequence[ConstraintSpec] = ()
) -> tuple[Dimension, ...]:
    dims = tuple(
        s if isinstance(s, Dimension) else parse_vary(s, instance, constraints) for s in specs
    )
    names = [d.name for d in dims]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        raise InputError(Problem(f"--vary: {dup} is varied twice"))
    return dims


def vary_from_mapping(vary: Mapping[str, Any] | Sequence[str]) -> list[str]:
    """`{"supply": "500:3000:100", "survival_with*": [0.9, 1.1]}` or `["supply=..."]` -> texts."""
    if isinstance(vary, Mapping):
        out = []
        for key, value in vary.items():
            if isinstance(value, str):
                text = value
            elif isinstance(value, range) and len(value) > 0 and value.step > 0:
                text = f"{value.start}:{value[-1]}:{value.step}"
            elif isinstance(value, Iterable):
                text = ",".join(repr(float(v)) if not isinstance(v, int) else str(v) for v in value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                text = repr(value)
            else:
                raise InputError(
                    Problem(f"vary[{key!r}]: expected 'start:stop:step', a list or a number")
                )
            key_text, at, regions = str(key).partition("@")
            text, at2, regions2 = text.partition("@")
            suffix = f"@{regions}" if at else (f"@{regions2}" if at2 else "")
            out.append(f"{key_text}={text}{suffix}")
        return out
    if isinstance(vary, str):
        return [vary]
    return list(vary)


# ---------------------------------------------------------------------------------------------
# Variants


def grid_size(dims: Sequence[Dimension]) -> int:
    n = 1
    for d in dims:
        if d.values is None:
            raise InputError(
                Problem(f"--vary {d.text!r}: a range without step needs --samples (or give a step)")
            )
        n *= len(d.values)
    return n


def variant_table(
    dims: Sequence[Dimension], samples: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """One row per variant (index `variant`, from 0), one column per dimension.

    Grid: every combination, the first dimension varying slowest. Samples: `samples` draws, each
    dimension independently uniform on its range (whole units for supply; a list is picked from).
    """
    if not dims:
        raise InputError(Problem("nothing to vary: give at least one --vary"))
    if samples is None:
        n = grid_size(dims)
        if n > MAX_VARIANTS:
            raise InputError(
                Problem(
                    f"--vary: the grid has {n:,} variants, more than {MAX_VARIANTS:,}; "
                    "use --samples"
                )
            )
        rows = list(itertools.product(*(d.values or () for d in dims)))
        frame = pd.DataFrame(rows, columns=[d.name for d in dims], dtype=float)
    else:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise InputError(
                option_problem("samples", f"must be a whole number >= 1, got {samples!r}")
            )
        if samples > MAX_VARIANTS:
            raise InputError(
                option_problem("samples", f"at most {MAX_VARIANTS:,} variants, got {samples:,}")
            )
        rng = np.random.default_rng(seed)
        columns = {}
        for d in dims:
            if d.listed and d.values is not None:
                columns[d.name] = rng.choice(np.array(d.values, dtype=float), size=samples)
            elif d.integer:
                columns[d.name] = rng.integers(
                    math.ceil(d.low), math.floor(d.high) + 1, size=samples
                ).astype(float)
            else:
                columns[d.name] = rng.uniform(d.low, d.high, size=samples)
        frame = pd.DataFrame(columns)
    for d in dims:
        if d.integer:
            frame[d.name] = frame[d.name].round().astype(np.int64)
    frame.index = pd.RangeIndex(len(frame), name="variant")
    return frame


# ---------------------------------------------------------------------------------------------
# One variant applied to an instance


def variant_constraints(
    base: Sequence[ConstraintSpec], dims: Sequence[Dimension], values: Mapping[str, Any]
) -> tuple[ConstraintSpec, ...]:
    """The active constraints of a variant: the base set with varied parameters replaced (a
    varied kind not in the base set is added, in the order of the dimensions)."""
    out = list(base)
    for d in dims:
        if d.target != "constraint":
            continue
        assert d.kind is not None and d.param is not None
        value = float(values[d.name])
        index = next((i for i, c in enumerate(out) if c.kind == d.kind), None)
        params = dict(out[index].params) if index is not None else {}
        params[d.param] = value
        spec = make_constraint(d.kind, **params)
        if index is None:
            out.append(spec)
        else:
            out[index] = spec
    return tuple(out)


def apply_data(
    instance: Instance, dims: Sequence[Dimension], values: Mapping[str, Any]
) -> Instance:
    """The instance with the variant's column and horizon changes (not supply, not constraints).

    Scaled staff caps are rounded down to whole units; scaling survival_with also scales the
    survival_with of the region's tiers (setting it sets every tier). Raises VariantError when
    a changed value is invalid (e.g. survival_with above 1).
    """
    changes = [d for d in dims if d.changes_data]
    if not changes:
        return instance
    regions = instance.regions.copy()
    tiers = instance.tiers.copy() if instance.tiers is not None else None
    horizon = instance.horizon_days
    touched: set[str] = set()
    for d in changes:
        value = float(values[d.name])
        if d.target == "horizon_days":
            horizon = value
            continue
        assert d.column is not None
        mask = (
            np.ones(len(regions), dtype=bool)
            if d.regions is None
            else regions.index.isin(d.regions)
        )
        column = regions[d.column].to_numpy(dtype=float).copy()
        column[mask] = column[mask] * value if d.scale else value
        if d.column == "staff_cap":
            column = np.where(np.isnan(column), np.nan, np.floor(column + 1e-9))
        regions[d.column] = column
        touched.add(d.column)
        if d.column == "survival_with" and tiers is not None:
            ids = regions.index[mask]
            tier_mask = tiers["region"].isin(ids).to_numpy()
            sw = tiers["survival_with"].to_numpy(dtype=float).copy()
            sw[tier_mask] = sw[tier_mask] * value if d.scale else value
            tiers["survival_with"] = sw
            touched.add("tiers")
    _check_data(regions, tiers, touched)
    return replace(instance, regions=regions, tiers=tiers, horizon_days=horizon)


def _check_data(regions: pd.DataFrame, tiers: pd.DataFrame | None, touched: set[str]) -> None:
    for col in touched - {"tiers"}:
        for rid, value in regions[col].items():
            if col in ("los_days", "staff_cap") and isinstance(value, float) and math.isnan(value):
                continue
            reason = _check_range(col, float(value))
            if reason:
                raise VariantError(f"region '{rid}': {col} {reason}")
    if touched & {"survival_with", "survival_without"}:
        bad = regions["survival_without"] > regions["survival_with"]
        if bad.any():
            rid = str(regions.index[bad.to_numpy()][0])
            row = regions.index.get_loc(rid)
            swo_r = float(regions["survival_without"].to_numpy(dtype=float)[row])
            sw_r = float(regions["survival_with"].to_numpy(dtype=float)[row])
            raise VariantError(
                f"region '{rid}': survival_without ({swo_r:g}) is greater "
                f"than survival_with ({sw_r:g})"
            )
    if tiers is not None and "tiers" in touched | {"survival_without"}:
        swo = {str(k): float(v) for k, v in regions["survival_without"].items()}
        for tier, region, sw in zip(
            tiers["tier"], tiers["region"], tiers["survival_with"], strict=True
        ):
            if not 0.0 <= float(sw) <= 1.0:
                raise VariantError(
                    f"tier {tier} of region '{region}': survival_with {float(sw):g} not in [0, 1]"
                )
            if float(sw) < swo[str(region)]:
                raise VariantError(
                    f"tier {tier} of region '{region}': survival_with below survival_without"
                )


def apply_variant(
    instance: Instance,
    base_constraints: Sequence[ConstraintSpec],
    dims: Sequence[Dimension],
    values: Mapping[str, Any],
) -> tuple[Instance, tuple[ConstraintSpec, ...]]:
    """The modified instance (supply and data) and the active constraints of one variant."""
    out = apply_data(instance, dims, values)
    for d in dims:
        if d.target == "supply":
            out = replace(out, supply=int(values[d.name]))
    return out, variant_constraints(base_constraints, dims, values)


def spec_hash(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
