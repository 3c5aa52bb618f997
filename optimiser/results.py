"""Result types: frozen, labelled with the instance's region ids, JSON-ready."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.json_values import json_number
from optimiser.solver import SolveStatus

PRICE_COLUMNS = [
    "constraint",
    "lives_saved_alone",
    "lives_lost_alone",
    "lives_lost_marginal",
    # the intervals the solver's bounds prove (docs/model.md, Price of fairness); `exact`: both
    # are at most PRICE_PRECISION wide, so the point values above are exact to that
    "lives_lost_alone_low",
    "lives_lost_alone_high",
    "lives_lost_marginal_low",
    "lives_lost_marginal_high",
    "exact",
    "note",
]
CLIPPED_COLUMNS = ["constraint", "region", "requested", "staff_cap"]
# A price is a difference of two optima: each is solved to within half of this (absolute MIP
# gap), so the price is exact to it, or reported with its interval and flagged.
PRICE_PRECISION = 0.01


@dataclass(frozen=True)
class SolverInfo:
    name: str
    version: str
    gap: float | None
    seconds: float
    solves: int
    pyomo_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "gap": json_number(self.gap),
            "seconds": json_number(self.seconds, 6),
            "solves": self.solves,
            "pyomo_version": self.pyomo_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SolverInfo:
        """The inverse of to_dict (a payload without pyomo_version or solves still reads)."""
        return cls(
            name=str(data.get("name")),
            version=str(data.get("version")),
            gap=data.get("gap"),
            seconds=float(data.get("seconds") or 0.0),
            solves=int(data.get("solves") or 0),
            pyomo_version=str(data.get("pyomo_version") or ""),
        )


@dataclass(frozen=True)
class AllocationResult:
    """An allocation with its lives, price of fairness and provenance.

    regions: one row per region id: units, useful_units, lives, excess_demand, capacity,
    peak_demand, coverage_before, coverage_after, staff_cap, units_unconstrained, change.
    price_of_fairness: one row per active constraint (PRICE_COLUMNS).
    """

    instance: str
    policy: str
    status: SolveStatus | str
    supply: int
    lives_saved: float | None
    regions: pd.DataFrame
    unallocated: int | None
    constraints: tuple[str, ...]
    price_of_fairness: pd.DataFrame
    lives_optimal: float | None = None  # L*, no fairness constraint
    lives_optimal_bound: float | None = None  # proven upper bound on L* (solver's dual bound)
    # proven upper bound on the lives of any allocation under the active constraints (the
    # solver's dual bound; the lives themselves when exact; None for rules and weights)
    lives_saved_bound: float | None = None
    lives_lost_total: float | None = None
    lives_lost_pct: float | None = None
    clipped_floors: pd.DataFrame = field(default_factory=pd.DataFrame)
    violations: tuple[str, ...] = ()
    explanation: str | None = None
    solver: SolverInfo | None = None
    timings: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""
    resource: str = "ventilator"
    price_skipped: bool = False  # constraints were active but the price was not asked for

    @property
    def allocation(self) -> dict[str, int]:
        if self.regions.empty or "units" not in self.regions:
            return {}
        return {str(r): int(u) for r, u in self.regions["units"].items()}

    @property
    def is_optimal(self) -> bool:
        return self.status == SolveStatus.OPTIMAL

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `triage solve --json` and POST /v1/solve."""
        return {
            "instance": self.instance,
            "status": str(self.status),
            "policy": self.policy,
            "resource": self.resource,
            "supply": self.supply,
            "lives_saved": json_number(self.lives_saved),
            "allocation": self.allocation,
            "unallocated": self.unallocated,
            "constraints": list(self.constraints),
            "price_of_fairness": [
                {k: json_number(v) for k, v in row.items()}
                for row in self.price_of_fairness.to_dict("records")
            ],
            "price_of_fairness_skipped": self.price_skipped,
            "lives_optimal": json_number(self.lives_optimal),
            "lives_optimal_bound": json_number(self.lives_optimal_bound),
            "lives_saved_bound": json_number(self.lives_saved_bound),
            "lives_lost_total": json_number(self.lives_lost_total),
            "lives_lost_pct": json_number(self.lives_lost_pct),
            "regions": _region_records(self.regions),
            "clipped_floors": [
                {k: json_number(v) for k, v in row.items()}
                for row in self.clipped_floors.to_dict("records")
            ],
            "violations": list(self.violations),
            "explanation": self.explanation,
            "solver": None if self.solver is None else self.solver.to_dict(),
            "timings": {k: json_number(v, 6) for k, v in self.timings.items()},
            "fingerprint": self.fingerprint,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AllocationResult:
        """The inverse of to_dict: a stored result (`--json`, result.json, the service's
        response) as an AllocationResult again. Region order and ids are kept. Anything
        else (a damaged file, another command's JSON) is an InputError naming what is wrong."""
        if not isinstance(data, Mapping):
            raise InputError(Problem(f"a stored result must be a JSON object, got "
                                     f"{type(data).__name__}"))
        missing = [k for k in ("instance", "policy", "status", "supply") if k not in data]
        if missing:
            raise InputError(Problem(f"not a stored allocation result: no {', '.join(missing)} "
                                     "(the JSON of `triage solve --json` or result.json)"))
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(Problem(f"malformed allocation result: {type(exc).__name__}: "
                                     f"{exc}")) from None

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> AllocationResult:
        solver = data.get("solver")
        return cls(
            instance=str(data["instance"]),
            policy=str(data["policy"]),
            status=status_from_text(data["status"]),
            supply=int(data["supply"]),
            lives_saved=data.get("lives_saved"),
            regions=_unlimited_caps(labelled_frame(data.get("regions"), "region")),
            unallocated=data.get("unallocated"),
            constraints=tuple(data.get("constraints") or ()),
            price_of_fairness=pd.DataFrame(
                list(data.get("price_of_fairness") or []), columns=PRICE_COLUMNS
            ),
            lives_optimal=data.get("lives_optimal"),
            lives_optimal_bound=data.get("lives_optimal_bound"),
            lives_saved_bound=data.get("lives_saved_bound"),
            lives_lost_total=data.get("lives_lost_total"),
            lives_lost_pct=data.get("lives_lost_pct"),
            clipped_floors=pd.DataFrame(
                list(data.get("clipped_floors") or []), columns=CLIPPED_COLUMNS
            ),
            violations=tuple(data.get("violations") or ()),
            explanation=data.get("explanation"),
            solver=None if not solver else SolverInfo.from_dict(solver),
            timings=dict(data.get("timings") or {}),
            fingerprint=str(data.get("fingerprint", "")),
            resource=str(data.get("resource", "ventilator")),
            price_skipped=bool(data.get("price_of_fairness_skipped", False)),
        )

    def _repr_html_(self) -> str:
        """A summary for notebooks (optimiser.notebook)."""
        from optimiser.notebook import allocation_html

        return allocation_html(self)

    @classmethod
    def from_json(cls, text: str) -> AllocationResult:
        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:
            from optimiser.textfiles import json_error_words

            raise InputError(Problem(f"malformed JSON: {json_error_words(exc)}")) from None
        return cls.from_dict(data)


def status_from_text(text: Any) -> SolveStatus | str:
    """A SolveStatus when the text is one (a rule's or a weight's status stays text)."""
    status = str(text)
    return SolveStatus(status) if status in SolveStatus._value2member_map_ else status


def labelled_frame(records: Any, index: str) -> pd.DataFrame:
    """The inverse of a table written as one record per row with its id under `index` (the
    `regions` lists of the results' JSON): the ids as a str index named `index`, the other
    columns in their order. A column whose every value is null (NaN and inf are written as
    null) is read back as float NaN: these tables are numeric apart from their names."""
    frame = pd.DataFrame(list(records or []))
    if frame.empty:
        return pd.DataFrame()
    frame = frame.set_index(index)
    frame.index = frame.index.astype(str)
    for name in frame.columns:
        if frame[name].isna().all():
            frame[name] = frame[name].astype(float)
    return frame


def _unlimited_caps(regions: pd.DataFrame) -> pd.DataFrame:
    """A staff cap is never missing: inf (unlimited) is written as null, and read back so."""
    if "staff_cap" in regions:
        regions["staff_cap"] = regions["staff_cap"].fillna(math.inf)
    return regions


def _region_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One JSON-ready dict per row: {"region": id, column: value, ...}, the values taken from
    the frame's rows as DataFrame.iterrows gives them (frame.values), without a Series per row
    (100,000 regions: 0.5 s instead of 8 s)."""
    if frame.empty:
        return []
    names = [str(k) for k in frame.columns]
    return [
        {"region": str(rid), **dict(zip(names, map(json_number, row), strict=True))}
        for rid, row in zip(frame.index, frame.values, strict=True)
    ]
