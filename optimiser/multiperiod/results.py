"""Results of the multi-period planner and of check-plan: frozen, labelled, JSON-ready."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimiser.results import PRICE_COLUMNS, SolverInfo
from optimiser.solver import SolveStatus

__all__ = ["PRICE_COLUMNS", "CheckResult", "PlanResult"]


@dataclass(frozen=True)
class PlanResult:
    """A delivery plan with its lives, shortfall, price of fairness and provenance.

    manifest: one row per movement (kind ship | transfer | patients; day, from, to, units,
    arrives; status executed | planned). plan: the manifest plus the admit rows, the file
    check-plan replays. daily: one row per region and day. regions: totals per region.
    """

    instance: str
    status: SolveStatus | str
    days: int
    start_date: str | None
    lives_saved: float | None
    lives_optimal: float | None
    constraints: tuple[str, ...]
    settings: dict[str, Any]
    manifest: pd.DataFrame
    plan: pd.DataFrame
    daily: pd.DataFrame
    regions: pd.DataFrame
    price_of_fairness: pd.DataFrame
    shortfall: float | None = None
    supply_shortfall: float | None = None
    logistics_cost: float | None = None
    reserve_left: float | None = None
    today: int = 0
    executed_rows: int = 0
    explanation: str | None = None
    solver: SolverInfo | None = None
    timings: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""
    resource: str = "ventilator"
    sizes: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # switches that change nothing here, said plainly
    lives_optimal_bound: float | None = None  # proven upper bound on L*
    objective_bound: float | None = None  # best upper bound known on the objective (lives,
    # weighted when a prioritarian constraint is active): the gap is measured against it

    @property
    def lives_lost_total(self) -> float | None:
        if self.lives_saved is None or self.lives_optimal is None:
            return None
        # lives_optimal is the most lives of any plan found (this one included): a difference
        # below zero is rounding in the last digits
        return max(0.0, self.lives_optimal - self.lives_saved)

    def shipments(self) -> list[dict[str, Any]]:
        """Unit movements (depot shipments and transfers) as plain objects."""
        out = []
        frame = (
            self.manifest[self.manifest["kind"].isin(["ship", "transfer"])]
            if len(self.manifest)
            else self.manifest
        )
        for row in frame.to_dict("records"):
            item = {
                "day": int(row["day"]),
                "from": str(row["from"]),
                "to": str(row["to"]),
                "units": int(row["units"]),
                "arrives": int(row["arrives"]),
                "kind": str(row["kind"]),
                "status": str(row.get("status", "planned")),
            }
            if "dispatch_date" in row:
                item["dispatch_date"] = row["dispatch_date"]
                item["arrival_date"] = row["arrival_date"]
            out.append(item)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `triage plan --json`."""
        patients = []
        if len(self.manifest):
            for row in self.manifest[self.manifest["kind"] == "patients"].to_dict("records"):
                patients.append(
                    {
                        "day": int(row["day"]),
                        "from": row["from"],
                        "to": row["to"],
                        "patients": _clean(float(row["units"])),
                    }
                )
        lost = self.lives_lost_total
        return {
            "instance": self.instance,
            "status": str(self.status),
            "resource": self.resource,
            "days": self.days,
            "start_date": self.start_date,
            "today": self.today,
            "lives_saved": _clean(self.lives_saved),
            "lives_optimal": _clean(self.lives_optimal),
            "lives_optimal_bound": _clean(self.lives_optimal_bound),
            "lives_lost_total": _clean(lost),
            "lives_lost_pct": _clean(
                None
                if lost is None or not self.lives_optimal
                else 100.0 * lost / self.lives_optimal
            ),
            "shortfall_resource_days": _clean(self.shortfall),
            "supply_shortfall_resource_days": _clean(self.supply_shortfall),
            "logistics_cost": _clean(self.logistics_cost),
            "reserve_left": _clean(self.reserve_left),
            "constraints": list(self.constraints),
            "settings": self.settings,
            "shipments": self.shipments(),
            "patient_transfers": patients,
            "executed_rows": self.executed_rows,
            "regions": [
                {"region": str(rid), **{str(k): _clean(v) for k, v in row.items()}}
                for rid, row in self.regions.iterrows()
            ],
            "price_of_fairness": [
                {k: _clean(v) for k, v in row.items()}
                for row in self.price_of_fairness.to_dict("records")
            ],
            "explanation": self.explanation,
            "solver": None
            if self.solver is None
            else {
                "name": self.solver.name,
                "version": self.solver.version,
                "gap": _clean(self.solver.gap),
                "seconds": round(self.solver.seconds, 6),
                "solves": self.solver.solves,
            },
            "objective_bound": _clean(self.objective_bound),
            "notes": list(self.notes),
            "model_size": self.sizes,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "fingerprint": self.fingerprint,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        manifest: pd.DataFrame | None = None,
        plan: pd.DataFrame | None = None,
        daily: pd.DataFrame | None = None,
    ) -> PlanResult:
        """The inverse of to_dict (a `triage plan --json` object or result.json). The JSON
        holds no daily table and no admit rows: give `daily` and `plan` (daily.csv and
        plan.csv of `plan --out`) to have them; `manifest` (manifest.csv) replaces the one
        rebuilt from `shipments` and `patient_transfers`. KeyError, TypeError or ValueError
        when the object is not the contract's."""
        regions = pd.DataFrame(data["regions"]).set_index("region")
        regions.index = regions.index.astype(str)
        if manifest is None:
            manifest = pd.DataFrame(
                [dict(m) for m in data.get("shipments") or []]
                + [
                    {"kind": "patients", "units": p.get("patients"), **p}
                    for p in data.get("patient_transfers") or []
                ]
            )
        solver = data.get("solver")
        return cls(
            instance=str(data["instance"]),
            status=str(data["status"]),
            days=int(data["days"]),
            start_date=data.get("start_date"),
            lives_saved=data.get("lives_saved"),
            lives_optimal=data.get("lives_optimal"),
            constraints=tuple(data.get("constraints") or ()),
            settings=dict(data.get("settings") or {}),
            manifest=manifest,
            plan=plan if plan is not None else pd.DataFrame(),
            daily=daily if daily is not None else pd.DataFrame(),
            regions=regions,
            price_of_fairness=pd.DataFrame(
                data.get("price_of_fairness") or [], columns=PRICE_COLUMNS
            ),
            shortfall=data.get("shortfall_resource_days"),
            supply_shortfall=data.get("supply_shortfall_resource_days"),
            logistics_cost=data.get("logistics_cost"),
            reserve_left=data.get("reserve_left"),
            today=int(data.get("today") or 0),
            executed_rows=int(data.get("executed_rows") or 0),
            explanation=data.get("explanation"),
            solver=None
            if not solver
            else SolverInfo(
                name=str(solver.get("name")),
                version=str(solver.get("version")),
                gap=solver.get("gap"),
                seconds=float(solver.get("seconds") or 0.0),
                solves=int(solver.get("solves") or 0),
            ),
            timings=dict(data.get("timings") or {}),
            fingerprint=str(data.get("fingerprint") or ""),
            resource=str(data.get("resource") or "ventilator"),
            sizes=dict(data.get("model_size") or {}),
            notes=tuple(data.get("notes") or ()),
            objective_bound=data.get("objective_bound"),
        )

    def _repr_html_(self) -> str:
        """A summary for notebooks (optimiser.notebook)."""
        from optimiser.notebook import plan_html

        return plan_html(self)


@dataclass(frozen=True)
class CheckResult:
    """check-plan's answer: the replay's survivors and shortfall, and every rule broken."""

    instance: str
    plan_file: str
    survivors: float
    shortfall: float
    violations: list[dict[str, Any]]
    regions: pd.DataFrame
    greedy_admissions: bool
    rows: int
    constraints: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    settings_source: str = "instance"  # instance | recorded (result.json) | PlanResult | options

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "plan": self.plan_file,
            "ok": self.ok,
            "expected_survivors": _clean(self.survivors),
            "shortfall_resource_days": _clean(self.shortfall),
            "admissions": "simulated (the plan has no admit rows)"
            if self.greedy_admissions
            else "from the plan",
            "rows": self.rows,
            "violations": self.violations,
            "rules_broken": sorted({v["rule"] for v in self.violations}),
            "constraints": list(self.constraints),
            "settings": self.settings,
            "settings_source": self.settings_source,
            "regions": [
                {"region": str(rid), **{str(k): _clean(v) for k, v in row.items()}}
                for rid, row in self.regions.iterrows()
            ],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 9)
    return value
