"""StochasticResult: the two-stage plan, labelled with the input's ids, round-trippable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimiser.json_values import json_number, json_ready
from optimiser.results import PRICE_COLUMNS, status_from_text
from optimiser.solver import SolveStatus

COMMITTED_COLUMNS = ["kind", "day", "from", "to", "units", "arrives"]
SCENARIO_COLUMNS = ["probability", "lives", "deaths", "patients", "units_shipped"]


@dataclass(frozen=True)
class StochasticResult:
    """The first-stage plan (`committed`) and what it leads to in each scenario.

    committed: the movements dispatched in the commit window [today, today + commit_days),
    the same in every scenario (plan-file columns: kind, day, from, to, units, arrives).
    per_scenario: index scenario id; probability, lives (expected extra survivors of the
    scenario's recourse in the model), deaths (D0_s - lives), patients, units_shipped (by the
    depots over the horizon). expected_lives: sum_s p_s lives_s; lives_bound: its proven upper
    bound (risk neutral only); cvar_deaths: CVaR_alpha of the deaths (with a risk measure).
    price_of_fairness: in expected lives (PRICE_COLUMNS).
    """

    instance: str
    status: SolveStatus | str
    days: int
    today: int
    commit_days: int
    risk: str
    alpha: float | None
    constraints: tuple[str, ...]
    settings: dict[str, Any]
    expected_lives: float | None
    lives_bound: float | None
    lives_optimal: float | None  # the same two-stage problem without fairness constraints
    gap: float | None
    cvar_deaths: float | None
    expected_deaths: float | None
    committed: pd.DataFrame
    per_scenario: pd.DataFrame
    price_of_fairness: pd.DataFrame
    explanation: str | None = None
    executed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COMMITTED_COLUMNS))
    solver: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    scenario_info: dict[str, Any] = field(default_factory=dict)

    @property
    def commit_end(self) -> int:
        """The first day after the commit window (re-plan from here)."""
        return self.today + self.commit_days

    def executed_rows(self) -> pd.DataFrame:
        """The moves executed once the commit window is over: the executed moves given to the
        planner, then the committed ones (plan-file form: `plan(..., executed=...)`,
        `triage plan --executed`)."""
        parts = [f for f in (self.executed, self.committed) if len(f)]
        if not parts:
            return pd.DataFrame(columns=COMMITTED_COLUMNS)
        return pd.concat(parts, ignore_index=True)[COMMITTED_COLUMNS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "stochastic_plan",
            "instance": self.instance,
            "status": str(self.status),
            "days": self.days,
            "today": self.today,
            "commit_days": self.commit_days,
            "risk": self.risk,
            "alpha": json_number(self.alpha),
            "constraints": list(self.constraints),
            "settings": json_ready(self.settings, digits=None),
            "expected_lives": json_number(self.expected_lives),
            "lives_bound": json_number(self.lives_bound),
            "lives_optimal": json_number(self.lives_optimal),
            "gap": json_number(self.gap),
            "cvar_deaths": json_number(self.cvar_deaths),
            "expected_deaths": json_number(self.expected_deaths),
            "committed": _records(self.committed),
            "executed": _records(self.executed),
            "per_scenario": [
                {"scenario": str(sid), **{str(k): json_number(v) for k, v in row.items()}}
                for sid, row in self.per_scenario.iterrows()
            ],
            "price_of_fairness": _records(self.price_of_fairness),
            "explanation": self.explanation,
            # a run stopped before HiGHS proved a bound reports it as +-inf: null in JSON
            "solver": json_ready(self.solver),
            "timings": {k: json_number(v, 6) for k, v in self.timings.items()},
            "model_size": json_ready(self.sizes),
            "scenario_set": json_ready(self.scenario_info),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StochasticResult:
        per = pd.DataFrame(list(data.get("per_scenario") or []))
        per = (
            per.set_index("scenario")[SCENARIO_COLUMNS]
            if len(per)
            else pd.DataFrame(columns=SCENARIO_COLUMNS)
        )
        return cls(
            instance=str(data["instance"]),
            status=status_from_text(str(data["status"])),
            days=int(data["days"]),
            today=int(data["today"]),
            commit_days=int(data["commit_days"]),
            risk=str(data["risk"]),
            alpha=data.get("alpha"),
            constraints=tuple(data.get("constraints") or ()),
            settings=dict(data.get("settings") or {}),
            expected_lives=data.get("expected_lives"),
            lives_bound=data.get("lives_bound"),
            lives_optimal=data.get("lives_optimal"),
            gap=data.get("gap"),
            cvar_deaths=data.get("cvar_deaths"),
            expected_deaths=data.get("expected_deaths"),
            committed=_frame(data.get("committed"), COMMITTED_COLUMNS),
            executed=_frame(data.get("executed"), COMMITTED_COLUMNS),
            per_scenario=per,
            price_of_fairness=_frame(data.get("price_of_fairness"), PRICE_COLUMNS),
            explanation=data.get("explanation"),
            solver=dict(data.get("solver") or {}),
            timings=dict(data.get("timings") or {}),
            sizes=dict(data.get("model_size") or {}),
            scenario_info=dict(data.get("scenario_set") or {}),
        )

    @classmethod
    def from_json(cls, text: str) -> StochasticResult:
        return cls.from_dict(json.loads(text))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): json_number(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _frame(rows: Any, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows or []), columns=columns)
    for col in ("day", "arrives"):
        if col in frame.columns and len(frame):
            frame[col] = frame[col].astype("int64")
    return frame
