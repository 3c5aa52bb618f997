"""BacktestResult: every policy's executed plan scored against what happened, round-trippable.

Labelled with the instance's ids: `table` has one row per policy (TABLE_COLUMNS), `weeks` one
row per policy and re-planning date, `executed` each policy's dispatched moves (manifest
form), `on_hand` and `shortfall` each policy's units on hand and unmet need per region and
day in the replay (regions x days), `observed` the census that was observed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimiser.backtest.policies import MANIFEST_COLUMNS
from optimiser.json_values import json_number, json_ready

if TYPE_CHECKING:
    from optimiser.stochastic.fan import FanData

TABLE_COLUMNS = [
    "replay",
    "survivors",
    "deaths",
    "not_admitted",
    "shortfall",
    "supply_shortfall",
    "lives_below_hindsight",
    "units_shipped",
    "units_transferred",
    "transfer_units_cut",
    "replans",
    "violations",
]
WEEK_COLUMNS = [
    "policy",
    "day",
    "date",
    "forecast",
    "status",
    "claimed_lives",
    "dispatched_units",
    "moves",
    "time_limit",  # the plan's share of the backtest's budget (seconds; NaN: no limit)
    "seconds",  # what the plan took
]


@dataclass(frozen=True)
class BacktestResult:
    """A backtest: plans made week by week with what was known, replayed against reality."""

    instance: str
    resource: str
    demand_kind: str
    start_date: str
    days: int
    as_of: str
    commit_days: int
    buffer: float
    source: str
    regions: list[str]
    table: pd.DataFrame  # index policy; TABLE_COLUMNS
    weeks: pd.DataFrame  # WEEK_COLUMNS
    executed: dict[str, pd.DataFrame]  # policy -> MANIFEST_COLUMNS rows
    on_hand: dict[str, pd.DataFrame]  # policy -> regions x days
    shortfall: dict[str, pd.DataFrame]  # policy -> regions x days (resource-days)
    observed: pd.DataFrame  # regions x days
    unavailable: dict[str, str] = field(default_factory=dict)
    # "optimal": every policy completed, every plan proved optimal (within its gap);
    # "time_limit": the budget cut a plan short (weeks' status) or left a policy out;
    # "iteration_limit": no budget did, but a plan stopped at its own round or node limits
    status: str = "optimal"
    incomplete: dict[str, str] = field(default_factory=dict)  # policy -> why, plans made
    # two-stage policies: the scenarios of their first plan against their units on hand
    # (optimiser.backtest.run.policy_fan)
    fans: dict[str, FanData] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def policies(self) -> list[str]:
        return [str(p) for p in self.table.index]

    def totals(self) -> pd.DataFrame:
        """Per day, summed over regions: the observed census and each policy's units on hand
        and unmet need (the chart's data). Columns: census, <policy>_on_hand,
        <policy>_shortfall; index the day."""
        out = {"census": self.observed.sum(axis=0)}
        for p in self.policies:
            out[f"{p}_on_hand"] = self.on_hand[p].sum(axis=0)
            out[f"{p}_shortfall"] = self.shortfall[p].sum(axis=0)
        frame = pd.DataFrame(out)
        frame.index.name = "day"
        start = np.datetime64(self.start_date, "D")
        frame.insert(0, "date", [str(start + int(d)) for d in frame.index])
        return frame

    def to_dict(self) -> dict[str, Any]:
        def grid(frame: pd.DataFrame) -> dict[str, list[float | None]]:
            values = frame.reindex(self.regions).to_numpy(dtype=float)
            return {
                str(r): [json_number(float(v)) for v in values[i]]
                for i, r in enumerate(self.regions)
            }

        return {
            "instance": self.instance,
            "resource": self.resource,
            "demand_kind": self.demand_kind,
            "start_date": self.start_date,
            "days": self.days,
            "as_of": self.as_of,
            "commit_days": self.commit_days,
            "buffer": json_number(self.buffer),
            "source": self.source,
            "regions": list(self.regions),
            "policies": [
                {"policy": str(p), **{c: json_number(row[c]) for c in TABLE_COLUMNS}}
                for p, row in self.table.iterrows()
            ],
            "weeks": [
                {c: json_number(row[c]) for c in WEEK_COLUMNS} for _, row in self.weeks.iterrows()
            ],
            "executed": {
                p: [{c: json_number(row[c]) for c in MANIFEST_COLUMNS} for _, row in m.iterrows()]
                for p, m in self.executed.items()
            },
            "on_hand": {p: grid(f) for p, f in self.on_hand.items()},
            "shortfall": {p: grid(f) for p, f in self.shortfall.items()},
            "observed": grid(self.observed),
            "unavailable": dict(self.unavailable),
            "status": self.status,
            "incomplete": dict(self.incomplete),
            "fans": {p: fan_to_dict(f) for p, f in self.fans.items()},
            "info": json_ready(self.info),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> BacktestResult:
        regions = [str(r) for r in payload["regions"]]
        days = int(payload["days"])

        def grid(data: Mapping[str, list[Any]]) -> pd.DataFrame:
            values = np.array([[_back(v) for v in data[r]] for r in regions], dtype=float)
            return pd.DataFrame(
                values.reshape(len(regions), days),
                index=pd.Index(regions, name="region"),
                columns=pd.RangeIndex(days, name="day"),
            )

        table = pd.DataFrame(list(payload["policies"]), columns=["policy", *TABLE_COLUMNS])
        table = table.set_index("policy")
        weeks = pd.DataFrame(list(payload["weeks"]), columns=WEEK_COLUMNS)
        return cls(
            instance=str(payload["instance"]),
            resource=str(payload["resource"]),
            demand_kind=str(payload["demand_kind"]),
            start_date=str(payload["start_date"]),
            days=days,
            as_of=str(payload["as_of"]),
            commit_days=int(payload["commit_days"]),
            buffer=float(payload["buffer"]),
            source=str(payload["source"]),
            regions=regions,
            table=typed_table(table),
            weeks=typed_weeks(weeks),
            executed={str(p): manifest_frame(rows) for p, rows in payload["executed"].items()},
            on_hand={str(p): grid(g) for p, g in payload["on_hand"].items()},
            shortfall={str(p): grid(g) for p, g in payload["shortfall"].items()},
            observed=grid(payload["observed"]),
            unavailable={str(k): str(v) for k, v in payload.get("unavailable", {}).items()},
            status=str(payload.get("status", "optimal")),
            incomplete={str(k): str(v) for k, v in payload.get("incomplete", {}).items()},
            fans={str(p): fan_from_dict(f) for p, f in payload.get("fans", {}).items()},
            info=dict(payload.get("info", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> BacktestResult:
        return cls.from_dict(json.loads(text))


def fan_to_dict(fan: FanData) -> dict[str, Any]:
    return {
        "replay": fan.replay,
        "quantiles": list(fan.quantiles),
        "resource": fan.resource,
        "scenarios": fan.scenarios,
        "probability_short": {str(a): json_number(float(v)) for a, v in fan.short_days.items()},
        "rows": [
            {str(c): json_number(v) for c, v in row.items()} for row in fan.table.to_dict("records")
        ],
    }


def fan_from_dict(data: Mapping[str, Any]) -> FanData:
    from optimiser.stochastic.fan import FanData

    table = pd.DataFrame(list(data["rows"]))
    table["area"] = table["area"].astype(object)
    table["day"] = table["day"].astype("int64")
    for c in table.columns[2:]:
        table[c] = table[c].astype(float)
    short = data.get("probability_short", {})
    return FanData(
        table=table,
        replay=str(data["replay"]),
        quantiles=tuple(float(q) for q in data["quantiles"]),
        resource=str(data["resource"]),
        scenarios=int(data["scenarios"]),
        short_days=pd.Series({str(a): _back(v) for a, v in short.items()}, dtype=float).rename_axis(
            "area"
        ),
    )


def manifest_frame(rows: Any) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=MANIFEST_COLUMNS)
    for c in ("day", "units", "arrives"):
        frame[c] = frame[c].astype("int64")
    for c in ("kind", "from", "to"):
        frame[c] = frame[c].astype(object)
    return frame


def typed_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    out["replay"] = out["replay"].astype(object)
    for c in TABLE_COLUMNS[1:]:
        out[c] = out[c].astype(float)
    for c in ("units_shipped", "units_transferred", "transfer_units_cut", "replans", "violations"):
        out[c] = out[c].astype("int64")
    out.index = pd.Index([str(p) for p in out.index], dtype=object, name="policy")
    return out


def typed_weeks(weeks: pd.DataFrame) -> pd.DataFrame:
    out = weeks.copy()
    for c in ("policy", "date", "forecast", "status"):
        out[c] = out[c].astype(object)
    for c in ("day", "dispatched_units", "moves"):
        out[c] = out[c].astype("int64")
    for c in ("claimed_lives", "time_limit", "seconds"):
        out[c] = out[c].astype(float)
    return out.reset_index(drop=True)


def _back(v: Any) -> float:
    return math.nan if v is None else float(v)


__all__ = [
    "TABLE_COLUMNS",
    "WEEK_COLUMNS",
    "BacktestResult",
    "manifest_frame",
    "typed_table",
    "typed_weeks",
]
