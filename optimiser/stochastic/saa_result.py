"""The result of sample-average approximation (optimiser.stochastic.replications): bounds, the
candidate's commit, one row per replication; `to_dict` / `from_dict` round-trip."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from models.stochastic import Risk
from optimiser.json_values import json_number, json_ready
from optimiser.stochastic.results import COMMITTED_COLUMNS
from optimiser.stochastic.saa_objective import SaaObjective


@dataclass(frozen=True)
class SaaResult:
    """The SAA bounds. replications: index replication; seed, value (v_m), bound (b_m),
    selection (the commit's mean recourse lives on the selection sample), candidate_value
    (x^'s mean on replication m's sample), gap (G_m), in_gap (False for the candidate's own
    replication, left out of `gap`), note (why a row is out). Bounds are one-sided at
    `confidence`; gap_high_from_bounds = upper_bound_high - lower_bound_low with each at
    (1 + confidence) / 2 (needs no independence); gap_high is the common-random-numbers bound
    (gap_high_from "crn") or, with M = 2, gap_high_from_bounds (gap_high_from "bounds").

    status "done": the bounds above; "time_limit": the run's time limit passed before every
    replication and scenario was scored (`message` says where; `time_limit` the seconds):
    no bounds are reported (every bound NaN, no candidate, no commit; its JSON has
    `"bounds": null` and none of the bounds' keys). `SaaResult.stopped` builds one."""

    instance: str
    replications: int
    sample_size: int
    selection_size: int
    evaluation_size: int
    seed: int
    confidence: float
    commit_days: int
    candidate: int
    committed: pd.DataFrame
    upper_bound: float
    upper_bound_high: float
    lower_bound: float
    lower_bound_low: float
    gap: float
    gap_high: float
    gap_high_from_bounds: float
    gap_high_from: str  # "crn": MMW over the non-candidate replications; "bounds" (M = 2)
    per_replication: pd.DataFrame
    recourse_without_fairness: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    risk: str = "neutral"
    objective: str = "expected lives (extra survivors)"
    today: int = 0
    eta: float | None = None  # the value-at-risk fixed for the lower bound and gap (tail risks)
    executed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COMMITTED_COLUMNS))
    status: str = "done"  # "done" | "time_limit" (no bounds)
    message: str | None = None  # why no bounds are reported
    time_limit: float | None = None  # the run's time limit (seconds) when it stopped the run

    @classmethod
    def stopped(
        cls, instance: str, message: str, time_limit: float | None, **run: Any
    ) -> SaaResult:
        """A run stopped by its time limit: what it was asked (`run`: replications,
        sample_size, selection_size, evaluation_size, seed, confidence, commit_days, risk,
        objective, today) and why no bounds are reported."""
        nan = math.nan
        return cls(
            instance=instance,
            candidate=0,
            committed=pd.DataFrame(columns=COMMITTED_COLUMNS),
            upper_bound=nan,
            upper_bound_high=nan,
            lower_bound=nan,
            lower_bound_low=nan,
            gap=nan,
            gap_high=nan,
            gap_high_from_bounds=nan,
            gap_high_from="",
            per_replication=pd.DataFrame(columns=REP_COLUMNS),
            status="time_limit",
            message=message,
            time_limit=time_limit,
            **run,
        )

    @property
    def has_bounds(self) -> bool:
        return self.status == "done"

    def executed_rows(self) -> pd.DataFrame:
        """The executed moves given, then the candidate's commit (plan-file form: what
        `triage plan --executed` takes once the commit window is over)."""
        parts = [f for f in (self.executed, self.committed) if len(f)]
        if not parts:
            return pd.DataFrame(columns=COMMITTED_COLUMNS)
        return pd.concat(parts, ignore_index=True)[COMMITTED_COLUMNS]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `triage scenarios saa --json` and of the service's saa job. A stopped
        run: kind, status, instance, time_limit, bounds (null), message and what was asked."""
        head = {"kind": "saa", "status": self.status, "instance": self.instance}
        if not self.has_bounds:
            return {
                **head,
                "time_limit": json_number(self.time_limit),
                "bounds": None,
                "message": self.message,
                **{k: json_number(getattr(self, k)) for k in RUN_FIELDS},
            }
        out: dict[str, Any] = {**head, **{k: json_number(getattr(self, k)) for k in FIELDS}}
        for name in ("committed", "executed"):
            frame = getattr(self, name)
            out[name] = [json_ready(r) for r in frame.to_dict("records")]
        table = self.per_replication
        out["per_replication"] = [
            {"replication": int(i), **json_ready(r)}
            for i, r in zip(table.index.tolist(), table.to_dict("records"), strict=True)
        ]
        out["info"] = json_ready(self.info)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SaaResult:
        """The inverse of to_dict, for every payload it writes: a bound written as null (no
        finite figure) is NaN; a stopped run (status time_limit) has no bounds."""
        if data.get("status", "done") != "done":
            run = {k: _run_value(k, data.get(k)) for k in RUN_FIELDS}
            limit = data.get("time_limit")
            return cls.stopped(
                str(data["instance"]),
                str(data.get("message") or "no bounds are reported"),
                None if limit is None else float(limit),
                **run,
            )
        frame = pd.DataFrame(list(data["per_replication"]), columns=["replication", *REP_COLUMNS])
        committed, executed = (_moves(data.get(name)) for name in ("committed", "executed"))
        eta = data.get("eta")
        return cls(
            **{k: _run_value(k, data[k]) for k in RUN_FIELDS if k in data},
            candidate=int(data["candidate"]),
            upper_bound=_figure(data["upper_bound"]),
            upper_bound_high=_figure(data["upper_bound_high"]),
            lower_bound=_figure(data["lower_bound"]),
            lower_bound_low=_figure(data["lower_bound_low"]),
            gap=_figure(data["gap"]),
            gap_high=_figure(data["gap_high"]),
            gap_high_from_bounds=_figure(data["gap_high_from_bounds"]),
            gap_high_from=str(data["gap_high_from"]),
            recourse_without_fairness=int(data.get("recourse_without_fairness") or 0),
            instance=str(data["instance"]),
            committed=committed,
            per_replication=frame.set_index("replication").astype(
                {"seed": "int64", "in_gap": bool, "note": str, **dict.fromkeys(REP_FIGURES, float)}
            ),
            info=dict(data.get("info") or {}),
            eta=None if eta is None else float(eta),
            executed=executed,
        )


REP_COLUMNS = [
    "seed", "value", "bound", "selection", "candidate_value", "gap", "in_gap", "note"
]  # fmt: skip


REP_FIGURES = ["value", "bound", "selection", "candidate_value", "gap"]
# what the run was asked: in every payload, a stopped run's too
RUN_FIELDS = (
    "replications", "sample_size", "selection_size", "evaluation_size", "seed", "confidence",
    "commit_days", "risk", "objective", "today",
)  # fmt: skip
FIELDS = (
    "replications", "sample_size", "selection_size", "evaluation_size", "seed", "confidence",
    "commit_days", "candidate", "upper_bound", "upper_bound_high", "lower_bound",
    "lower_bound_low", "gap", "gap_high", "gap_high_from_bounds", "gap_high_from",
    "recourse_without_fairness", "risk", "objective", "today", "eta",
)  # fmt: skip


def _moves(rows: Any) -> pd.DataFrame:
    """Committed or executed moves as the run held them: no moves is the bare columns, as the
    planner gives them (an empty frame cast to int64 would not equal the one written)."""
    frame = pd.DataFrame(list(rows or []), columns=COMMITTED_COLUMNS)
    if not len(frame):
        return frame
    return frame.astype({"day": "int64", "arrives": "int64", "units": float})


def _figure(value: Any) -> float:
    """A bound as JSON has it: null (no finite figure: HiGHS proved none) is NaN."""
    return math.nan if value is None else float(value)


def _run_value(name: str, value: Any) -> Any:
    """One of RUN_FIELDS as the dataclass holds it (a stopped run's payload written before
    they were recorded lacks them: 0, or the risk-neutral objective)."""
    if name == "confidence":
        return _figure(value)
    if name == "risk":
        return str(value or "neutral")
    if name == "objective":
        return str(value or SaaObjective(Risk()).describe())
    return int(value or 0)


__all__ = ["REP_COLUMNS", "SaaResult"]
