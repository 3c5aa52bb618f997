"""Synthetic instances shared by tests (imported as a module: the tests folder is on sys.path)."""

from __future__ import annotations

from typing import Any


def threshold_instance(n: int, seed: int = 1) -> dict[str, Any]:
    """A synthetic instance whose threshold rule makes a real MIP (about 1 s at n=20)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pop = rng.integers(100_000, 5_000_000, n)
    cap = rng.integers(10, 500, n)
    peak = cap + rng.integers(0, 800, n)
    regions = [
        {"region": f"R{i}", "population": int(pop[i]), "capacity": int(cap[i]),
         "peak_demand": int(peak[i]), "survival_with": round(float(s), 3),
         "survival_without": 0.05, "los_days": round(float(los), 1)}
        for i, (s, los) in enumerate(zip(rng.uniform(0.4, 0.9, n), rng.uniform(5, 15, n),
                                         strict=True))
    ]
    return {
        "name": f"threshold-{n}",
        "supply": int((peak - cap).sum() * 0.5),
        "regions": regions,
        "constraints": [{"kind": "threshold", "tau": 100}],
        "options": {"price_of_fairness": False},
    }
