"""From a sweep's spec to what its workers run: `build_plan` (the SweepPlan, the variants
table and the spec recorded in the manifest), variants ordered by the model they share, and
the chunks they are solved in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import ConstraintSpec
from optimiser.engine import active_constraints
from optimiser.engine_protocol import check_time_limit
from optimiser.errors import InputError, Problem, listed
from optimiser.instance import Instance
from optimiser.policies import check_seed
from optimiser.sweeps.fast import (
    SweepPlan,
    kind_family,
    variant_constraints,
)
from optimiser.sweeps.folder import FORMAT
from optimiser.sweeps.spec import (
    Dimension,
    parse_vary_all,
    spec_hash,
    variant_table,
    vary_from_mapping,
)

MAX_CHUNK = 250


def build_plan(
    instance: Instance,
    vary: Mapping[str, Any] | Sequence[str] | Sequence[Dimension],
    *,
    samples: int | None = None,
    seed: int = 0,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    default_constraints: bool = True,
    price_of_fairness: bool = False,
    tie_break: bool = False,
    time_limit: float | None = None,
    mode: str = "fast",
    design: pd.DataFrame | None = None,
    greedy: bool = True,
) -> tuple[SweepPlan, pd.DataFrame, dict[str, Any]]:
    """Validate everything up front; returns the plan, the variant table and the spec.

    greedy: solve lives-only variants (no tie-break, floors at most) by the exact greedy rather
    than HiGHS (fast mode only; see optimiser.sweeps.fast)."""
    if not isinstance(instance, Instance):
        raise InputError(
            Problem("instance must be an optimiser.Instance (optimiser.load_instance)")
        )
    if mode not in ("fast", "rebuild"):
        raise InputError(Problem(f"mode must be 'fast' or 'rebuild', got {mode!r}"))
    check_time_limit(time_limit)
    seed = check_seed(seed)
    base = active_constraints(instance, constraints, default_constraints)
    items: list[Any] = list(vary) if not isinstance(vary, Mapping | str) else []
    if items and all(isinstance(d, Dimension) for d in items):
        dims = parse_vary_all(items, instance, base)
    else:
        dims = parse_vary_all(vary_from_mapping(vary), instance, base)  # type: ignore[arg-type]
    if design is not None:
        table = _check_design(design, dims)
    else:
        table = variant_table(dims, samples, seed)
    supply_max = int(instance.supply)
    for d in dims:
        if d.target == "supply":
            supply_max = int(table[d.name].max())
    spec: dict[str, Any] = {
        "format": FORMAT,
        "instance": instance.name,
        "fingerprint": instance.fingerprint(),
        "vary": [d.text for d in dims],
        "samples": samples,
        "seed": seed if samples is not None else None,
        "design": None if design is None else _design_digest(table),
        "constraints": [c.label for c in base],
        "price_of_fairness": bool(price_of_fairness),
        "tie_break": bool(tie_break),
        "time_limit": time_limit,
        "mode": mode,
    }
    if not greedy:  # only when asked: sweeps written before the greedy path keep their hash
        spec["greedy"] = False
    key = spec_hash(spec)
    plan = SweepPlan(
        instance=instance,
        constraints=base,
        dims=dims,
        price_of_fairness=bool(price_of_fairness),
        tie_break=bool(tie_break),
        time_limit=time_limit,
        mode=mode,
        supply_max=supply_max,
        key=key,
        greedy=bool(greedy),
    )
    return plan, table, spec


def _check_design(design: pd.DataFrame, dims: Sequence[Dimension]) -> pd.DataFrame:
    names = [d.name for d in dims]
    missing = [n for n in names if n not in design.columns]
    if missing:
        raise InputError(Problem(f"design: missing {listed('column', missing, ' ')}"))
    table = design[names].astype(float).reset_index(drop=True)
    if not np.isfinite(table.to_numpy()).all():
        raise InputError(Problem("design: values must be finite numbers"))
    for d in dims:
        if d.integer:
            table[d.name] = table[d.name].round().astype(np.int64)
    table.index = pd.RangeIndex(len(table), name="variant")
    return table


def _design_digest(table: pd.DataFrame) -> str:
    return spec_hash({"csv": table.to_csv(lineterminator="\n")})


def _order(plan: SweepPlan, table: pd.DataFrame) -> list[int]:
    """Variant ids grouped by the model they need (so a chunk reuses one built model)."""
    if plan.mode == "rebuild":
        return list(range(len(table)))
    kinds = [c.kind for c in plan.constraints] + [d.kind for d in plan.dims if d.kind is not None]
    if not plan.tie_break and all(kind_family(k) != "rows" for k in kinds):
        return list(range(len(table)))
    records: list[dict[str, Any]] = table.to_dict("records")  # type: ignore[assignment]
    keys = []
    for vid, values in enumerate(records):
        try:
            key = plan.model_key(values, variant_constraints(plan.constraints, plan.dims, values))
        except Exception:
            key = None
        keys.append((repr(key), vid))
    return [vid for _, vid in sorted(keys)]


def chunks_of(order: Sequence[int], size: int) -> list[list[int]]:
    return [list(order[i : i + size]) for i in range(0, len(order), size)]


def default_chunk_size(n: int) -> int:
    return max(1, min(MAX_CHUNK, math.ceil(n / 64)))
