"""The floor: the regional model built directly in highspy (numpy arrays -> HighsLp -> passModel).

Independent of optimiser/ and models/: the instance is read here with tomllib and pandas, the
model numbers (E_r, H, t_r, g_r, floors) are computed here from the formulas of issue 2 /
docs/model.md, and the matrix is assembled row by row in numpy. It is the yardstick the engine
is timed against (benchmarks/regional_bench.py) and an independent cross-check of its optimum
(tests/test_direct_highspy_crosscheck.py).

Columns: x_r (integer, 0..cap_r), u_r (useful units, 0..E_r), then per max_coverage_gap family
m (smallest coverage, [0, 1]) and z (binary). Rows:

    sum_r x_r <= S                              supply
    u_r - x_r <= 0                              useful units (u_r = min(x_r, E_r))
    x_r >= min(cap_r, f_r)  (f_r > 0)           every floor family (per_capita_floor, ...)
    m - x_r / P_r <= c_r / P_r                  max_coverage_gap: m <= coverage_r
    x_r / P_r - m - M_r z <= gap - c_r / P_r    max_coverage_gap: coverage_r <= m + gap + M_r z
    m - z >= -gap                               max_coverage_gap: switch

    maximise sum_r g_r t_r u_r

A family is switched off by freeing its rows (bounds -inf..inf), on by restoring them, so the
one highspy model serves every solve the price of fairness needs. Instances with tiers.csv are
not covered (the floor model has one tier per region).

    .venv/bin/python benchmarks/direct_highspy.py [INSTANCE_DIR] [--constraint KIND:p=v]...
"""

from __future__ import annotations

import argparse
import math
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pandas as pd

INF = math.inf
ROUNDING_GUARD = 1e-9  # floor(v + guard), ceil(v - guard): 0.3 * 1000 is 299.99999... in binary
DEFAULT_CONSTRAINTS = (
    "per_capita_floor:share=0.3",
    "coverage_floor:level=0.6",
    "max_coverage_gap:gap=0.5",
)
FLOOR_KINDS = (
    "per_capita_floor",
    "excess_per_capita_floor",
    "coverage_floor",
    "capacity_per_capita_floor",
    "min_units",
)


@dataclass(frozen=True)
class DirectData:
    """One entry per region, in file order."""

    regions: tuple[str, ...]
    population: np.ndarray
    capacity: np.ndarray
    peak_demand: np.ndarray
    excess_demand: np.ndarray
    value: np.ndarray  # g_r t_r: lives per useful unit
    staff_cap: np.ndarray  # inf: unlimited
    supply: int

    def lives(self, units: np.ndarray) -> float:
        return float((self.value * np.minimum(units, self.excess_demand)).sum())


def read_instance(folder: str | Path, supply: int | None = None) -> DirectData:
    """Read instance.toml and regions.csv and compute the model numbers (no validation)."""
    folder = Path(folder)
    if (folder / "tiers.csv").exists():
        raise NotImplementedError("the direct floor model covers instances without tiers.csv")
    meta = tomllib.loads((folder / "instance.toml").read_text(encoding="utf-8"))
    frame = pd.read_csv(folder / "regions.csv", dtype={"region": str})
    defaults = {"survival_with": 1.0, "survival_without": 0.0, **meta.get("defaults", {})}
    for column, default in defaults.items():
        if column not in frame:
            frame[column] = default
        else:
            frame[column] = frame[column].fillna(default)
    los = (
        frame["los_days"].astype(float)
        if "los_days" in frame
        else pd.Series(np.nan, index=frame.index)
    )
    if meta.get("horizon_days") is not None:
        horizon = float(meta["horizon_days"])
    elif los.notna().any():
        horizon = float(los.dropna().mean())
    else:
        horizon = 1.0
    turnover = horizon / los.fillna(horizon).to_numpy(dtype=float)
    gain = frame["survival_with"].to_numpy(dtype=float) - frame["survival_without"].to_numpy(
        dtype=float
    )
    peak = frame["peak_demand"].to_numpy(dtype=float)
    capacity = frame["capacity"].to_numpy(dtype=float)
    cap = (
        frame["staff_cap"].astype(float)
        if "staff_cap" in frame
        else pd.Series(np.nan, index=frame.index)
    )
    return DirectData(
        regions=tuple(frame["region"]),
        population=frame["population"].to_numpy(dtype=float),
        capacity=capacity,
        peak_demand=peak,
        excess_demand=np.maximum(peak - capacity, 0.0),
        value=gain * turnover,
        staff_cap=cap.fillna(INF).to_numpy(dtype=float),
        supply=int(meta["supply"] if supply is None else supply),
    )


def parse_spec(text: str) -> tuple[str, dict[str, float]]:
    """'kind:p=v,q=w' -> (kind, {p: v, q: w}); numbers only (the floor model's families)."""
    kind, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        name, _, raw = item.partition("=")
        params[name.strip()] = float(raw)
    return kind.strip(), params


def label_of(kind: str, params: dict[str, float]) -> str:
    """The engine's label format, e.g. 'coverage_floor(level=0.6)'."""
    return f"{kind}(" + ", ".join(f"{k}={v:g}" for k, v in params.items()) + ")"


def floors(data: DirectData, kind: str, params: dict[str, float]) -> np.ndarray:
    """f_r of a floor family (before clipping at cap_r)."""
    if kind in ("per_capita_floor", "excess_per_capita_floor"):
        w = data.population if kind == "per_capita_floor" else data.excess_demand / data.population
        if w.sum() <= 0:
            return np.zeros(len(w))
        return np.floor(params["share"] * data.supply * w / w.sum() + ROUNDING_GUARD)
    if kind == "coverage_floor":
        need = np.ceil(params["level"] * data.peak_demand - ROUNDING_GUARD) - data.capacity
        return np.where(data.peak_demand > 0, np.maximum(need, 0.0), 0.0)
    if kind == "capacity_per_capita_floor":
        need = np.ceil(params["beds_per_100k"] * data.population / 100_000 - ROUNDING_GUARD)
        return np.maximum(need - data.capacity, 0.0)
    if kind == "min_units":
        e = data.excess_demand
        return np.where(e > 0, np.ceil(np.minimum(params["units"], e) - ROUNDING_GUARD), 0.0)
    raise ValueError(f"the direct floor model has no family {kind!r}")


class _Rows:
    """Row-wise sparse matrix under construction."""

    def __init__(self) -> None:
        self.start = [0]
        self.index: list[int] = []
        self.value: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, cols: Sequence[int], vals: Sequence[float], lower: float, upper: float) -> int:
        self.index.extend(cols)
        self.value.extend(vals)
        self.start.append(len(self.index))
        self.lower.append(lower)
        self.upper.append(upper)
        return len(self.lower) - 1


@dataclass(frozen=True)
class DirectRun:
    status: str
    objective: float | None
    units: np.ndarray | None
    lives: float | None
    seconds: float


class DirectModel:
    """The regional model with every family in `specs`, all switched off after building."""

    def __init__(
        self, data: DirectData, specs: Iterable[str | tuple[str, dict[str, float]]]
    ) -> None:
        self.data = data
        n = len(data.regions)
        parsed = [parse_spec(s) if isinstance(s, str) else s for s in specs]
        self.labels = [label_of(k, p) for k, p in parsed]
        x = np.arange(n)
        u = n + np.arange(n)
        col_lower = [0.0] * (2 * n)
        col_upper = list(data.staff_cap) + list(data.excess_demand)
        integer = [True] * n + [False] * n
        rows = _Rows()
        rows.add(list(x), [1.0] * n, -INF, float(data.supply))
        for r in range(n):
            rows.add([int(u[r]), int(x[r])], [1.0, -1.0], -INF, 0.0)
        self.family_rows: dict[str, np.ndarray] = {}
        for (kind, params), label in zip(parsed, self.labels, strict=True):
            first = len(rows.lower)
            if kind in FLOOR_KINDS:
                clipped = np.minimum(floors(data, kind, params), data.staff_cap)
                for r in map(int, np.flatnonzero(clipped > 0)):
                    rows.add([int(x[r])], [1.0], float(clipped[r]), INF)
            elif kind == "max_coverage_gap":
                gap = params["gap"]
                m_col, z_col = len(col_lower), len(col_lower) + 1
                col_lower += [0.0, 0.0]
                col_upper += [1.0, 1.0]
                integer += [False, True]
                for r in map(int, np.flatnonzero(data.peak_demand > 0)):
                    p, c = data.peak_demand[r], data.capacity[r]
                    rows.add([m_col, int(x[r])], [1.0, -1.0 / p], -INF, c / p)
                for r in map(int, np.flatnonzero(data.peak_demand > 0)):
                    p, c = data.peak_demand[r], data.capacity[r]
                    big_m = (c + min(data.staff_cap[r], float(data.supply))) / p
                    rows.add([int(x[r]), m_col, z_col], [1.0 / p, -1.0, -big_m], -INF, gap - c / p)
                rows.add([m_col, z_col], [1.0, -1.0], -gap, INF)
            else:
                raise ValueError(f"the direct floor model has no family {kind!r}")
            self.family_rows[label] = np.arange(first, len(rows.lower), dtype=np.int32)
        num_col = len(col_lower)
        self.row_lower = np.array(rows.lower)
        self.row_upper = np.array(rows.upper)
        self.x_cols = x
        cost = np.zeros(num_col)
        cost[u] = data.value
        lp = highspy.HighsLp()
        lp.num_col_ = num_col
        lp.num_row_ = len(rows.lower)
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.col_cost_ = cost
        lp.col_lower_ = np.array(col_lower)
        lp.col_upper_ = np.array(col_upper)
        lp.row_lower_ = self.row_lower
        lp.row_upper_ = self.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(rows.start, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(rows.index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(rows.value)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
            for i in integer
        ]
        h = self.highs = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("threads", 1)
        h.setOptionValue("mip_rel_gap", 1e-6)  # the engine's SolverOptions defaults
        h.setOptionValue("mip_abs_gap", 1e-7)
        h.passModel(lp)
        for label in self.labels:
            self.set_active(label, False)

    def set_active(self, label: str, active: bool) -> None:
        rows = self.family_rows[label]
        if active:
            lower, upper = self.row_lower[rows], self.row_upper[rows]
        else:
            lower, upper = np.full(len(rows), -INF), np.full(len(rows), INF)
        self.highs.changeRowsBounds(len(rows), rows, lower, upper)  # type: ignore[attr-defined]

    def solve(self, active: Iterable[str] = ()) -> DirectRun:
        """Most lives with exactly the families in `active` switched on."""
        wanted = set(active)
        for label in self.labels:
            self.set_active(label, label in wanted)
        h = self.highs
        t0 = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - t0
        status = h.getModelStatus()
        info = h.getInfo()
        if status == highspy.HighsModelStatus.kOptimal:
            values = np.asarray(h.getSolution().col_value)
            units = np.rint(values[self.x_cols])
            return DirectRun(
                "optimal",
                float(info.objective_function_value),
                units,
                self.data.lives(units),
                seconds,
            )
        if status == highspy.HighsModelStatus.kInfeasible:
            return DirectRun("infeasible", None, None, None, seconds)
        return DirectRun(h.modelStatusToString(status), None, None, None, seconds)

    def price_of_fairness(self) -> dict[str, Any]:
        """The solves the price of fairness needs: L*, all, each alone, all but each."""
        star = self.solve([])
        everything = self.solve(self.labels)
        table = []
        for label in self.labels:
            alone = self.solve([label])
            without = self.solve([other for other in self.labels if other != label])
            table.append(
                {
                    "constraint": label,
                    "lives_saved_alone": alone.lives,
                    "lives_lost_alone": None
                    if alone.lives is None or star.lives is None
                    else star.lives - alone.lives,
                    "lives_lost_marginal": None
                    if without.lives is None or everything.lives is None
                    else without.lives - everything.lives,
                }
            )
        return {
            "lives_optimal": star.lives,
            "lives_all": everything.lives,
            "table": table,
            "solves": 2 + 2 * len(self.labels),
        }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance", nargs="?", default="instances/us-states-2020")
    parser.add_argument(
        "--constraint", action="append", help="KIND:param=value (default: three families)"
    )
    args = parser.parse_args(argv)
    model = DirectModel(read_instance(args.instance), args.constraint or DEFAULT_CONSTRAINTS)
    result = model.price_of_fairness()
    print(f"L* = {result['lives_optimal']:.4f}, all constraints: {result['lives_all']:.4f}")
    for row in result["table"]:
        print(row)


if __name__ == "__main__":
    main()
