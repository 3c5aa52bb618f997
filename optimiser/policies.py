"""Baseline allocation rules, scored by the same lives function as the optimiser.

Rules give whole units by largest remainder (Hamilton) and respect staff caps: what a capped
region cannot take is re-apportioned among the others, in proportion to their weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.regional import RegionalData
from optimiser.errors import InputError, Problem, option_problem


def hamilton(total: int, weights: np.ndarray, caps: np.ndarray | None = None) -> np.ndarray:
    """Apportion `total` whole units in proportion to `weights` by largest remainder.

    Ties in the remainder go to the larger weight, then to the earlier region. With `caps`,
    regions whose quota exceeds their cap are fixed at the cap and the rest is re-apportioned.
    Units that no region can take (all capped or all weights zero) are left unallocated.
    """
    weights = np.asarray(weights, dtype=float)
    n = len(weights)
    caps = np.full(n, np.inf) if caps is None else np.asarray(caps, dtype=float)
    units = np.zeros(n, dtype=np.int64)
    free = (weights > 0) & (caps > 0)
    remaining = int(total)
    while remaining > 0 and free.any():
        w = np.where(free, weights, 0.0)
        quota = remaining * w / w.sum()
        over = free & (quota >= caps - units)
        if over.any():
            # fix every over-quota region at its cap, then re-apportion what is left
            take = (caps[over] - units[over]).astype(np.int64)
            units[over] += take
            remaining -= int(take.sum())
            free &= ~over
            continue
        base = np.floor(quota + 1e-12).astype(np.int64)
        left = remaining - int(base.sum())
        remainder = quota - base
        order = sorted(
            np.flatnonzero(free), key=lambda i: (-round(remainder[i], 12), -weights[i], i)
        )
        base[order[:left]] += 1
        units += base
        remaining = 0
    return units


@dataclass(frozen=True)
class Policy:
    name: str
    doc: str
    weights: Callable[[RegionalData], np.ndarray] | None


def _rai_weights(data: RegionalData) -> np.ndarray:
    return np.asarray(data.rai, dtype=float)


POLICIES: dict[str, Policy] = {
    "optimal": Policy(
        "optimal", "integer program: most expected survivors under the active constraints", None
    ),
    "per_capita": Policy(
        "per_capita", "in proportion to population (Table 2)", lambda d: d.population
    ),
    "excess": Policy(
        "excess", "in proportion to excess demand E_r (Table 5)", lambda d: d.excess_demand
    ),
    "excess_per_capita": Policy(
        "excess_per_capita",
        "in proportion to E_r / pop_r (Table 3)",
        lambda d: d.excess_demand / d.population,
    ),
    "rai": Policy(
        "rai",
        "in proportion to the Regional Allocation Index E_r s_r / (relative los_r * pressure_r)",
        _rai_weights,
    ),
    "lottery": Policy("lottery", "each unit to a region drawn uniformly at random (seeded)", None),
}


def check_policy(name: str) -> str:
    if name not in POLICIES:
        raise InputError(
            Problem(
                f"unknown policy {name!r} (known: {', '.join(POLICIES)})",
                column="policy",
                column_word="option",
            )
        )
    return name


MAX_SEED = 2**32 - 1  # the service's bound too (one bound for every path)


def check_seed(seed: object) -> int:
    """The lottery's seed: a whole number in [0, 2^32 - 1]."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(option_problem("seed", f"must be a whole number >= 0, got {seed!r}"))
    if seed > MAX_SEED:
        raise InputError(
            option_problem("seed", f"must be at most {MAX_SEED} (2^32 - 1), got {seed!r}")
        )
    return int(seed)


def rule_allocation(name: str, data: RegionalData, seed: int = 0) -> np.ndarray:
    """Units per region under a baseline rule (not 'optimal')."""
    check_policy(name)
    if name == "lottery":
        return lottery(data, seed)
    policy = POLICIES[name]
    assert policy.weights is not None, name
    return hamilton(data.supply, policy.weights(data), data.staff_cap)


def lottery(data: RegionalData, seed: int = 0) -> np.ndarray:
    """Each unit goes to a region drawn uniformly among those below their staff cap.

    Drawn in rounds, not unit by unit (the same distribution, in time independent of the
    supply): the units still to place are spread uniformly over the open regions by one
    multinomial draw; what lands beyond a staff cap is drawn again among the regions still
    open, as a unit-by-unit lottery would redraw it.
    """
    rng = np.random.default_rng(check_seed(seed))
    n = len(data.regions)
    units = np.zeros(n, dtype=np.int64)
    caps = np.asarray(data.staff_cap, dtype=float)
    remaining = int(data.supply)
    while remaining > 0:
        open_regions = np.flatnonzero(units < caps)
        if len(open_regions) == 0:
            break
        drawn = rng.multinomial(remaining, np.full(len(open_regions), 1.0 / len(open_regions)))
        room = caps[open_regions] - units[open_regions]
        taken = np.minimum(drawn, room).astype(np.int64)
        units[open_regions] += taken
        remaining -= int(taken.sum())
    return units
