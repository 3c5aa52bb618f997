"""check-plan: a plan made ready to replay in an instance (`PreparedPlan`), the part of the
replay that does not depend on the demand table: the instance's tables as arrays, the lanes,
the plan's rows by day as plain tuples, the units the plan keeps in each region, the patients
and units later patients rows reserve. simulate.py's `PlanReplay` replays it day by day under
one demand table. Written independently of the optimisation model, as simulate.py is (its
module docstring; docs/multiperiod.md, "check-plan").
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from optimiser.multiperiod.demand import length_of_stay, patient_lanes, transfer_lanes
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.multiperiod.plan_io import records
from optimiser.multiperiod.simulation import incoming_after, planned_on_hand


class PreparedPlan:
    """A plan read once for replays in `instance` (simulate.py, PlanReplay.run): what every
    replay needs that does not depend on the demand table."""

    def __init__(
        self, instance: MultiPeriodInstance, plan: pd.DataFrame, *, today: int = 0
    ) -> None:
        s = instance.settings
        self.instance = instance
        # rows dispatched before `today` were executed (`triage plan --executed`): they happened
        # and their units count, but the dispatch rules (batch size, shipments per day) did not
        # bind them, as the planner takes them as given
        self.today = int(today)
        self.regions = list(instance.regions)
        rix = {r: i for i, r in enumerate(self.regions)}
        kix = {k: i for i, k in enumerate(instance.depots)}
        self.own = instance.own.to_numpy(dtype=float)
        self.staff = instance.staff.to_numpy(dtype=float)
        self.staffed = self.own + self.staff
        self.deliveries = instance.deliveries.to_numpy(dtype=float)
        self.gain = instance.base.gain.to_numpy(dtype=float)
        self.los = length_of_stay(instance)
        lanes: dict[tuple[int, int], int] = {}
        if s.transfers:
            src, dst, lead = transfer_lanes(instance)
            lanes = {(int(a), int(b)): int(c) for a, b, c in zip(src, dst, lead, strict=True)}
        self.plane: dict[tuple[int, int], int] = {}
        if s.patient_transfers:
            src, dst, lead = patient_lanes(instance)
            self.plane = {(int(a), int(b)): int(c) for a, b, c in zip(src, dst, lead, strict=True)}
        ship_lead = instance.ship_lead.to_numpy(dtype=float)
        # the day's rows in plan order, by kind: (row, line, units, from index, to index, lead)
        self.moves: dict[int, list[tuple[Any, int, float, int, int, int | None]]] = {}
        self.patients: dict[int, list[tuple[Any, int, float, int, int, float]]] = {}
        self.admits: dict[int, list[tuple[Any, int, float, int, float]]] = {}
        for row in records(plan.sort_values(["day", "line"], kind="stable")):
            d, line, u = int(row.day), int(row.line), float(row.units)
            if row.kind == "ship":
                k, r = kix[row.src], rix[row.dst]
                self.moves.setdefault(d, []).append((row, line, u, k, r, int(ship_lead[k, r])))
            elif row.kind == "transfer":
                q, r = rix[row.src], rix[row.dst]
                self.moves.setdefault(d, []).append((row, line, u, q, r, lanes.get((q, r))))
            elif row.kind == "patients":
                q, r = rix[row.src], rix[row.dst]
                moved = (row, line, u, q, r, float(row.cohort_day))
                self.patients.setdefault(d, []).append(moved)
            elif row.kind == "admit":
                admit = (row, line, u, rix[row.dst], float(row.cohort_day))
                self.admits.setdefault(d, []).append(admit)
        self.days_with_rows = set(self.moves) | set(self.patients) | set(self.admits)
        self.has_admissions = bool((plan["kind"] == "admit").any())
        self.planned = planned_on_hand(instance, plan, self.own)
        # units both the plan and the staff leave free: min(planned, staffed) - occupancy is
        # the smaller of the two differences, exactly (rounding is monotone)
        self.room_cap = np.minimum(self.planned, self.staffed)
        # Patients a later patients row moves (by home region and cohort): the simulation's
        # own admissions leave them waiting, so a manifest without admit rows replays its moves.
        self.reserved: dict[tuple[int, int], float] = defaultdict(float)
        for row in records(plan[plan["kind"] == "patients"]):
            if not math.isnan(float(row.cohort_day)):
                self.reserved[rix[row.src], int(row.cohort_day)] += float(row.units)
        # ... and the units those rows fill at their destination stay free for them:
        # (day, patients, stay) by destination, in plan order; `incoming[r, t]`: patients the
        # rows still to come put in r on day t (rows of day d are gone after day d's moves).
        self.arrivals: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
        for d, day_moves in sorted(self.patients.items()):
            for _row, _line, u, q, r, _cohort in day_moves:
                self.arrivals[r].append((d, u, int(self.los[q])))
        self.incoming = np.zeros_like(self.own)
        for r, rows in self.arrivals.items():
            self.incoming[r] = incoming_after(rows, -1, self.incoming.shape[1])
