"""Helpers for the scenario tests (imported as a module: the tests folder is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.multiperiod import GeneratorSpec, MultiPeriodInstance, generate, load_multiperiod

ROOT = Path(__file__).resolve().parents[1]


def small_instance(folder: Path, *, regions: int = 4, days: int = 10, seed: int = 5) -> Path:
    """A seeded synthetic multi-period instance folder (census demand)."""
    return generate(GeneratorSpec(regions=regions, days=days, depots=1, seed=seed), folder)


def long_frame(
    instance: MultiPeriodInstance, cube: np.ndarray, ids: list[str] | None = None
) -> pd.DataFrame:
    """scenarios.csv rows for an array scenarios x regions x days."""
    S, n, T = cube.shape
    names = ids or [f"s{i + 1}" for i in range(S)]
    rows = [
        (names[s], instance.regions[r], d, float(cube[s, r, d]))
        for s in range(S)
        for r in range(n)
        for d in range(T)
    ]
    return pd.DataFrame(rows, columns=["scenario", "region", "day", instance.demand_kind])


def write_set(
    folder: Path,
    instance: MultiPeriodInstance,
    cube: np.ndarray,
    weights: list[float] | None = None,
    ids: list[str] | None = None,
) -> Path:
    """scenarios.csv (and scenario_weights.csv when weights are given) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = long_frame(instance, cube, ids)
    frame.to_csv(folder / "scenarios.csv", index=False)
    if weights is not None:
        names = list(dict.fromkeys(frame["scenario"]))
        pd.DataFrame({"scenario": names, "probability": weights}).to_csv(
            folder / "scenario_weights.csv", index=False
        )
    return folder


def scaled(instance: MultiPeriodInstance, factors: list[float]) -> np.ndarray:
    """Scenarios that scale the instance's demand by each factor."""
    base = instance.demand.to_numpy(dtype=float)
    return np.stack([np.round(base * f, 4) for f in factors])


def load(folder: Path) -> MultiPeriodInstance:
    return load_multiperiod(folder)
