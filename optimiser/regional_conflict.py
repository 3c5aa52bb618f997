"""The numbers of a regional conflict (`RegionalEngine.conflict_numbers`): the explanation of an
infeasible set of constraints, with the regions and the units that conflict.

In order: floors alone beyond the supply (`floor_conflict`, also used by the sweeps); the
fewest units the set needs against the supply; a region that the other constraints need to
give more units than a share cap allows it (`cap_conflict`); the staff caps the set cannot be
met within; else the constraints contradict each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.fairness import REGISTRY, ConstraintSpec
from models.fairness.max_share_of_supply import ceiling
from optimiser.engine_protocol import largest_needs
from optimiser.errors import counted
from optimiser.solver import SolveStatus

if TYPE_CHECKING:
    from models.regional import RegionalData
    from optimiser.regional_engine import RegionalEngine

INTEGRALITY_TOLERANCE = 1e-6  # a bound within this of a whole number is that number (as HiGHS)
SHARE_CAPS = ("max_share_of_supply",)  # constraints that cap every region's units
MAX_NAMED = 3  # regions named in a cap conflict (each needs its own solve)


def floor_bounds(data: RegionalData, specs: Sequence[ConstraintSpec]) -> np.ndarray:
    """Lower bounds of x_r: max over the floor constraints of min(floor_r, cap_r)."""
    lower = np.zeros(len(data.regions))
    for spec in specs:
        fn = REGISTRY[spec.kind].floors
        if fn is not None:
            lower = np.maximum(lower, np.minimum(fn(data, spec.options), data.staff_cap))
    return lower


def floor_conflict(
    data: RegionalData, floor_specs: Sequence[ConstraintSpec], lower: np.ndarray
) -> str:
    """The explanation when the floors alone exceed the supply ('' when they do not).
    Units are whole: a fractional floor (a fractional capacity) needs its next whole unit."""
    lower = np.ceil(np.asarray(lower, dtype=float) - INTEGRALITY_TOLERANCE)
    need = int(lower.sum())
    if need <= data.supply or not floor_specs:
        return ""
    labels = " and ".join(s.label for s in floor_specs)
    verb = "needs" if len(floor_specs) == 1 else "together need"
    return (
        f"infeasible: {labels} {verb} {counted(need, 'unit')} "
        f"({largest_needs(data.regions, lower)}), but supply is {data.supply:,}"
    )


def cap_conflict(engine: RegionalEngine, core: Sequence[ConstraintSpec]) -> str:
    """The regions that the constraints of `core` other than its share caps need to give more
    units than the tightest cap allows one region ('' when there is none). Each region named
    is proved: the fewest units it can get under those constraints (supply unlimited, staff
    caps kept) is above the cap. Only the regions above the cap in the allocation with the
    fewest units can be (a region's least is at most what it gets there)."""
    caps = [c for c in core if c.kind in SHARE_CAPS]
    rest = [c for c in core if c.kind not in SHARE_CAPS]
    if not caps or not rest:
        return ""
    data = engine.data
    tightest = min(caps, key=lambda c: float(c.options["share"]))
    share = float(tightest.options["share"])
    cap = ceiling(share, float(data.supply))
    fewest = engine.least_units(rest)
    if fewest is None:
        return ""
    order = [int(r) for r in np.argsort(-fewest, kind="stable") if fewest[r] > cap]
    named: list[str] = []
    for r in order[:MAX_NAMED]:
        weights = np.zeros(len(data.regions))
        weights[r] = 1.0
        least = engine.least_units(rest, weights=weights)
        if least is not None and least[r] > cap:
            unit = " units" if not named else ""
            named.append(f"{int(least[r]):,}{unit} in {data.regions[r]}")
    if not named:
        return ""
    labels = " and ".join(c.label for c in rest)
    verb = "needs" if len(rest) == 1 else "together need"
    listing = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    left = len(order) - len(order[:MAX_NAMED])
    more = f" (and {left} more region{'s' if left > 1 else ''})" if left else ""
    return (
        f"infeasible: {labels} {verb} at least {listing}{more}, but "
        f"{tightest.label} allows a region at most {counted(int(cap), 'unit')} ({share:g} of the "
        f"supply of {data.supply:,})"
    )


def conflict_numbers(engine: RegionalEngine, core: Sequence[ConstraintSpec]) -> str:
    """The numbers of an infeasible set `core`: what the floors need against the supply, the
    fewest units the set needs, the regions a share cap cannot give what the others need, or
    the staff caps it cannot be met within."""
    data = engine.data
    labels = " and ".join(c.label for c in core)
    floors = [c for c in core if REGISTRY[c.kind].floors is not None]
    if floors and len(floors) == len(core):
        text = floor_conflict(data, floors, floor_bounds(data, floors))
        if text:
            return text
    least = engine.units_needed(core)
    if least is not None:
        verb = "needs" if len(core) == 1 else "together need"
        return (
            f"infeasible: {labels} {verb} at least {counted(least, 'unit')}, but supply is "
            f"{data.supply:,}"
        )
    text = cap_conflict(engine, core)
    if text:
        return text
    uncapped = engine.least_units(core, staff_caps=False)
    if uncapped is not None:
        over = [
            f"{r} would need {counted(int(u), 'unit')} but can staff {int(c):,}"
            for r, u, c in zip(data.regions, uncapped, data.staff_cap, strict=True)
            if u > c
        ]
        return (
            f"infeasible: {labels} cannot be met within the staff caps whatever the supply: "
            + "; ".join(over[:6])
            + (" ..." if len(over) > 6 else "")
        )
    if getattr(engine, "least_units_status", None) is SolveStatus.TIME_LIMIT:
        return (
            f"infeasible: {labels} conflict (the time limit ran out before the units they "
            "need could be counted)"
        )
    return f"infeasible: {labels} contradict each other, whatever the supply and staff caps"
