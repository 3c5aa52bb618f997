"""From a validated instance to the model's numbers (models.multiperiod.MultiPeriodData)."""

from __future__ import annotations

import math

import numpy as np

from models.multiperiod import MultiPeriodData
from optimiser.multiperiod.demand import (
    held_occupancy,
    length_of_stay,
    patient_groups,
    patient_lanes,
    patients_on_units,
    transfer_lanes,
)
from optimiser.multiperiod.instance import MultiPeriodInstance


def model_data(instance: MultiPeriodInstance) -> MultiPeriodData:
    """The numbers of the multi-period model for an instance and its settings."""
    s = instance.settings
    base = instance.base
    los = length_of_stay(instance)
    groups = patient_groups(instance.demand_kind, instance.demand.to_numpy(dtype=float), los)
    empty = np.zeros(0, dtype=np.int64)
    if s.transfers:
        arc_src, arc_dst, arc_lead = transfer_lanes(instance)
    else:
        arc_src = arc_dst = arc_lead = empty
    if s.patient_transfers:
        pt_src, pt_dst, pt_lead = patient_lanes(instance)
    else:
        pt_src = pt_dst = pt_lead = empty
    regions = base.regions
    own = instance.own.to_numpy(dtype=float)
    held = patients_on_units(instance.demand_kind, groups, own)
    return MultiPeriodData(
        regions=tuple(instance.regions),
        depots=tuple(instance.depots),
        days=instance.days,
        own=instance.own.to_numpy(dtype=float),
        staff=instance.staff.to_numpy(dtype=float),
        deliveries=instance.deliveries.to_numpy(dtype=float),
        ship_lead=instance.ship_lead.to_numpy(dtype=float).astype(np.int64),
        arc_src=arc_src,
        arc_dst=arc_dst,
        arc_lead=arc_lead,
        los=los,
        gain=base.gain.to_numpy(dtype=float),
        group_region=groups.region,
        group_day=groups.day,
        group_stay=groups.stay,
        group_size=groups.size,
        need=groups.need,
        group_held=held,
        held_occupancy=held_occupancy(groups, held, instance.days),
        max_wait=int(s.max_wait_days),
        batch_size=int(s.batch_size),
        max_shipments_per_day=s.max_shipments_per_day,
        donor_share=float(s.donor_keep_share) if s.transfers else 0.0,
        pt_src=pt_src,
        pt_dst=pt_dst,
        pt_lead=pt_lead,
        pt_max_per_day=math.inf
        if s.patient_transfer_max_per_day is None
        else float(s.patient_transfer_max_per_day),
        population=regions["population"].to_numpy(dtype=float),
        capacity=regions["capacity"].to_numpy(dtype=float),
        peak_demand=regions["peak_demand"].to_numpy(dtype=float),
        staff_cap=base.staff_cap.to_numpy(dtype=float),
        weight=regions["weight"].to_numpy(dtype=float),
        rai=base.rai.to_numpy(dtype=float),
    )
