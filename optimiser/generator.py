"""A seeded generator of synthetic single-period instances of any size (instance.toml and
regions.csv), for benchmarks and tests at national scale (optimiser/multiperiod/generator.py
makes multi-period ones).

Populations are log-normal (median about 730,000); equipped beds 5 to 15 per 100,000 people;
peak demand 0.4 to 2.2 times the beds, so about two regions in three are short; survival 0.40 to
0.70 with the resource and 0 to 0.10 without (two decimals, so many regions tie); lengths of
stay 6 to 12 days (one decimal) over a 30-day horizon; staff caps 0.5 to 1.5 times the beds;
pressure = min(1, beds / peak). The supply is half the total excess demand. Same seed, same
files.

    .venv/bin/python -m optimiser.generator OUT_DIR --regions 100000 [--seed 1]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RegionalSpec:
    regions: int = 100
    seed: int = 0
    supply_share: float = 0.5  # supply as a share of the total excess demand
    horizon_days: float = 30.0


def regional_frame(spec: RegionalSpec) -> tuple[pd.DataFrame, int]:
    """The regions.csv table and the supply."""
    if spec.regions < 1:
        raise ValueError("need at least 1 region")
    rng = np.random.default_rng(spec.seed)
    n = spec.regions
    width = max(3, len(str(n)))
    population = np.round(np.exp(rng.normal(13.5, 0.8, size=n))).astype(np.int64) + 1000
    capacity = np.maximum(1, np.round(population * rng.uniform(5, 15, size=n) / 1e5)).astype(
        np.int64
    )
    peak = np.round(capacity * rng.uniform(0.4, 2.2, size=n)).astype(np.int64)
    frame = pd.DataFrame(
        {
            "region": [f"R{i:0{width}d}" for i in range(1, n + 1)],
            "population": population,
            "capacity": capacity,
            "peak_demand": peak,
            "survival_with": np.round(rng.uniform(0.4, 0.7, size=n), 2),
            "survival_without": np.round(rng.uniform(0.0, 0.1, size=n), 2),
            "los_days": np.round(rng.uniform(6.0, 12.0, size=n), 1),
            "staff_cap": np.round(capacity * rng.uniform(0.5, 1.5, size=n)).astype(np.int64),
            "pressure": np.round(np.minimum(1.0, capacity / np.maximum(peak, 1)), 4),
        }
    )
    excess = np.maximum(peak - capacity, 0).sum()
    return frame, round(float(spec.supply_share * excess))


def generate_regional(spec: RegionalSpec, folder: str | Path) -> Path:
    """Write the instance into `folder` (created); returns the folder."""
    frame, supply = regional_frame(spec)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "regions.csv", index=False)
    (folder / "instance.toml").write_text(
        f'name = "synthetic-{spec.regions}-seed{spec.seed}"\n'
        f'description = "Synthetic single-period instance: {spec.regions} regions, seed '
        f'{spec.seed} (optimiser/generator.py)."\n'
        'source = "optimiser/generator.py (synthetic, no real data)"\n'
        'resource = "ventilator"\n'
        f"supply = {supply}\n"
        f"horizon_days = {spec.horizon_days:g}\n",
        encoding="utf-8",
    )
    return folder


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--regions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(generate_regional(RegionalSpec(regions=args.regions, seed=args.seed), args.out))


if __name__ == "__main__":
    main()
