"""Solving the variants of a sweep: the fast path (one built model, changed in place) and the
rebuild path (optimiser.solve on the modified instance: the reference, and the fallback).

Fast path. The regional model of the instance is built once per worker (RegionalEngine, with
only the fairness families that need rows). A variant then changes numbers in HiGHS:

    supply S                   -> upper bound of the supply row
    floor constraints          -> lower bounds of the x_r columns: max_k min(floor_k,r, cap_r),
                                  each floor_k computed by the registry's `floors(data, params)`
    staff_cap                  -> upper bounds of x_r
    peak_demand, capacity      -> E_r -> upper bounds of the useful-unit columns u_rk (and floors)
    survival, los, horizon     -> lives coefficients g_rk t_r of u_rk in the objective
    prioritarian weights       -> objective coefficients a_r g_rk t_r

A floor row x_r >= f_r and a column bound x_r >= f_r define the same feasible set, so every
variant solves exactly the model `optimiser.solve` would build for the modified instance.
Families that need rows (max_coverage_gap, threshold, ...) are built into the model; when a
variant changes an input such a family depends on (the inputs its kind declares,
models/fairness/<kind>.py), the worker builds a model for that input (models are keyed by
those inputs, so variants sharing them share a model). The supply row and the big-M / lambda
bounds of those families are built with the largest supply of the sweep, which is valid for
every smaller supply; a family whose rows depend on the supply itself (it declares `supply`)
gets a model per supply. A constraint kind that declares no inputs falls back to the rebuild
path, as does any variant whose fast solve raises.

The fast model is optimiser/sweeps/fast_model.py (FastModel); what a worker is given and
answers, optimiser/sweeps/sweep_plan.py (SweepPlan, VariantOutcome).

Greedy path (optimiser/sweeps/greedy.py). A lives-only variant (no tie-break, no family built as
rows, no objective weights: only floors, if any) is a separable concave integer knapsack: x_r >=
floor_r are lower bounds and each region's lives are concave in x_r (best tiers fill first), so
giving each remaining unit to the largest marginal lives is exact (docs/model.md).
`solve_greedy` does that in numpy without calling HiGHS (`path = greedy` in the output);
`SweepPlan.greedy = False` (--no-greedy) sends every variant to HiGHS. tests/test_sweep.py
checks it against HiGHS on random variants.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from models.fairness import ConstraintSpec
from models.regional import RegionalData
from optimiser.deadline import Deadline
from optimiser.engine import (
    RegionalEngine,
    coverage,
    regional_data,
)
from optimiser.instance import Instance
from optimiser.results import PRICE_PRECISION
from optimiser.solver import SolverOptions, SolveStatus
from optimiser.sweeps.fast_model import FastModel
from optimiser.sweeps.greedy import solve_greedy
from optimiser.sweeps.spec import (
    Dimension,
    VariantError,
    apply_data,
    apply_variant,
    variant_constraints,
)

# Re-exported (hence the noqa): kind_family (optimiser/sweeps/run.py imports it from here)
from optimiser.sweeps.sweep_plan import (  # noqa: F401
    SweepPlan,
    VariantOutcome,
    kind_family,
)

MODELS_PER_WORKER = 2  # built models kept per worker (least recently used dropped)


# ---------------------------------------------------------------------------------------------
# Worker side: caches and the chunk function


@dataclass
class _WorkerCache:
    models: OrderedDict[tuple[Any, ...], FastModel] = field(default_factory=OrderedDict)
    data: OrderedDict[tuple[Any, ...], RegionalData] = field(default_factory=OrderedDict)
    numeric: OrderedDict[str, NumericBase] = field(default_factory=OrderedDict)
    # L* and its proven bound, by variant data and supply
    lives_star: OrderedDict[tuple[Any, ...], tuple[float | None, float | None]] = field(
        default_factory=OrderedDict
    )


_LOCAL = threading.local()  # Dask workers run tasks in threads: one cache (and HiGHS) per thread


def _cache() -> _WorkerCache:
    cache = getattr(_LOCAL, "cache", None)
    if cache is None:
        cache = _LOCAL.cache = _WorkerCache()
    return cache


def _remember(store: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > size:
        store.popitem(last=False)


def clear_worker_cache() -> None:
    _LOCAL.cache = _WorkerCache()


class NumericBase:
    """The instance's raw columns as arrays, to apply column changes without pandas.

    `data(dims, values)` mirrors apply_data + regional_data (optimiser.engine) operation for
    operation, so the numbers are identical; it returns None (use the full path) for
    instances with tiers and for any variant with an invalid value (the full path then raises
    the precise VariantError). tests/test_sweep_numeric.py checks it against the full path.
    """

    CHECKS: ClassVar[dict[str, Callable[[np.ndarray], np.ndarray]]] = {
        "population": lambda v: v > 0,
        "capacity": lambda v: v >= 0,
        "peak_demand": lambda v: v >= 0,
        "survival_with": lambda v: (v >= 0) & (v <= 1),
        "survival_without": lambda v: (v >= 0) & (v <= 1),
        "los_days": lambda v: np.isnan(v) | (v > 0),
        "staff_cap": lambda v: np.isnan(v) | ((v >= 0) & (v == np.floor(v))),
        "pressure": lambda v: (v > 0) & (v <= 1),
        "weight": lambda v: v >= 0,
    }

    def __init__(self, instance: Instance) -> None:
        regions = instance.regions
        self.ids = [str(r) for r in regions.index]
        self.position = {r: i for i, r in enumerate(self.ids)}
        self.columns = {c: regions[c].to_numpy(dtype=float) for c in self.CHECKS}
        self.horizon_days = instance.horizon_days
        self.usable = instance.tiers is None

    def data(
        self, dims: Sequence[Dimension], values: Mapping[str, Any], supply: int
    ) -> RegionalData | None:
        if not self.usable:
            return None
        cols = dict(self.columns)
        horizon_days = self.horizon_days
        for d in dims:
            if not d.changes_data:
                continue
            value = float(values[d.name])
            if d.target == "horizon_days":
                horizon_days = value
                continue
            assert d.column is not None
            column = cols[d.column].copy()
            rows = slice(None) if d.regions is None else [self.position[r] for r in d.regions]
            column[rows] = column[rows] * value if d.scale else value
            if d.column == "staff_cap":
                column = np.where(np.isnan(column), np.nan, np.floor(column + 1e-9))
            if not self.CHECKS[d.column](column).all():
                return None
            cols[d.column] = column
        sw, swo = cols["survival_with"], cols["survival_without"]
        if (swo > sw).any():
            return None
        los = cols["los_days"]
        given = los[~np.isnan(los)]
        if horizon_days is not None:
            horizon = float(horizon_days)
        else:
            horizon = float(given.mean()) if len(given) else 1.0
        los_filled = np.where(np.isnan(los), horizon, los)
        excess = np.maximum(cols["peak_demand"] - cols["capacity"], 0.0)
        gain = sw - swo
        relative_los = los_filled / los_filled.mean()
        return RegionalData(
            regions=tuple(self.ids),
            population=cols["population"],
            capacity=cols["capacity"],
            peak_demand=cols["peak_demand"],
            excess_demand=excess,
            gain=gain,
            turnover=horizon / los_filled,
            staff_cap=np.where(np.isnan(cols["staff_cap"]), math.inf, cols["staff_cap"]),
            weight=cols["weight"],
            rai=excess * sw / (relative_los * cols["pressure"]),
            supply=int(supply),
            tiers=tuple((pair,) for pair in zip(excess.tolist(), gain.tolist(), strict=True)),
        )


def variant_data(plan: SweepPlan, values: Mapping[str, Any]) -> RegionalData:
    """The variant's model numbers (with its supply), cached by its data inputs."""
    cache = _cache()
    supply = plan.supply_of(values)
    key = (plan.key, plan.data_key(values))
    data = cache.data.get(key)
    if data is None:
        base = cache.numeric.get(plan.key)
        if base is None:
            base = NumericBase(plan.instance)
            _remember(cache.numeric, plan.key, base, 2)
        data = (
            base.data(plan.dims, values, supply)
            if plan.data_key(values)
            else regional_data(plan.instance)
        )
        if (
            data is None
        ):  # tiers, or an invalid value: the full path (raises VariantError if invalid)
            data = regional_data(apply_data(plan.instance, plan.dims, values))
        _remember(cache.data, key, data, 4)
    return data if data.supply == supply else replace(data, supply=supply)


def _model(
    plan: SweepPlan,
    key: tuple[Any, ...],
    values: Mapping[str, Any],
    specs: Sequence[ConstraintSpec],
) -> FastModel:
    cache = _cache()
    full = (plan.key, key)
    model = cache.models.get(full)
    if model is None or model.worn:
        model = FastModel(
            apply_data(plan.instance, plan.dims, values),
            specs,
            plan.built_supply(values, specs),
            tie_break=plan.tie_break,
            options=SolverOptions(time_limit=plan.time_limit),
        )
    _remember(cache.models, full, model, MODELS_PER_WORKER)
    return model


def solve_fast(
    plan: SweepPlan, values: Mapping[str, Any], deadline: Deadline | None = None
) -> VariantOutcome:
    """One variant on the fast path (falls back to rebuilding when it cannot express it).
    `deadline`: the variant's budget (default: plan.time_limit from now), building its model,
    every solve and the explanation of an infeasible variant included."""
    deadline = deadline or Deadline(plan.time_limit)
    specs = variant_constraints(plan.constraints, plan.dims, values)
    key = plan.model_key(values, specs)
    if key is None:
        return solve_rebuild(plan, values, deadline)
    data = variant_data(plan, values)
    cache = _cache()
    star_key = (plan.key, plan.data_key(values), data.supply)
    lives_star = cache.lives_star.get(star_key) if plan.price_of_fairness else None
    if plan.uses_greedy(specs):
        out = solve_greedy(
            plan, data, specs, want_star=plan.price_of_fairness, lives_star=lives_star
        )
    else:
        model = _model(plan, key, values, specs)
        try:
            out = model.solve(
                data,
                specs,
                deadline=deadline,
                lives_star=lives_star,
                want_star=plan.price_of_fairness,
            )
        except Exception:
            cache.models.pop((plan.key, key), None)  # a model in an unknown state: not reused
            raise
    if (
        plan.price_of_fairness
        and out.lives_optimal is not None
        and out.lives_optimal_bound is not None
        and out.lives_optimal_bound - out.lives_optimal <= PRICE_PRECISION / 2 + 1e-9
    ):  # only a proved L* serves later variants (one cut short by its budget would not)
        _remember(cache.lives_star, star_key, (out.lives_optimal, out.lives_optimal_bound), 4096)
    out.constraints = tuple(s.label for s in specs)
    if out.status == str(SolveStatus.INFEASIBLE) and not out.reason:
        variant, _ = apply_variant(plan.instance, plan.constraints, plan.dims, values)
        explainer = RegionalEngine(variant, specs, deadline=deadline)
        out.reason = explainer.explain_infeasible(specs)
    return out


def solve_rebuild(
    plan: SweepPlan, values: Mapping[str, Any], deadline: Deadline | None = None
) -> VariantOutcome:
    """One variant through optimiser.solve on the modified instance: the model built anew,
    within the variant's `deadline` (default: plan.time_limit from now)."""
    from optimiser.engine import solve

    deadline = deadline or Deadline(plan.time_limit)
    variant, specs = apply_variant(plan.instance, plan.constraints, plan.dims, values)
    t0 = time.perf_counter()
    result = solve(
        variant,
        constraints=specs,
        default_constraints=False,
        price_of_fairness=False,
        tie_break=plan.tie_break,
        deadline=deadline,
    )
    units = (
        None if "units" not in result.regions else result.regions["units"].to_numpy(dtype=np.int64)
    )
    out = VariantOutcome(
        str(result.status),
        result.lives_saved,
        result.lives_optimal if plan.price_of_fairness else None,
        units,
        regional_data(variant),
        time.perf_counter() - t0,
        path="rebuild",
        reason=result.explanation or "",
        constraints=tuple(s.label for s in specs),
        lives_bound=result.lives_saved_bound,
        lives_optimal_bound=result.lives_optimal_bound if plan.price_of_fairness else None,
    )
    return out


REGION_COLUMNS = ["variant", "region", "units", "lives", "coverage_before", "coverage"]


def run_chunk(
    plan: SweepPlan, chunk: int, variant_ids: Sequence[int], rows: Sequence[Mapping[str, Any]]
) -> tuple[int, pd.DataFrame, pd.DataFrame]:
    """Solve a chunk of variants; every variant gets a row, a failed one with its reason."""
    records: list[dict[str, Any]] = []
    solved: list[tuple[int, VariantOutcome]] = []
    for vid, values in zip(variant_ids, rows, strict=True):
        deadline = Deadline(plan.time_limit)  # the variant's budget: all of its work
        try:
            if plan.mode == "rebuild":
                out = solve_rebuild(plan, values, deadline)
            else:
                try:
                    out = solve_fast(plan, values, deadline)
                except VariantError:
                    raise
                except Exception as exc:  # the fast path failed: rebuild this variant
                    out = solve_rebuild(plan, values, deadline)
                    out.reason = f"fast path failed ({type(exc).__name__}: {exc}); rebuilt"
        except VariantError as exc:
            out = VariantOutcome("failed", reason=str(exc), path=plan.mode)
        except Exception as exc:
            out = VariantOutcome("failed", reason=f"{type(exc).__name__}: {exc}", path=plan.mode)
        records.append(_record(plan, vid, values, out))
        if out.units is not None and out.data is not None:
            solved.append((int(vid), out))
    return chunk, variant_frame(records), _regions(solved) if solved else empty_regions(plan)


UNIT_COLUMNS = ("units_sent", "unallocated")  # nullable whole numbers: NA without an allocation


def variant_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The variant rows as a table: units columns as nullable Int64 (NA, never a -1)."""
    frame = pd.DataFrame(list(records))
    for col in UNIT_COLUMNS:
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    if "price_of_fairness_exact" in frame:  # nullable: NA without a price
        frame["price_of_fairness_exact"] = frame["price_of_fairness_exact"].astype("boolean")
    return frame


def empty_regions(plan: SweepPlan) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": pd.Series(dtype=np.int64),
            "region": pd.Categorical([], categories=plan.instance.region_ids),
            "units": pd.Series(dtype=np.int64),
            "lives": pd.Series(dtype=float),
            "coverage_before": pd.Series(dtype=float),
            "coverage": pd.Series(dtype=float),
        }
    )


@functools.lru_cache(maxsize=8)
def _region_dtype(names: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(categories=list(names))


def _regions(solved: Sequence[tuple[int, VariantOutcome]]) -> pd.DataFrame:
    """One row per variant and region (built once per chunk: a frame per variant is slow)."""
    vids, units, lives, before, after = [], [], [], [], []
    names = solved[0][1].data.regions if solved[0][1].data is not None else ()
    for vid, out in solved:
        data = out.data
        assert data is not None and out.units is not None and data.regions == names
        n = len(data.regions)
        vids.append(np.full(n, vid, dtype=np.int64))
        units.append(out.units.astype(np.int64))
        lives.append(out.region_lives if out.region_lives is not None else data.lives(out.units))
        before.append(coverage(data.capacity, data.peak_demand))
        after.append(coverage(data.capacity, data.peak_demand, out.units))
    return pd.DataFrame(
        {
            "variant": np.concatenate(vids),
            "region": pd.Categorical.from_codes(
                np.tile(np.arange(len(names)), len(solved)), dtype=_region_dtype(names)
            ),
            "units": np.concatenate(units),
            "lives": np.concatenate(lives),
            "coverage_before": np.concatenate(before),
            "coverage": np.concatenate(after),
        }
    )


def _record(
    plan: SweepPlan, vid: int, values: Mapping[str, Any], out: VariantOutcome
) -> dict[str, Any]:
    from optimiser.sweeps.prices import variant_price

    record: dict[str, Any] = {"variant": int(vid)}
    for d in plan.dims:
        record[d.name] = int(values[d.name]) if d.integer else float(values[d.name])
    supply = plan.supply_of(values)
    sent = None if out.units is None else int(out.units.sum())
    reason = out.reason
    if not reason and out.units is None and out.status == str(SolveStatus.TIME_LIMIT):
        reason = "time limit reached before HiGHS found any allocation"
    elif (
        not reason
        and out.units is None
        and out.status
        not in (
            str(SolveStatus.OPTIMAL),
            str(SolveStatus.INFEASIBLE),
        )
    ):
        reason = f"no allocation (solver status {out.status})"
    record.update(
        {
            "status": out.status,
            "lives_saved": np.nan if out.lives is None else float(out.lives),
            "lives_optimal": np.nan if out.lives_optimal is None else float(out.lives_optimal),
            **variant_price(out),
            "supply": supply,
            "units_sent": pd.NA if sent is None else sent,
            "unallocated": pd.NA if sent is None else supply - sent,
            "constraints": "; ".join(out.constraints),
            "path": out.path,
            "seconds": float(out.seconds),
            "reason": reason,
        }
    )
    return record
