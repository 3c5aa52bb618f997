"""Committed moves as they could be carried out: a transfer never takes units that the donor's
patients are on.

A plan made on the forecast may order a region to send units that, with the census that was
then observed, its patients held (the forecast had fewer patients there). The donor knows its
own census when it dispatches, so the order is cut to the units it can spare: the same rule
the planner applies to executed moves (optimiser.multiperiod.executed: never below
max(donor_keep_share x own units, the units held by the patients on units since the start)).
Rows are cut in dispatch order; a cut row arrives cut.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from optimiser.multiperiod.instance import MultiPeriodInstance


def carried_out(instance: MultiPeriodInstance, moves: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The moves (manifest form) with every transfer cut to what its donor could spare under
    the instance's demand, and the units cut. Ship rows are kept as they are (the depots'
    stock does not depend on demand)."""
    if not len(moves) or not (moves["kind"] == "transfer").any():
        return moves, 0
    from optimiser.multiperiod.data import model_data

    regions = {r: i for i, r in enumerate(instance.regions)}
    held = model_data(instance).held_units()
    own = np.broadcast_to(
        np.asarray(instance.own.to_numpy(dtype=float)).reshape(len(regions), -1),
        (len(regions), instance.days),
    )  # units of each region's own, per day
    share = instance.settings.donor_keep_share if instance.settings.transfers else 0.0
    need = np.maximum(share * own, held)
    inflow = np.zeros_like(need)
    T = instance.days
    kept = []
    cut = 0
    for row in moves.sort_values(["day", "kind", "from", "to"], kind="stable").to_dict("records"):
        units = int(row["units"])
        day = int(row["day"])
        if row["kind"] == "transfer":
            src = regions[row["from"]]
            hand = own[src] + np.cumsum(inflow[src])  # as executed_moves counts it
            spare = float(np.min(hand[day:] - need[src, day:])) if day < T else 0.0
            allowed = max(0, math.floor(spare + 1e-9))
            if allowed < units:
                cut += units - allowed
                units = allowed
            if units == 0:
                continue
            inflow[src, day] -= units
        arrives = int(row["arrives"])
        if arrives < T:
            inflow[regions[row["to"]], arrives] += units
        kept.append({**row, "units": units})
    out = pd.DataFrame(kept, columns=list(moves.columns)).astype(moves.dtypes.to_dict())
    return out.reset_index(drop=True), cut


__all__ = ["carried_out"]
