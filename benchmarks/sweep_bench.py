"""Sweep benchmark on instances/us-states-2020 (issue 5; results in BENCHMARKS.md).

Three ways to solve the same lives-only variants (no tie-break, no price of fairness):

  sweep   optimiser.sweeps.run_sweep, fast path: the model is built once per worker and each
          variant changes bounds and costs in HiGHS (the product's path, all overheads in:
          variant table, validation, lives per region, result tables)
  rebuild the same variants with the model rebuilt for every variant (mode="rebuild":
          optimiser.solve on the modified instance, lives only)
  direct  the floor: the same lives-only model built directly in highspy once (numpy ->
          HighsLp), each variant's numbers computed in numpy and changed in place, then run()

and a 10,000-variant sweep on all cores (local processes), wall time.

Two designs, each a seeded random sample (every variant changes the supply row, the floors
and the objective):

  policy       supply (500..5000), per_capita_floor.share (0..0.5), survival_with* (0.8..1.2,
               every state), los_days*@NY (0.8..1.2). Whole-number data: HiGHS's presolve
               solves most variants outright (well under a millisecond).
  uncertainty  the same plus peak_demand*@NY (0.7..1.3): a fractional excess demand, so
               HiGHS runs its branch-and-bound machinery (about 10 ms per solve, in both the
               sweep and the direct model: the floor itself is slower).

    .venv/bin/python benchmarks/sweep_bench.py [--variants 2000] [--rebuild 60] [--big 10000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import highspy
import numpy as np
import pandas as pd

import optimiser
from optimiser.solver import solver_versions
from optimiser.sweeps import run_sweep

REPO = Path(__file__).resolve().parents[1]
INSTANCE = REPO / "instances" / "us-states-2020"
DESIGNS = {
    "policy": [
        "supply=500:5000",
        "per_capita_floor.share=0:0.5",
        "survival_with*=0.8:1.2",
        "los_days*=0.8:1.2@NY",
    ],
    "uncertainty": [
        "supply=500:5000",
        "per_capita_floor.share=0:0.5",
        "survival_with*=0.8:1.2",
        "los_days*=0.8:1.2@NY",
        "peak_demand*=0.7:1.3@NY",
    ],
}
ROUNDING_GUARD = 1e-9


def design(name: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "supply": rng.integers(500, 5001, size=n),
            "per_capita_floor.share": rng.uniform(0, 0.5, size=n),
            "survival_with*": rng.uniform(0.8, 1.2, size=n),
            "los_days*@NY": rng.uniform(0.8, 1.2, size=n),
        }
    )
    table["peak_demand*@NY"] = rng.uniform(0.7, 1.3, size=n) if name == "uncertainty" else 1.0
    return table


class DirectSweep:
    """The lives-only model in highspy: x_r integer in [floor_r, cap_r], u_r in [0, E_r],
    u_r - x_r <= 0, sum_r x_r <= S, maximise sum_r g_r t_r u_r."""

    def __init__(self, instance: optimiser.Instance) -> None:
        r = instance.regions
        self.regions = list(r.index)
        self.ny = self.regions.index("NY")
        self.pop = r["population"].to_numpy(float)
        self.cap_existing = r["capacity"].to_numpy(float)
        self.peak = r["peak_demand"].to_numpy(float)
        self.sw = r["survival_with"].to_numpy(float)
        self.swo = r["survival_without"].to_numpy(float)
        self.los = instance.los.to_numpy(float)
        self.horizon = instance.horizon
        self.staff = instance.staff_cap.to_numpy(float)
        n = self.n = len(self.regions)
        h = self.h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("mip_rel_gap", 1e-6)
        h.setOptionValue("mip_abs_gap", 1e-7)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 2 * n, n + 1
        lp.col_cost_ = np.zeros(2 * n)
        lp.col_lower_ = np.zeros(2 * n)
        lp.col_upper_ = np.concatenate([self.staff, np.maximum(self.peak - self.cap_existing, 0)])
        lp.row_lower_ = np.full(n + 1, -math.inf)
        lp.row_upper_ = np.concatenate([[float(instance.supply)], np.zeros(n)])
        starts, index, value = [0], [], []
        index += list(range(n))
        value += [1.0] * n
        starts.append(len(index))
        for i in range(n):
            index += [n + i, i]
            value += [1.0, -1.0]
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [
            highspy.HighsVarType.kContinuous
        ] * n
        lp.sense_ = highspy.ObjSense.kMaximize
        h.passModel(lp)
        self.x = np.arange(n, dtype=np.int32)
        self.u = np.arange(n, 2 * n, dtype=np.int32)

    def solve(
        self, supply: int, share: float, sw_factor: float, los_ny: float, peak_ny: float
    ) -> float | None:
        peak = self.peak.copy()
        peak[self.ny] *= peak_ny
        los = self.los.copy()
        los[self.ny] *= los_ny
        excess = np.maximum(peak - self.cap_existing, 0.0)
        value = (self.sw * sw_factor - self.swo) * (self.horizon / los)
        floors = np.minimum(
            np.floor(share * supply * self.pop / self.pop.sum() + ROUNDING_GUARD), self.staff
        )
        h = self.h
        h.changeRowBounds(0, -math.inf, float(supply))
        h.changeColsBounds(self.n, self.x, floors, self.staff)
        h.changeColsBounds(self.n, self.u, np.zeros(self.n), excess)
        h.changeColsCost(self.n, self.u, value)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        units = np.rint(np.asarray(h.getSolution().col_value)[: self.n])
        return float((value * np.minimum(units, excess)).sum())


def time_direct(
    instance: optimiser.Instance, table: pd.DataFrame
) -> tuple[float, list[float | None]]:
    model = DirectSweep(instance)
    out = []
    t0 = time.perf_counter()
    for row in table.itertuples(index=False):
        out.append(
            model.solve(int(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4]))
        )
    return time.perf_counter() - t0, out


def time_sweep(
    instance: optimiser.Instance, name: str, table: pd.DataFrame, mode: str
) -> tuple[float, pd.DataFrame]:
    columns = [c for c in table.columns if name == "uncertainty" or c != "peak_demand*@NY"]
    t0 = time.perf_counter()
    result = run_sweep(
        instance,
        DESIGNS[name],
        design=table[columns],
        default_constraints=False,
        mode=mode,
        workers=1,
    )
    return time.perf_counter() - t0, result.variants


def compare(
    instance: optimiser.Instance, name: str, n: int, n_rebuild: int, repeats: int
) -> dict[str, object]:
    """Per-core cost of the sweep, direct and rebuild paths on the same variants (one process)."""
    table = design(name, n, seed=1)
    time_sweep(instance, name, table.head(20), "fast")  # warm-up: imports, first build
    time_direct(instance, table.head(20))
    sweep_s, direct_s = [], []
    for _ in range(repeats):
        seconds, fast = time_sweep(instance, name, table, "fast")
        sweep_s.append(seconds)
        seconds, direct = time_direct(instance, table)
        direct_s.append(seconds)
    lives_fast = fast["lives_saved"].to_numpy()
    lives_direct = np.array([np.nan if v is None else v for v in direct])
    subset = table.head(n_rebuild)
    rebuild_seconds, slow = time_sweep(instance, name, subset, "rebuild")
    per_variant = {
        "sweep_ms": 1000 * statistics.median(sweep_s) / len(table),
        "direct_ms": 1000 * statistics.median(direct_s) / len(table),
        "rebuild_ms": 1000 * rebuild_seconds / len(subset),
    }
    return {
        "variants": len(table),
        "rebuild_variants": len(subset),
        "statuses": fast["status"].value_counts().to_dict(),
        "per_variant_ms": per_variant,
        "variants_per_second_per_core": {
            k.removesuffix("_ms"): 1000 / v for k, v in per_variant.items()
        },
        "highs_run_ms_median": 1000 * float(fast["seconds"].median()),
        "ratio_sweep_to_direct": per_variant["sweep_ms"] / per_variant["direct_ms"],
        "speedup_vs_rebuild": per_variant["rebuild_ms"] / per_variant["sweep_ms"],
        "lives_agree_with_direct": bool(
            np.allclose(lives_fast, lives_direct, rtol=2e-6, equal_nan=True)
        ),
        "lives_agree_with_rebuild": bool(
            np.allclose(slow["lives_saved"], lives_fast[: len(subset)], rtol=2e-6, equal_nan=True)
        ),
    }


def big_sweep(instance: optimiser.Instance, name: str, n: int) -> dict[str, object]:
    """n sampled variants on every core (local processes, the default executor), wall time."""
    t0 = time.perf_counter()
    result = run_sweep(
        instance,
        DESIGNS[name],
        samples=n,
        seed=0,
        default_constraints=False,
        workers=os.cpu_count(),
    )
    wall = time.perf_counter() - t0
    return {
        "design": name,
        "variants": len(result.variants),
        "workers": os.cpu_count(),
        "wall_seconds": wall,
        "variants_per_second": len(result.variants) / wall,
        "statuses": result.variants["status"].value_counts().to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants", type=int, default=2000, help="variants for the per-core comparison"
    )
    parser.add_argument(
        "--rebuild", type=int, default=60, help="variants for the rebuild path (slow)"
    )
    parser.add_argument(
        "--big", type=int, default=10_000, help="variants of the all-cores sweeps (0: skip)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--designs", default="policy,uncertainty")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    instance = optimiser.load_instance(INSTANCE)
    names = [n for n in args.designs.split(",") if n]
    report: dict[str, object] = {"instance": instance.name, "load_1min_before": os.getloadavg()[0]}
    for name in names:
        report[name] = compare(instance, name, args.variants, args.rebuild, args.repeats)
    if args.big:
        report["big_sweeps"] = [big_sweep(instance, name, args.big) for name in names]
    versions = solver_versions()
    report["versions"] = {
        "python": platform.python_version(),
        "highs": versions["highs"],
        "highspy": versions["highspy"],
        "pyomo": versions["pyomo"],
        "engine": optimiser.__version__,
    }
    report["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_1min_after": os.getloadavg()[0],
    }
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
