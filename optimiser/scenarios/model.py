"""ScenarioSet: demand scenarios over one multi-period instance, with their probabilities.

Labelled end to end: `demand` is a DataFrame with rows (scenario, region) and columns the days
0..T-1, values of the instance's demand kind (census or new_patients); `probability` a Series
by scenario id. `array()` gives the numbers in the planner's shape (scenarios x regions x
days, regions in the instance's order), `instance_for(instance, id)` the instance with its
demand replaced by one scenario's (what the simulator and, later, the planner run on).
docs/scenarios.md describes the files and the generators.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from optimiser.json_values import json_ready
from optimiser.multiperiod.demand import PatientGroups, length_of_stay, patient_groups
from optimiser.multiperiod.instance import MultiPeriodInstance

PROBABILITY_TOLERANCE = 1e-6  # |sum of probabilities - 1| allowed (then normalised exactly)


@dataclass(frozen=True)
class ScenarioSet:
    """Demand scenarios with probabilities (validated: see optimiser.scenarios.io).

    demand: index (scenario, region), columns day 0..T-1 (RangeIndex named 'day'), values
    patients of `demand_kind`. probability: index scenario (same order), sums to 1.
    sampled: True when the scenarios are independent draws of one distribution (a sampling
    generator made them): evaluation then gives confidence intervals; otherwise the set is
    the distribution itself and its figures are exact for it.
    info: how the set was made (generator, parameters, seed, sources), JSON-ready.
    """

    demand_kind: str
    demand: pd.DataFrame
    probability: pd.Series
    start_date: dt.date | None = None
    sampled: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [str(s) for s in self.probability.index]

    @property
    def regions(self) -> list[str]:
        return [str(r) for r in self.demand.index.get_level_values("region").unique()]

    @property
    def days(self) -> int:
        return int(self.demand.shape[1])

    def __len__(self) -> int:
        return len(self.probability)

    def array(self, regions: Sequence[str] | None = None) -> np.ndarray:
        """Demand as floats, shape (scenarios, regions, days), scenarios in `ids` order and
        regions in `regions` order (default: the set's own)."""
        order = list(regions) if regions is not None else self.regions
        index = pd.MultiIndex.from_product([self.ids, order], names=["scenario", "region"])
        values = self.demand.reindex(index).to_numpy(dtype=float)
        return values.reshape(len(self.ids), len(order), self.days)

    def scenario(self, scenario_id: str) -> pd.DataFrame:
        """One scenario's demand table, regions x days (like MultiPeriodInstance.demand)."""
        table = self.demand.loc[scenario_id].copy()
        assert isinstance(table, pd.DataFrame)
        table.index.name = "region"
        return table

    def instance_for(self, instance: MultiPeriodInstance, scenario_id: str) -> MultiPeriodInstance:
        """The instance with its demand replaced by this scenario's (everything else as is)."""
        check_compatible(self, instance)
        table = self.scenario(scenario_id).reindex(index=instance.regions)
        table.columns = instance.demand.columns
        return replace(instance, demand=table.astype(float))

    def instances(self, instance: MultiPeriodInstance) -> Iterator[tuple[str, MultiPeriodInstance]]:
        for sid in self.ids:
            yield sid, self.instance_for(instance, sid)

    def patient_groups(self, instance: MultiPeriodInstance) -> list[PatientGroups]:
        """Per scenario, the patient groups the planner's model data and the simulator use
        (optimiser.multiperiod.demand.patient_groups on that scenario's demand)."""
        check_compatible(self, instance)
        los = length_of_stay(instance)
        return [patient_groups(self.demand_kind, a, los) for a in self.array(instance.regions)]

    def expected_demand(self) -> pd.DataFrame:
        """Probability-weighted mean demand, regions x days."""
        weights = self.probability.reindex(self.demand.index.get_level_values("scenario"))
        weighted = self.demand.mul(weights.to_numpy(), axis=0)
        table = weighted.groupby(level="region", sort=False).sum()
        return table.reindex(self.regions)

    def subset(self, ids: Sequence[str]) -> ScenarioSet:
        """Some of the scenarios, probabilities renormalised."""
        chosen = list(ids)
        p = self.probability.reindex(chosen)
        demand = self.demand.loc[pd.IndexSlice[chosen, :], :]
        return replace(self, demand=demand, probability=p / float(p.sum()))

    def to_long(self) -> pd.DataFrame:
        """scenarios.csv's form: scenario, region, day, <demand_kind>."""
        S, n, T = len(self.ids), len(self.regions), self.days
        index = self.demand.index
        return pd.DataFrame(
            {
                "scenario": np.repeat(index.get_level_values("scenario").to_numpy(), T),
                "region": np.repeat(index.get_level_values("region").to_numpy(), T),
                "day": np.tile(np.arange(T), S * n),
                self.demand_kind: self.demand.to_numpy(dtype=float).reshape(-1),
            }
        )

    def weights_frame(self) -> pd.DataFrame:
        """scenario_weights.csv's form: scenario, probability."""
        return pd.DataFrame({"scenario": self.ids, "probability": self.probability.to_numpy()})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ids, regions, demand per scenario as {region: [value per day]}."""
        return {
            "demand_kind": self.demand_kind,
            "days": self.days,
            "start_date": None if self.start_date is None else self.start_date.isoformat(),
            "regions": self.regions,
            "sampled": self.sampled,
            "info": json_ready(self.info, digits=None),
            "scenarios": [
                {
                    "id": sid,
                    "probability": float(self.probability[sid]),
                    "demand": {
                        str(r): [float(v) for v in row] for r, row in self.scenario(sid).iterrows()
                    },
                }
                for sid in self.ids
            ],
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any], instance: MultiPeriodInstance) -> ScenarioSet:
        """The inverse of to_dict, validated against `instance` like the files."""
        from optimiser.scenarios.io import scenarios_from_dict

        return scenarios_from_dict(payload, instance)


def check_compatible(scenarios: ScenarioSet, instance: MultiPeriodInstance) -> None:
    """Raise InputError unless the set covers exactly the instance's regions, days and kind."""
    from optimiser.errors import InputError, Problem

    problems = []
    if scenarios.demand_kind != instance.demand_kind:
        problems.append(
            Problem(
                f"the scenarios are {scenarios.demand_kind} but the instance's demand is "
                f"{instance.demand_kind}: they must be of the same kind"
            )
        )
    if scenarios.days != instance.days:
        problems.append(
            Problem(f"the scenarios have {scenarios.days} days, the instance {instance.days}")
        )
    if set(scenarios.regions) != set(instance.regions):
        missing = sorted(set(instance.regions) - set(scenarios.regions))
        extra = sorted(set(scenarios.regions) - set(instance.regions))
        problems.append(
            Problem(
                "the scenarios' regions differ from the instance's"
                + (f"; missing: {', '.join(missing[:8])}" if missing else "")
                + (f"; unknown: {', '.join(extra[:8])}" if extra else "")
            )
        )
    if problems:
        raise InputError(problems)


def make_scenario_set(
    instance: MultiPeriodInstance,
    values: np.ndarray,
    ids: Sequence[str] | None = None,
    probabilities: Sequence[float] | np.ndarray | None = None,
    *,
    sampled: bool,
    info: Mapping[str, Any] | None = None,
) -> ScenarioSet:
    """A set from an array (scenarios x regions x days) in the instance's region order.
    Equal probabilities when none are given. Used by the generators (values are checked
    finite and >= 0 here; files go through io.py's validation)."""
    values = np.asarray(values, dtype=float)
    S, n, T = values.shape
    if (n, T) != (len(instance.regions), instance.days):
        raise ValueError(f"array shape {values.shape} does not match the instance")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("scenario demand must be finite and >= 0")
    names = list(ids) if ids is not None else scenario_ids(S)
    p = (
        np.full(S, 1.0 / S)
        if probabilities is None
        else np.asarray(probabilities, dtype=float) / float(np.sum(probabilities))
    )
    index = pd.MultiIndex.from_product([names, instance.regions], names=["scenario", "region"])
    demand = pd.DataFrame(
        values.reshape(S * n, T), index=index, columns=pd.RangeIndex(T, name="day")
    )
    probability = pd.Series(p, index=pd.Index(names, name="scenario"), name="probability")
    return ScenarioSet(
        demand_kind=instance.demand_kind,
        demand=demand,
        probability=probability,
        start_date=instance.start_date,
        sampled=sampled,
        info=dict(info or {}),
    )


def scenario_ids(count: int) -> list[str]:
    """s001, s002, ... (zero-padded so that they sort in order)."""
    width = max(3, int(math.log10(max(count, 1))) + 1)
    return [f"s{i + 1:0{width}d}" for i in range(count)]
