"""Sweep benchmark on instances/us-states-2020 (issue 5; results in BENCHMARKS.md).

Four ways to solve the same lives-only variants (no tie-break, no price of fairness):

  sweep   optimiser.sweeps.run_sweep as shipped: these variants (floors at most, lives only)
          go to the exact greedy (path "greedy": a separable concave integer knapsack, no
          HiGHS); every overhead is in (variant table, validation, model numbers, lives per
          region, result tables)
  highs   the same with greedy=False (--no-greedy): the model is built once per worker and
          each variant changes bounds and costs in HiGHS and re-solves (path "fast")
  rebuild the same variants with the model rebuilt for every variant (mode="rebuild":
          optimiser.solve on the modified instance, lives only)
  direct  the floor: the same lives-only model built directly in highspy once (numpy ->
          HighsLp), each variant's numbers computed in numpy and changed in place, then run()

and 10,000-variant sweeps on all cores (local processes): in memory (run_sweep), through the
CLI path that writes Parquet and CSV (`triage sweep --samples 10000 --out DIR`, a fresh
process, wall time including start-up), and, with --big-highs, the HiGHS path in memory.

Two designs, each a seeded random sample (every variant changes the supply row, the floors
and the objective):

  policy       supply (500..5000), per_capita_floor.share (0..0.5), survival_with* (0.8..1.2,
               every state), los_days*@NY (0.8..1.2). Whole-number data: HiGHS's presolve
               solves most variants outright (well under a millisecond).
  uncertainty  the same plus peak_demand*@NY (0.7..1.3): a fractional excess demand, so
               HiGHS runs its branch-and-bound machinery (about 10 ms per solve, in both the
               HiGHS path and the direct model: the floor itself is slower). The greedy does
               not care.

    .venv/bin/python benchmarks/sweep_bench.py [--variants 2000] [--rebuild 60] [--big 10000]
        [--big-highs] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
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
    instance: optimiser.Instance, name: str, table: pd.DataFrame, mode: str, greedy: bool = True
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
        greedy=greedy,
    )
    return time.perf_counter() - t0, result.variants


def compare(
    instance: optimiser.Instance, name: str, n: int, n_rebuild: int, repeats: int
) -> dict[str, object]:
    """Per-core cost of the greedy sweep, the HiGHS sweep, direct and rebuild paths on the same
    variants (one process; the three fast ones interleaved in each round)."""
    table = design(name, n, seed=1)
    time_sweep(instance, name, table.head(20), "fast")  # warm-up: imports, first build
    time_sweep(instance, name, table.head(20), "fast", greedy=False)
    time_direct(instance, table.head(20))
    sweep_s, highs_s, direct_s = [], [], []
    for _ in range(repeats):
        seconds, fast = time_sweep(instance, name, table, "fast")
        sweep_s.append(seconds)
        seconds, highs = time_sweep(instance, name, table, "fast", greedy=False)
        highs_s.append(seconds)
        seconds, direct = time_direct(instance, table)
        direct_s.append(seconds)
    lives_fast = fast["lives_saved"].to_numpy()
    lives_highs = highs["lives_saved"].to_numpy()
    lives_direct = np.array([np.nan if v is None else v for v in direct])
    subset = table.head(n_rebuild)
    rebuild_seconds, slow = time_sweep(instance, name, subset, "rebuild")
    per_variant = {
        "sweep_ms": 1000 * statistics.median(sweep_s) / len(table),
        "highs_ms": 1000 * statistics.median(highs_s) / len(table),
        "direct_ms": 1000 * statistics.median(direct_s) / len(table),
        "rebuild_ms": 1000 * rebuild_seconds / len(subset),
    }
    return {
        "variants": len(table),
        "rebuild_variants": len(subset),
        "paths": fast["path"].value_counts().to_dict(),
        "statuses": fast["status"].value_counts().to_dict(),
        "per_variant_ms": per_variant,
        "variants_per_second_per_core": {
            k.removesuffix("_ms"): 1000 / v for k, v in per_variant.items()
        },
        "greedy_ms_median": 1000 * float(fast["seconds"].median()),
        "highs_run_ms_median": 1000 * float(highs["seconds"].median()),
        "ratio_sweep_to_direct": per_variant["sweep_ms"] / per_variant["direct_ms"],
        "ratio_highs_to_direct": per_variant["highs_ms"] / per_variant["direct_ms"],
        "speedup_vs_rebuild": per_variant["rebuild_ms"] / per_variant["sweep_ms"],
        "highs_speedup_vs_rebuild": per_variant["rebuild_ms"] / per_variant["highs_ms"],
        # the greedy is exact; HiGHS stops within its MIP gap (1e-6 relative): never above it
        "lives_agree_with_direct": bool(
            np.allclose(lives_fast, lives_direct, rtol=2e-6, equal_nan=True)
        ),
        "lives_agree_with_highs": bool(
            np.allclose(lives_fast, lives_highs, rtol=2e-6, equal_nan=True)
        ),
        "greedy_never_below_highs": bool(
            (lives_fast >= lives_highs - 2e-6 * np.abs(lives_highs)).all()
        ),
        "lives_agree_with_rebuild": bool(
            np.allclose(slow["lives_saved"], lives_fast[: len(subset)], rtol=2e-6, equal_nan=True)
        ),
    }


def big_sweep(
    instance: optimiser.Instance, name: str, n: int, greedy: bool = True
) -> dict[str, object]:
    """n sampled variants on every core (local processes, the default executor), in memory."""
    t0 = time.perf_counter()
    result = run_sweep(
        instance,
        DESIGNS[name],
        samples=n,
        seed=0,
        default_constraints=False,
        workers=os.cpu_count(),
        greedy=greedy,
    )
    wall = time.perf_counter() - t0
    return {
        "design": name,
        "path": "greedy" if greedy else "highs",
        "variants": len(result.variants),
        "workers": os.cpu_count(),
        "wall_seconds": wall,
        "variants_per_second": len(result.variants) / wall,
        "statuses": result.variants["status"].value_counts().to_dict(),
        "paths": result.variants["path"].value_counts().to_dict(),
    }


def cli_sweep(name: str, n: int) -> dict[str, object]:
    """`triage sweep --samples n --out DIR` in a fresh process (all cores): wall time including
    start-up and writing variants/regions .parquet and .csv (regions: n x 50 rows)."""
    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    out = folder / "out"
    args = [sys.executable, "-m", "optimiser", "sweep", str(INSTANCE), "--no-progress", "--json"]
    args += ["--no-default-constraints", "--samples", str(n), "--seed", "0", "--out", str(out)]
    for text in DESIGNS[name]:
        args += ["--vary", text]
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    try:
        if proc.returncode != 0:
            raise RuntimeError(f"triage sweep failed: {proc.stderr}")
        manifest = json.loads(proc.stdout)
        sizes = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "design": name,
        "variants": manifest["variants"],
        "wall_seconds": wall,
        "solve_seconds": manifest.get("seconds_last_run"),
        "variants_per_second": manifest["variants"] / wall,
        "counts": manifest.get("counts"),
        "bytes_written": sizes,
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
    parser.add_argument(
        "--big-highs", action="store_true", help="also the all-cores sweeps on the HiGHS path"
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI (Parquet/CSV) runs")
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
        if not args.no_cli:
            report["cli_sweeps"] = [cli_sweep(name, args.big) for name in names]
        if args.big_highs:
            report["big_sweeps_highs"] = [
                big_sweep(instance, name, args.big, greedy=False) for name in names
            ]
    versions = solver_versions()
    report["versions"] = {
        "numpy": np.__version__,
        "pandas": pd.__version__,
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
