"""What check-plan's replay found (optimiser/multiperiod/simulate.py): the `Simulation` and its
`Violation`s, and the check made on the finished replay, `idle_while_waiting`; and what the
replay reads from the plan before it starts (`planned_on_hand`, `incoming_after`). No model
code here either (docs/multiperiod.md, "check-plan")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import counted
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import records

TOL = 1e-6  # patients and units are compared with this slack (plans carry rounded floats)
FLOOR_EPS = 1e-9  # floor()/ceil() guard, as in the definitions (docs/model.md)


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name, the day, the plan line (when one row is at fault), a message."""

    rule: str
    day: int
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "day": self.day, "line": self.line, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Violation:
        line = data.get("line")
        return cls(
            rule=str(data["rule"]),
            day=int(data["day"]),
            message=str(data["message"]),
            line=None if line is None else int(line),
        )


@dataclass
class Simulation:
    """What the replay found. Arrays are regions x days."""

    regions: list[str]
    survivors: float
    violations: list[Violation]
    admitted: np.ndarray  # patients of region r admitted (here or, when sent, elsewhere) on day d
    lost: np.ndarray  # patients of region r whose last admission day was d, never admitted
    occupancy: np.ndarray  # patients in treatment in region r on day d
    on_hand: np.ndarray  # units in region r at the end of day d
    need: np.ndarray  # patients of r needing the resource on day d (treated or not)
    treated: np.ndarray  # patients of r in treatment (anywhere) on day d
    survivors_by_region: np.ndarray
    net_received: np.ndarray  # X_r: units received minus units sent by the end of the horizon
    greedy: bool  # admissions chosen by the simulation (the plan had no admit rows)
    # (home region, region treating, day, cohort arrival day, patients) of every admission
    admissions: list[tuple[int, int, int, int, float]] = field(default_factory=list)
    arrived: np.ndarray | None = None  # units arriving in region r on day d (ship, transfer)

    @property
    def shortfall(self) -> np.ndarray:
        """Resource-days of unmet need: max(0, need - treated) per region and day."""
        return np.maximum(self.need - self.treated, 0.0)

    @property
    def ok(self) -> bool:
        return not self.violations


def patients(count: float) -> str:
    """'1 patient', '2 patients', '1.5 patients' (a count of patients, as a plan row gives it)."""
    return f"{count:g} patient" + ("" if count == 1 else "s")


def units_text(count: float) -> str:
    """'1 unit', '2 units', '0.5 units' (a count of units, as a plan row gives it)."""
    return f"{count:g} unit" + ("" if count == 1 else "s")


def free_units_text(free: float) -> str:
    """'1 unit is free', '0 units are free' (fewer than none are none)."""
    free = max(free, 0.0)
    return f"{free:g} unit is free" if free == 1 else f"{free:g} units are free"


def no_free_unit(region: str, day: int, count: float, held: float, free: float) -> str:
    """The message of an admit row with more patients than free units: `count` patients need a
    unit, beside `held` of the row's patients on units since the start (day 0), so that the
    numbers given add up to the row's."""
    units = free_units_text(free)
    if not held:
        return f"admits {patients(count)} in {region} on day {day}, but only {units}"
    need = "needs" if count == 1 else "need"
    return (
        f"admits {patients(count + held)} in {region} on day {day}, {held:g} of them on units "
        f"since the start: {count:g} {need} a free unit, but only {units}"
    )


def windows(first: int | np.ndarray, lengths: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Day indices (clipped to the horizon) of windows starting on `first` (one day or one
    per window) of `lengths` days, and which of them are inside the window and the horizon."""
    offsets = np.arange(int(lengths.max()))
    days = np.asarray(first).reshape(-1, 1) + offsets
    days = np.broadcast_to(days, (len(lengths), len(offsets)))
    valid = (offsets < lengths[:, None]) & (days < T)
    return np.minimum(days, T - 1), valid


def idle_while_waiting(
    regions: Sequence[str],
    unserved: Sequence[tuple[int, int, int, float, int]],
    on_hand: np.ndarray,
    occupancy: np.ndarray,
    staffed: np.ndarray,
) -> list[Violation]:
    """No patient waits, or is turned away, while a staffed unit is free in their region for
    their whole stay (docs/multiperiod.md, "Waiting"): for each patient still waiting at the
    end of day d (admissions done), the units on hand and the staff not used by patients on
    every day of the stay that would start on day d, after the whole plan is replayed. One
    violation per region and cohort, on the first such day."""
    T = on_hand.shape[1]
    out: list[Violation] = []
    if not len(unserved):
        return out
    # every entry's free units at once: min(on_hand, staffed) - occupancy is the smaller of
    # the two differences, exactly (rounding is monotone)
    spare = np.minimum(on_hand, staffed) - occupancy
    days = np.fromiter((u[0] for u in unserved), dtype=np.int64, count=len(unserved))
    where = np.fromiter((u[1] for u in unserved), dtype=np.int64, count=len(unserved))
    stays = np.fromiter((u[4] for u in unserved), dtype=np.int64, count=len(unserved))
    cols, valid = windows(days, stays, T)
    free_all = np.where(valid, spare[where[:, None], cols], np.inf).min(axis=1)
    seen: set[tuple[int, int]] = set()
    for (d, r, e, left, stay), free in zip(unserved, free_all.tolist(), strict=True):
        if (r, e) in seen or not free > 1e-4:
            continue
        seen.add((r, e))
        out.append(
            Violation(
                "idle_while_waiting",
                d,
                f"{regions[r]}: {patients(left)} of cohort day {e} "
                + ("waits (or is" if left == 1 else "wait (or are")
                + f" turned away) on day {d} while {free:g} staffed "
                + ("unit is" if free == 1 else "units are")
                + f" free there for their whole stay ({counted(min(d + stay, T) - d, 'day')})",
            )
        )
    if len(out) > MAX_IDLE_LISTED:
        more = len(out) - MAX_IDLE_LISTED
        out = out[:MAX_IDLE_LISTED]
        out.append(
            Violation(
                "idle_while_waiting",
                out[-1].day,
                f"{more} more region-cohorts wait beside free units",
            )
        )
    return out


MAX_IDLE_LISTED = 20


def incoming_after(rows: list[tuple[int, float, int]], day: int, T: int) -> np.ndarray:
    """Patients in treatment each day (of T) from the patients rows (day moved, patients,
    stay) into one region that move after `day`, summed in the rows' order."""
    out = np.zeros(T)
    for moved, count, stay in rows:
        if moved > day:
            out[moved : moved + stay] += count
    return out


def planned_on_hand(
    instance: MultiPeriodInstance, plan: pd.DataFrame, own: np.ndarray
) -> np.ndarray:
    """Units each region will hold each day if every movement of the plan happens."""
    n, T = own.shape
    rix = {r: i for i, r in enumerate(instance.regions)}
    delta = np.zeros((n, T))
    delta[:, 0] = own[:, 0]
    delta[:, 1:] = own[:, 1:] - own[:, :-1]
    for row in records(plan):
        if row.kind in ("ship", "transfer"):
            delta[rix[row.dst], int(row.arrives)] += float(row.units)
        if row.kind == "transfer":
            delta[rix[row.src], int(row.day)] -= float(row.units)
    return np.cumsum(delta, axis=1)
