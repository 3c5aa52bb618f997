"""From demand and lead times to patient groups and lanes (pure numpy, no model code; the
simulator of check-plan uses it too). docs/multiperiod.md, "From census to arrivals"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser.multiperiod.instance import MultiPeriodInstance


@dataclass(frozen=True)
class PatientGroups:
    """Patients in groups (region, arrival day e, stay rho, size n) and the census they imply."""

    region: np.ndarray
    day: np.ndarray
    stay: np.ndarray
    size: np.ndarray
    need: np.ndarray  # (n, T): patients needing the resource on day d, treated or not
    clipped: np.ndarray  # (n,) patient-days by which the census fell faster than stays allow


def length_of_stay(instance: MultiPeriodInstance) -> np.ndarray:
    """Whole days of treatment: L_r = max(1, round(los_days_r)); a region without los_days
    uses the mean of the others."""
    los = instance.base.regions["los_days"].astype(float)
    los = los.fillna(float(los.mean()))
    return np.maximum(1, np.floor(los.to_numpy() + 0.5)).astype(np.int64)


def patient_groups(kind: str, demand: np.ndarray, los: np.ndarray) -> PatientGroups:
    """Turn the demand table into patient groups.

    new_patients: a_{r,d} patients arrive on day d and stay L_r days; nobody is present before.
    census (c_{r,d} patients need the resource at once): the day-0 census is taken as a steady
    state, c_{r,0} / L_r arrivals on each of the days -L_r+1 .. 0, so the group that arrived on
    day -j (j >= 1) is present on day 0 with a residual stay of L_r - j days. Each later day's
    arrivals fill the gap between the census and the patients still present:

        a_{r,d} = max(0, c_{r,d} - carried_{r,d}),   carried_{r,d} = patients of earlier groups
                                                      still in their stay on day d.

    With enough units for everybody the occupancy then equals the census, except where the
    census falls faster than stays of L_r days allow (`clipped` counts those patient-days).

    The regions are computed together, day by day; each region's sums are made in the order
    of its groups (arrival day), so every figure is what adding the groups one at a time
    gives. Groups are listed by region, then arrival day.
    """
    n, T = demand.shape
    L = np.asarray(los, dtype=np.int64)
    width = int(L.max()) if n else 0
    present = np.zeros((n, T + width + 1))  # patients present per day from groups added so far
    clipped = np.zeros(n)
    offsets = np.arange(width)
    parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # regions, e, stays, sizes

    def add(e: int, stay: np.ndarray, size: np.ndarray, among: np.ndarray) -> None:
        """Groups arriving on day e in the regions `among` (those of positive size)."""
        among = among & ~(size <= 0)
        if not among.any():
            return
        start = max(e, 0)
        window = present[:, start : start + width]
        cells = (offsets < stay[:, None]) & among[:, None]
        np.add(window, size[:, None], out=window, where=cells)
        parts.append((np.flatnonzero(among), e, stay[among], size[among]))

    everywhere = np.ones(n, dtype=bool)
    if kind == "census":
        share = demand[:, 0] / L
        for j in range(width - 1, 0, -1):
            add(-j, L - j, share, j < L)
        add(0, L, share, everywhere)
        for d in range(1, T):
            gap = demand[:, d] - present[:, d]
            grows = gap > 1e-12
            add(d, L, gap, grows)
            np.add(clipped, np.fmax(0.0, -gap), out=clipped, where=~grows)
    else:
        for d in range(T):
            add(d, L, demand[:, d].astype(float), everywhere)
    if parts:
        region = np.concatenate([p[0] for p in parts])
        day = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int64) for p in parts])
        stays = np.concatenate([p[2] for p in parts])
        sizes = np.concatenate([p[3] for p in parts])
        order = np.lexsort((day, region))
        region, day, stays, sizes = region[order], day[order], stays[order], sizes[order]
    else:
        region = day = stays = np.zeros(0, dtype=np.int64)
        sizes = np.zeros(0)
    return PatientGroups(
        region=region.astype(np.int64),
        day=day.astype(np.int64),
        stay=stays.astype(np.int64),
        size=sizes.astype(float),
        need=present[:, :T].copy(),
        clipped=clipped,
    )


def transfer_lanes(instance: MultiPeriodInstance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region -> region lanes for units: those of lead_times.csv (all pairs at the default
    lead time when it has none), limited by max_transfer_lead_days and transfer_neighbours
    (each receiving region keeps its k nearest donors, ties in file order)."""
    s = instance.settings
    lead = instance.region_lead.to_numpy(dtype=float)
    ok = np.isfinite(lead)
    if s.max_transfer_lead_days is not None:
        ok &= lead <= s.max_transfer_lead_days
    if s.transfer_neighbours is not None:
        keep = np.zeros_like(ok)
        for r in range(lead.shape[1]):
            donors = np.nonzero(ok[:, r])[0]
            order = donors[np.argsort(lead[donors, r], kind="stable")][: s.transfer_neighbours]
            keep[order, r] = True
        ok &= keep
    src, dst = np.nonzero(ok)
    return src.astype(np.int64), dst.astype(np.int64), lead[src, dst].astype(np.int64)


def patient_lanes(instance: MultiPeriodInstance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region -> region lanes for patients: lanes within patient_transfer_max_lead_days."""
    lead = instance.region_lead.to_numpy(dtype=float)
    ok = np.isfinite(lead) & (lead <= instance.settings.patient_transfer_max_lead_days)
    src, dst = np.nonzero(ok)
    return src.astype(np.int64), dst.astype(np.int64), lead[src, dst].astype(np.int64)


def patients_on_units(kind: str, groups: PatientGroups, own: np.ndarray) -> np.ndarray:
    """Patients of each group already on a unit when the plan starts (they hold it until their
    course ends: no plan may take it). Only a census has patients present before day 0: the
    census of day 0 is a steady state, in which each day's arrivals got the same share of the
    region's own units, so every group present on day 0 (arrival day e <= 0) has the same
    share of its patients on units: min(1, own_{r,0} / c_{r,0}), lowered if the region's own
    units (capacity.csv) fall below those patients' needs before their courses end. A
    `new_patients` table has nobody present before day 0: nobody is held. `own`: (n, T)."""
    held = np.zeros(len(groups.size))
    if kind != "census" or not len(held):
        return held
    n, T = own.shape
    present = np.nonzero(groups.day <= 0)[0]
    occupied = np.zeros((n, T))  # day-0 patients still in their course, day by day
    for g in present:
        occupied[groups.region[g], : min(int(groups.stay[g]), T)] += groups.size[g]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(occupied > 0, np.maximum(own, 0.0) / occupied, np.inf)
    share = np.minimum(1.0, ratio.min(axis=1))
    held[present] = groups.size[present] * share[groups.region[present]]
    return held


def held_occupancy(groups: PatientGroups, held: np.ndarray, days: int) -> np.ndarray:
    """(n, T): units in use by the patients on units at the start, day by day."""
    occ = np.zeros((groups.need.shape[0], days))
    for g in np.nonzero(held > 0)[0]:
        occ[groups.region[g], : min(int(groups.stay[g]), days)] += held[g]
    return occ
