"""Results of the multi-period planner and of check-plan: frozen, labelled, JSON-ready."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from optimiser.json_values import json_number, json_ready
from optimiser.results import PRICE_COLUMNS, SolverInfo, labelled_frame, status_from_text
from optimiser.solver import SolveStatus

__all__ = [
    "PRICE_COLUMNS",
    "CheckResult",
    "MovementCleanup",
    "PlanResult",
    "manifest_from_dict",
]

MOVEMENT_ORDER = {"ship": 0, "transfer": 1, "patients": 2, "admit": 3}

CLEANUP_STATUSES = ("cleaned", "unchanged", "skipped", "not_finished", "rejected")


@dataclass(frozen=True)
class MovementCleanup:
    """What the movement cleanup did to a plan: `status` cleaned (movements replaced),
    unchanged (already the least cost), skipped (not run: `reason`), not_finished (the budget
    ran out: the plan is kept as it was) or rejected (an answer failed the check of the rows:
    kept as it was). Units moved count units shipped plus units transferred."""

    status: str
    reason: str = ""
    units_before: float = 0.0
    units_after: float = 0.0
    transferred_before: float = 0.0
    transferred_after: float = 0.0
    cost_before: float = 0.0
    cost_after: float = 0.0
    seconds: float = 0.0
    lp_whole: bool | None = None  # the LP's optimum was whole (no MIP needed)

    def to_dict(self) -> dict[str, Any]:
        return {k: (json_number(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MovementCleanup:
        """The inverse of to_dict; ValueError for a status not in CLEANUP_STATUSES."""
        status = str(data["status"])
        if status not in CLEANUP_STATUSES:
            raise ValueError(
                f"movement cleanup status must be one of {CLEANUP_STATUSES}, got {status!r}"
            )
        whole = data.get("lp_whole")
        return cls(
            status=status,
            reason=str(data.get("reason") or ""),
            units_before=float(data.get("units_before") or 0.0),
            units_after=float(data.get("units_after") or 0.0),
            transferred_before=float(data.get("transferred_before") or 0.0),
            transferred_after=float(data.get("transferred_after") or 0.0),
            cost_before=float(data.get("cost_before") or 0.0),
            cost_after=float(data.get("cost_after") or 0.0),
            seconds=float(data.get("seconds") or 0.0),
            lp_whole=None if whole is None else bool(whole),
        )


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
    movement_cleanup: MovementCleanup | None = None  # what the movement cleanup did

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
                        "patients": json_number(float(row["units"])),
                        "cohort_day": _day_or_none(row.get("cohort_day")),
                        "status": str(row.get("status", "planned")),
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
            "lives_saved": json_number(self.lives_saved),
            "lives_optimal": json_number(self.lives_optimal),
            "lives_optimal_bound": json_number(self.lives_optimal_bound),
            "lives_lost_total": json_number(lost),
            "lives_lost_pct": json_number(
                None
                if lost is None or not self.lives_optimal
                else 100.0 * lost / self.lives_optimal
            ),
            "shortfall_resource_days": json_number(self.shortfall),
            "supply_shortfall_resource_days": json_number(self.supply_shortfall),
            "logistics_cost": json_number(self.logistics_cost),
            "reserve_left": json_number(self.reserve_left),
            "constraints": list(self.constraints),
            "settings": json_ready(self.settings, digits=None),
            "shipments": self.shipments(),
            "patient_transfers": patients,
            "executed_rows": self.executed_rows,
            "regions": self._region_rows(),
            "price_of_fairness": [
                {k: json_number(v) for k, v in row.items()}
                for row in self.price_of_fairness.to_dict("records")
            ],
            "explanation": self.explanation,
            "solver": None if self.solver is None else self.solver.to_dict(),
            "objective_bound": json_number(self.objective_bound),
            "movement_cleanup": None
            if self.movement_cleanup is None
            else self.movement_cleanup.to_dict(),
            "notes": list(self.notes),
            "model_size": json_ready(self.sizes),
            "timings": {k: json_number(v, 6) for k, v in self.timings.items()},
            "fingerprint": self.fingerprint,
        }

    def _region_rows(self) -> list[dict[str, Any]]:
        """regions as JSON objects: each row's values by json_number (a row tuple each, not
        iterrows' Series: 0.1 CPU-s at 1,000 regions; the same values; track pyrest2)."""
        keys = [str(k) for k in self.regions.columns]
        return [
            {"region": str(rid), **{k: json_number(v) for k, v in zip(keys, row, strict=True)}}
            for rid, row in zip(
                self.regions.index, self.regions.itertuples(index=False, name=None), strict=True
            )
        ]

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
        if manifest is None:
            manifest = manifest_from_dict(data)
        solver = data.get("solver")
        return cls(
            instance=str(data["instance"]),
            status=status_from_text(data["status"]),
            days=int(data["days"]),
            start_date=data.get("start_date"),
            lives_saved=data.get("lives_saved"),
            lives_optimal=data.get("lives_optimal"),
            constraints=tuple(data.get("constraints") or ()),
            settings=dict(data.get("settings") or {}),
            manifest=manifest,
            plan=plan if plan is not None else pd.DataFrame(),
            daily=daily if daily is not None else pd.DataFrame(),
            regions=labelled_frame(data["regions"], "region"),
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
            solver=None if not solver else SolverInfo.from_dict(solver),
            timings=dict(data.get("timings") or {}),
            fingerprint=str(data.get("fingerprint") or ""),
            resource=str(data.get("resource") or "ventilator"),
            sizes=dict(data.get("model_size") or {}),
            notes=tuple(data.get("notes") or ()),
            lives_optimal_bound=data.get("lives_optimal_bound"),
            objective_bound=data.get("objective_bound"),
            movement_cleanup=None
            if not data.get("movement_cleanup")
            else MovementCleanup.from_dict(data["movement_cleanup"]),
        )

    def _repr_html_(self) -> str:
        """A summary for notebooks (optimiser.notebook)."""
        from optimiser.notebook import plan_html

        return plan_html(self)


# What check-plan's shortfall is of (text and JSON): a figure of the admissions replayed, not of
# the moves alone (docs/multiperiod.md, "Which file to replay").
SHORTFALL_OF_PLAN = (
    "with the plan's admit rows (the same moves replayed without them use the simulation's "
    "admissions and can give another shortfall for the same survivors)"
)
SHORTFALL_OF_SIMULATED = (
    "with the simulation's admissions (earliest deadline first), not the planner's: the same "
    "moves and survivors can turn other patients away and leave another shortfall; replay "
    "plan.csv for the planner's figure"
)


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

    @property
    def shortfall_of(self) -> str:
        """Which admissions the shortfall is of (it depends on them, not only on the moves)."""
        return SHORTFALL_OF_SIMULATED if self.greedy_admissions else SHORTFALL_OF_PLAN

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "plan": self.plan_file,
            "ok": self.ok,
            "expected_survivors": json_number(self.survivors),
            "shortfall_resource_days": json_number(self.shortfall),
            "shortfall_of": self.shortfall_of,
            "admissions": "simulated (the plan has no admit rows)"
            if self.greedy_admissions
            else "from the plan",
            "rows": self.rows,
            "violations": json_ready(self.violations),
            "rules_broken": sorted({v["rule"] for v in self.violations}),
            "constraints": list(self.constraints),
            "settings": json_ready(self.settings, digits=None),
            "settings_source": self.settings_source,
            "regions": self._region_rows(),
        }

    def _region_rows(self) -> list[dict[str, Any]]:
        """regions as JSON objects: each row's values by json_number (a row tuple each, not
        iterrows' Series: 0.1 CPU-s at 1,000 regions; the same values; track pyrest2)."""
        keys = [str(k) for k in self.regions.columns]
        return [
            {"region": str(rid), **{k: json_number(v) for k, v in zip(keys, row, strict=True)}}
            for rid, row in zip(
                self.regions.index, self.regions.itertuples(index=False, name=None), strict=True
            )
        ]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """The inverse of to_dict (a `triage check-plan --json` object); `ok` and
        `rules_broken` are derived from the violations, `admissions` and `shortfall_of` from
        greedy_admissions."""
        return cls(
            instance=str(data["instance"]),
            plan_file=str(data["plan"]),
            survivors=float(data["expected_survivors"]),
            shortfall=float(data["shortfall_resource_days"]),
            violations=[dict(v) for v in data.get("violations") or []],
            regions=labelled_frame(data.get("regions"), "region"),
            greedy_admissions=str(data["admissions"]).startswith("simulated"),
            rows=int(data["rows"]),
            constraints=tuple(data.get("constraints") or ()),
            settings=dict(data.get("settings") or {}),
            settings_source=str(data.get("settings_source") or "instance"),
        )


def manifest_from_dict(data: dict[str, Any]) -> pd.DataFrame:
    """The manifest (plan_io.plan_frame's CSV form, in the extractor's row order: day, kind,
    from, to) rebuilt from a PlanResult's `shipments` and `patient_transfers`."""
    from optimiser.multiperiod.plan_io import _number  # the CSV's text form of a quantity

    rows: list[dict[str, Any]] = []
    for item in data.get("shipments") or []:
        rows.append({**item, "units": _number(item["units"]), "cohort_day": ""})
    for item in data.get("patient_transfers") or []:
        rows.append(
            {
                "kind": "patients",
                "day": item["day"],
                "from": item["from"],
                "to": item["to"],
                "units": _number(item["patients"]),
                "arrives": item["day"],  # patients are admitted on arrival, the same day
                "cohort_day": "" if item.get("cohort_day") is None else str(item["cohort_day"]),
                "status": item.get("status", "planned"),
            }
        )
    columns = ["kind", "day", "from", "to", "units", "arrives", "cohort_day"]
    start = data.get("start_date")
    if start is not None:  # plan_frame's dates: instance.date of the day and of the arrival
        first = dt.date.fromisoformat(str(start))
        for row in rows:
            row["dispatch_date"] = (first + dt.timedelta(days=int(row["day"]))).isoformat()
            row["arrival_date"] = (first + dt.timedelta(days=int(row["arrives"]))).isoformat()
        columns += ["dispatch_date", "arrival_date"]
    frame = pd.DataFrame(rows, columns=[*columns, "status"])
    frame = frame.astype({"day": "int64", "arrives": "int64"})
    frame = frame.sort_values(
        ["day", "kind", "from", "to"],
        key=lambda c: c.map(MOVEMENT_ORDER) if c.name == "kind" else c,
        kind="stable",
    )
    return frame.reset_index(drop=True)


def _day_or_none(value: Any) -> int | None:
    """A manifest's cohort_day (text in plan_frame's form, a number when read from CSV)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(float(value))
