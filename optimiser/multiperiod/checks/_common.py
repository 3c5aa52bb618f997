"""What the checkers share: the instance's numbers by their docs' names, and the floor check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimiser.multiperiod.checks import FairnessSpec
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.simulate import TOL, Simulation, Violation

FLOOR_EPS = 1e-9  # floor()/ceil() guard, as in the definitions (docs/model.md)
MAX_LISTED = 10  # regions listed per fairness constraint


@dataclass(frozen=True)
class Numbers:
    """regions.csv values as the definitions name them: pop_r, c_r (capacity on day 0), P_r
    (peak demand), E_r = max(0, P_r - c_r), cap_r (staff cap), RAI_r; S = every unit delivered
    over the horizon."""

    pop: np.ndarray
    c: np.ndarray
    P: np.ndarray
    E: np.ndarray
    cap: np.ndarray
    rai: np.ndarray
    S: float

    @classmethod
    def of(cls, instance: MultiPeriodInstance) -> Numbers:
        regions = instance.base.regions
        c = regions["capacity"].to_numpy(dtype=float)
        P = regions["peak_demand"].to_numpy(dtype=float)
        return cls(
            pop=regions["population"].to_numpy(dtype=float),
            c=c,
            P=P,
            E=np.maximum(P - c, 0.0),
            cap=instance.base.staff_cap.to_numpy(dtype=float),
            rai=instance.base.rai.to_numpy(dtype=float),
            S=float(round(float(instance.deliveries.to_numpy(dtype=float).sum()))),
        )


def check_floors(
    instance: MultiPeriodInstance,
    sim: Simulation,
    spec: FairnessSpec,
    floors: Callable[[Numbers, dict], np.ndarray],
) -> list[Violation]:
    """A floor kind's check from its definition `floors(numbers, params)`: X_r >= f_r where
    f_r > 0, f_r clipped at the staff cap (a region with f_r <= 0 has no floor: it may give
    units away)."""
    f = required(instance, floors, spec)
    return floor_violations(instance, sim.net_received, f, str(spec.label))


def required(
    instance: MultiPeriodInstance, floors: Callable[[Numbers, dict], np.ndarray], spec: FairnessSpec
) -> np.ndarray:
    """f_r of a floor kind, clipped at the staff cap."""
    numbers = Numbers.of(instance)
    return np.minimum(floors(numbers, dict(spec.options)), numbers.cap)


def floor_violations(
    instance: MultiPeriodInstance, received: np.ndarray, floors: np.ndarray, label: str
) -> list[Violation]:
    regions = list(instance.regions)
    last = instance.days - 1
    out: list[Violation] = []
    short = np.nonzero((floors > 0) & (received < floors - TOL))[0]
    for r in short[:MAX_LISTED]:
        out.append(
            Violation(
                "fairness",
                last,
                f"{label}: {regions[r]} receives {received[r]:g} units net by the last day, "
                f"floor {floors[r]:g}",
            )
        )
    if len(short) > MAX_LISTED:
        out.append(
            Violation(
                "fairness",
                last,
                f"{label}: {len(short) - MAX_LISTED} more region(s) below their floor",
            )
        )
    return out


def share_of(numbers: Numbers, share: float, weights: np.ndarray) -> np.ndarray:
    """floor(share S w_r / sum w): a share of every unit delivered, in proportion to w."""
    total = float(weights.sum())
    if total <= 0:
        return np.zeros(len(weights))
    return np.floor(share * numbers.S * weights / total + FLOOR_EPS)
