"""A seeded generator of synthetic national instances of any size (regions x days, depots,
neighbours), written in the instance folder format. Used by tests and benchmarks.

Regions sit at random points of a 1,000 x 1,000 km square; an epidemic wave starts at a
random point and reaches each region later the farther it is (peak day = start + distance /
speed + noise), so peaks move across the country. Each region's census is a bell curve whose
peak is 0.4 to 2.2 times its capacity. Depots receive weekly tranches over the first 60% of
the horizon, in total about 60% of the excess at peak. Lead times grow with distance:
1 + floor(km / 400) from a depot, 1 + floor(km / 300) between regions.
Same seed, same files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GeneratorSpec:
    regions: int = 10
    days: int = 30
    depots: int = 1
    neighbours: int | None = None  # transfer lanes from each region's k nearest (None: all pairs)
    transfers: bool = True
    seed: int = 0
    demand_kind: str = "census"
    max_wait_days: int = 0
    patient_transfers: bool = False
    supply_share: float = 0.6  # deliveries as a share of the total excess at peak
    staff_caps: bool = True


def generate(spec: GeneratorSpec, folder: str | Path) -> Path:
    """Write a synthetic instance into `folder` (created); returns the folder."""
    if spec.regions < 1 or spec.days < 2 or spec.depots < 1:
        raise ValueError("need at least 1 region, 2 days and 1 depot")
    rng = np.random.default_rng(spec.seed)
    n, T, K = spec.regions, spec.days, spec.depots
    width = max(3, len(str(n)))
    ids = [f"R{i:0{width}d}" for i in range(1, n + 1)]
    xy = rng.uniform(0.0, 1000.0, size=(n, 2))
    population = np.round(np.exp(rng.normal(13.5, 0.8, size=n))).astype(np.int64) + 1000
    capacity = np.maximum(1, np.round(population * rng.uniform(5, 15, size=n) / 1e5)).astype(
        np.int64
    )
    los = np.round(rng.uniform(6.0, 12.0, size=n), 1)
    survival_with = np.round(rng.uniform(0.4, 0.7, size=n), 2)
    survival_without = np.round(rng.uniform(0.0, 0.1, size=n), 2)
    staff_cap = np.round(capacity * rng.uniform(0.5, 1.5, size=n)).astype(np.int64)

    origin = rng.uniform(0.0, 1000.0, size=2)
    dist = np.hypot(*(xy - origin).T)
    start = rng.uniform(0.1, 0.3) * T
    speed = max(dist.max(), 1.0) / (0.5 * T)
    peak_day = start + dist / speed + rng.normal(0.0, 0.03 * T, size=n)
    spread = rng.uniform(0.08, 0.15, size=n) * T
    peak = capacity * rng.uniform(0.4, 2.2, size=n)
    days = np.arange(T)
    census = np.round(
        peak[:, None] * np.exp(-0.5 * ((days[None, :] - peak_day[:, None]) / spread[:, None]) ** 2)
    )
    census = census.astype(np.int64)
    peak_demand = census.max(axis=1)
    if spec.demand_kind == "new_patients":
        values = np.round(census / np.maximum(los, 1.0)[:, None] * 1.0, 2)
        column = "new_patients"
    else:
        values, column = census, "census"

    depots = [f"D{k + 1}" for k in range(K)]
    depot_xy = rng.uniform(0.0, 1000.0, size=(K, 2))
    excess = float(np.maximum(peak_demand - capacity, 0).sum())
    total = round(spec.supply_share * excess)
    tranche_days = list(range(0, max(1, int(0.6 * T)), 7)) or [0]
    deliveries = []
    per = _split(total, len(tranche_days) * K)
    i = 0
    for d in tranche_days:
        for k in range(K):
            deliveries.append((d, per[i], depots[k]))
            i += 1

    lead_rows = []
    for k in range(K):
        km = np.hypot(*(xy - depot_xy[k]).T)
        for r in range(n):
            lead_rows.append((depots[k], ids[r], 1 + int(km[r] // 400)))
    if spec.transfers and n > 1:
        pair = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        for r in range(n):
            order = np.argsort(pair[:, r], kind="stable")
            donors = [q for q in order if q != r]
            if spec.neighbours is not None:
                donors = donors[: spec.neighbours]
            for q in sorted(donors):
                lead_rows.append((ids[q], ids[r], 1 + int(pair[q, r] // 300)))

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    regions = pd.DataFrame(
        {
            "region": ids,
            "population": population,
            "capacity": capacity,
            "peak_demand": peak_demand,
            "survival_with": survival_with,
            "survival_without": survival_without,
            "los_days": los,
        }
    )
    if spec.staff_caps:
        regions["staff_cap"] = staff_cap
    regions.to_csv(folder / "regions.csv", index=False, lineterminator="\n")
    demand = pd.DataFrame(
        {"region": np.repeat(ids, T), "day": np.tile(days, n), column: values.ravel()}
    )
    demand.to_csv(folder / "demand.csv", index=False, lineterminator="\n")
    pd.DataFrame(deliveries, columns=["day", "quantity", "depot"]).to_csv(
        folder / "deliveries.csv", index=False, lineterminator="\n"
    )
    pd.DataFrame(lead_rows, columns=["from", "to", "days"]).to_csv(
        folder / "lead_times.csv", index=False, lineterminator="\n"
    )
    toml = [
        f'name = "synthetic-{n}x{T}-s{spec.seed}"',
        f'description = "Synthetic national instance: {n} regions, {T} days, {K} depot(s), '
        f'seed {spec.seed} (optimiser.multiperiod.generator)."',
        'source = "synthetic"',
        'resource = "ventilator"',
        "supply = 0",
        "",
        "[multiperiod]",
        f"days = {T}",
        f'demand_kind = "{spec.demand_kind}"',
        "default_lead_time_days = 1",
        "depots = [" + ", ".join(f'"{k}"' for k in depots) + "]",
        f"transfers = {'true' if spec.transfers else 'false'}",
        f"max_wait_days = {spec.max_wait_days}",
        f"patient_transfers = {'true' if spec.patient_transfers else 'false'}",
        f"total_delivered = {total}",
    ]
    (folder / "instance.toml").write_text("\n".join(toml) + "\n")
    return folder


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` whole numbers differing by at most one."""
    base = total // parts
    extra = total - base * parts
    return [base + (1 if i < extra else 0) for i in range(parts)]


def lanes_per_region(neighbours: int | None, regions: int) -> int:
    return regions - 1 if neighbours is None else min(neighbours, regions - 1)


__all__ = ["GeneratorSpec", "generate", "lanes_per_region", "math"]
