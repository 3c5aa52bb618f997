"""Comparison: each candidate's figures over the evaluation scenarios, VSS and EVPI, what was
left out and why; round-trippable (`from_dict` beside `to_dict`). Made by
optimiser.stochastic.compare.compare."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimiser.json_values import json_number, json_ready
from optimiser.stochastic.results import COMMITTED_COLUMNS

METRICS = (
    "expected_survivors",
    "expected_deaths",
    "probability_of_shortfall",
    "expected_shortfall",
    "cvar_shortfall",
    "cvar_deaths",
)
# recourse_without_fairness: evaluation scenarios re-planned without the fairness constraints
# (they could not hold after the commit); commit_units_cut: expected units of committed
# transfers that donors could not make (cut to what they could spare, see `recourse`)
TABLE_COLUMNS = [*METRICS, "recourse_without_fairness", "commit_units_cut"]


@dataclass(frozen=True)
class Comparison:
    """Each candidate's figures over the evaluation scenarios (table: index candidate,
    TABLE_COLUMNS), VSS and EVPI (survivors), and how they were obtained."""

    table: pd.DataFrame
    vss: float | None
    evpi: float | None
    in_sample: bool
    alpha: float
    commit_days: int
    committed: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # "complete", or "time_limit": the budget ran out; `not_scored` says which candidates
    # were left out and why (a candidate is scored on every evaluation scenario or not at
    # all), `cut_short` which scored ones had re-plans not proved optimal (scenario ids);
    # "iteration_limit": no budget ran out, but re-plans in `cut_short` stopped at their own
    # round or node limits
    status: str = "complete"
    not_scored: dict[str, str] = field(default_factory=dict)
    cut_short: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "not_scored": dict(self.not_scored),
            "cut_short": {k: list(v) for k, v in self.cut_short.items()},
            "candidates": [
                {"candidate": str(c), **{k: json_number(v) for k, v in row.items()}}
                for c, row in self.table.iterrows()
            ],
            "vss": json_number(self.vss),
            "evpi": json_number(self.evpi),
            "in_sample": self.in_sample,
            "alpha": self.alpha,
            "commit_days": self.commit_days,
            "committed": {
                k: [{c: json_number(v) for c, v in r.items()} for r in f.to_dict("records")]
                for k, f in self.committed.items()
            },
            "info": json_ready(self.info),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        table = (
            pd.DataFrame(list(data["candidates"]), columns=["candidate", *TABLE_COLUMNS])
            .set_index("candidate")[TABLE_COLUMNS]
            .astype(float)
        )
        return cls(
            table=table,
            vss=data.get("vss"),
            evpi=data.get("evpi"),
            in_sample=bool(data["in_sample"]),
            alpha=float(data["alpha"]),
            commit_days=int(data["commit_days"]),
            committed={
                k: pd.DataFrame(list(v), columns=COMMITTED_COLUMNS)
                for k, v in (data.get("committed") or {}).items()
            },
            info=dict(data.get("info") or {}),
            status=str(data.get("status", "complete")),
            not_scored={str(k): str(v) for k, v in (data.get("not_scored") or {}).items()},
            cut_short={str(k): list(v) for k, v in (data.get("cut_short") or {}).items()},
        )


__all__ = ["METRICS", "TABLE_COLUMNS", "Comparison"]
