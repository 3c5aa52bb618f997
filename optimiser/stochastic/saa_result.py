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
    (gap_high_from "crn") or, with M = 2, gap_high_from_bounds (gap_high_from "bounds")."""

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

    def executed_rows(self) -> pd.DataFrame:
        """The executed moves given, then the candidate's commit (plan-file form: what
        `triage plan --executed` takes once the commit window is over)."""
        parts = [f for f in (self.executed, self.committed) if len(f)]
        if not parts:
            return pd.DataFrame(columns=COMMITTED_COLUMNS)
        return pd.concat(parts, ignore_index=True)[COMMITTED_COLUMNS]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: _num(getattr(self, k))
            for k in (
                "instance",
                "replications",
                "sample_size",
                "selection_size",
                "evaluation_size",
                "seed",
                "confidence",
                "commit_days",
                "candidate",
                "upper_bound",
                "upper_bound_high",
                "lower_bound",
                "lower_bound_low",
                "gap",
                "gap_high",
                "gap_high_from_bounds",
                "gap_high_from",
                "recourse_without_fairness",
                "risk",
                "objective",
                "today",
                "eta",
            )
        }
        for name in ("committed", "executed"):
            frame = getattr(self, name)
            out[name] = [{c: _num(v) for c, v in r.items()} for r in frame.to_dict("records")]
        table = self.per_replication
        out["per_replication"] = [
            {"replication": int(i), **{c: _num(v) for c, v in r.items()}}
            for i, r in zip(table.index.tolist(), table.to_dict("records"), strict=True)
        ]
        out["info"] = self.info
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SaaResult:
        frame = pd.DataFrame(list(data["per_replication"]), columns=["replication", *REP_COLUMNS])
        committed, executed = (
            pd.DataFrame(list(data.get(name) or []), columns=COMMITTED_COLUMNS).astype(
                {"day": "int64", "arrives": "int64", "units": float}
            )
            for name in ("committed", "executed")
        )
        eta = data.get("eta")
        return cls(
            replications=int(data["replications"]),
            sample_size=int(data["sample_size"]),
            selection_size=int(data["selection_size"]),
            evaluation_size=int(data["evaluation_size"]),
            seed=int(data["seed"]),
            confidence=float(data["confidence"]),
            commit_days=int(data["commit_days"]),
            candidate=int(data["candidate"]),
            upper_bound=float(data["upper_bound"]),
            upper_bound_high=float(data["upper_bound_high"]),
            lower_bound=float(data["lower_bound"]),
            lower_bound_low=float(data["lower_bound_low"]),
            gap=float(data["gap"]),
            gap_high=float(data["gap_high"]),
            gap_high_from_bounds=float(data["gap_high_from_bounds"]),
            gap_high_from=str(data["gap_high_from"]),
            recourse_without_fairness=int(data.get("recourse_without_fairness") or 0),
            instance=str(data["instance"]),
            committed=committed,
            per_replication=frame.set_index("replication").astype(
                {"seed": "int64", "in_gap": bool, "note": str}
            ),
            info=dict(data.get("info") or {}),
            risk=str(data.get("risk") or "neutral"),
            objective=str(data.get("objective") or SaaObjective(Risk()).describe()),
            today=int(data.get("today") or 0),
            eta=None if eta is None else float(eta),
            executed=executed,
        )


REP_COLUMNS = [
    "seed", "value", "bound", "selection", "candidate_value", "gap", "in_gap", "note"
]  # fmt: skip


def _num(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 9)
    return v


__all__ = ["REP_COLUMNS", "SaaResult"]
