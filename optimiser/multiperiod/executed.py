"""Executed moves (rolling horizon): the shipments and transfers already made, as data.

`triage plan --executed shipped.csv [--today D]` fixes what was already dispatched and
re-plans the rest: the executed moves' units leave the depot or donor on their day and reach
the receiver on their `arrives` day; nothing new is dispatched before today. Here they are
checked (no depot or region sends units it did not have, donor protection and the patients on
units since the start kept) and turned into the model's numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import records


def executed_moves(
    instance: MultiPeriodInstance,
    rows: pd.DataFrame,
    today: int,
    file: str = "executed",
    held_units: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Executed ship/transfer rows as data: depot deliveries net of what left, the units they
    bring to (or take from) each region per day, and the units taken from depots. Checks that
    the depots and regions had those units."""
    n, T = len(instance.regions), instance.days
    deliveries = instance.deliveries.to_numpy(dtype=float).copy()
    inflow = np.zeros((n, T))
    kix = {k: i for i, k in enumerate(instance.depots)}
    rix = {r: i for i, r in enumerate(instance.regions)}
    problems: list[Problem] = []
    shipped = 0.0
    for row in records(rows):
        if row.day >= today:
            problems.append(
                Problem(
                    f"dispatched on day {row.day}, not before today (day {today}): only moves "
                    "already made belong here",
                    file=file,
                    line=int(row.line),
                    column="day",
                )
            )
            continue
        if row.kind == "ship":
            deliveries[kix[row.src], row.day] -= row.units
            shipped += row.units
        else:
            inflow[rix[row.src], row.day] -= row.units
        inflow[rix[row.dst], row.arrives] += row.units
    stock = np.cumsum(deliveries, axis=1)
    for k, d in zip(*np.nonzero(stock < -1e-9), strict=True):
        problems.append(
            Problem(
                f"depot {instance.depots[k]} would hold {counted(stock[k, d], 'unit')} on day "
                f"{d}: more units shipped than delivered",
                file=file,
            )
        )
        break
    own = instance.own.to_numpy(dtype=float)
    hand = own + np.cumsum(inflow, axis=1)
    share = instance.settings.donor_keep_share if instance.settings.transfers else 0.0
    # only days before today: from today on the re-plan's own moves may bring units back (a
    # loan returned before a region's own units drop); if none can, the model is infeasible
    # and its explanation names the executed moves (PlanEngine.history_note)
    low = hand < np.maximum(share * own, held_units) - 1e-9
    low[:, today:] = False
    for r, d in zip(*np.nonzero(low), strict=True):
        problems.append(
            Problem(
                f"region {instance.regions[r]} would hold {counted(hand[r, d], 'unit')} on day "
                f"{d}: more units sent than it had (below the donor protection share, or taken "
                "from patients on units since the start)",
                file=file,
            )
        )
        break
    if problems:
        raise InputError(problems)
    return deliveries, inflow, shipped
