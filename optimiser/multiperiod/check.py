"""check-plan: replay a plan through the independent simulation (simulate.py) and check the
fairness constraints over the horizon from their definitions.

No model code here either (docs/multiperiod.md, "check-plan"): the settings a plan was made
under come from the instance (with the planner's switches applied, `with_settings`), from a
PlanResult, or from the result.json `triage plan --out` writes beside plan.csv
(`recorded_context`); the constraints are parsed by optimiser.constraints (input parsing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from optimiser.constraints import ConstraintSpec, to_specs
from optimiser.errors import InputError, Problem
from optimiser.multiperiod.checks import checked_kinds, fairness_violations
from optimiser.multiperiod.checks._common import Useful, parked_units
from optimiser.multiperiod.instance import MultiPeriodInstance, PlanSettings, _check_setting
from optimiser.multiperiod.plan_io import plan_rows
from optimiser.multiperiod.results import CheckResult, PlanResult
from optimiser.multiperiod.simulate import simulate
from optimiser.multiperiod_args import check_multiperiod
from optimiser.textfiles import load_json

RECORD_FILE = "result.json"  # written by `triage plan --out` beside plan.csv and manifest.csv


@dataclass(frozen=True)
class RecordedPlan:
    """The settings and constraints a plan was made under, as `triage plan --out` recorded
    them (result.json beside the plan)."""

    path: Path
    instance: str
    days: int | None
    settings: dict[str, Any]
    constraints: tuple[str, ...]
    fingerprint: str | None
    today: int = 0  # a re-plan's first day: the rows before it were executed moves


def recorded_context(plan_file: str | Path) -> RecordedPlan | None:
    """The result.json beside `plan_file`, when there is one written by `triage plan`; None
    otherwise. A result.json that is not a plan's is refused (InputError), never guessed."""
    path = Path(plan_file).parent / RECORD_FILE
    if not path.is_file():
        return None
    try:
        payload = load_json(path.read_text(encoding="utf-8-sig"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            Problem(f"cannot read the plan's recorded settings: {exc}", file=str(path))
        ) from exc
    if not isinstance(payload, dict) or "shipments" not in payload:
        return None  # another command's result (for example `triage solve --out`)
    settings = payload.get("settings")
    labels = payload.get("constraints")
    known = {f.name for f in fields(PlanSettings)}
    if (
        not isinstance(settings, dict)
        or not set(settings) <= known
        or not isinstance(labels, list)
        or not all(isinstance(c, str) for c in labels)
    ):
        raise InputError(
            Problem(
                "'settings' must be an object of plan settings and 'constraints' a list of "
                "labels (as `triage plan --out` writes them)",
                file=str(path),
            )
        )
    # a damaged value is the record's problem, named there (not an option of the command)
    problems: list[Problem] = []
    for key, value in settings.items():
        if value is not None:
            _check_setting(key, value, problems, f"'settings.{key}'", file=str(path))
    if problems:
        raise InputError(problems)
    days = payload.get("days")
    today = payload.get("today")
    return RecordedPlan(
        path=path,
        instance=str(payload.get("instance", "")),
        days=days if isinstance(days, int) else None,
        settings=dict(settings),
        constraints=tuple(labels),
        fingerprint=payload.get("fingerprint"),
        today=today if isinstance(today, int) and not isinstance(today, bool) and today > 0 else 0,
    )


def check_constraints(specs: Iterable[ConstraintSpec]) -> tuple[ConstraintSpec, ...]:
    """The checker's own list of what it can check over the horizon (a checker per kind:
    checks/<kind>.py)."""
    specs = tuple(specs)
    bad = [s for s in specs if s.kind not in checked_kinds()]
    if bad:
        raise InputError(
            Problem(
                f"constraint {bad[0].label}: not available over the horizon "
                f"(multi-period constraints: {', '.join(checked_kinds())})"
            )
        )
    return specs


def check_plan(
    instance: MultiPeriodInstance,
    plan_file: str | Path | pd.DataFrame | PlanResult,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    default_constraints: bool = True,
    today: int | None = None,
) -> CheckResult:
    """Replay a plan through the independent simulation (simulate.py): its expected survivors,
    shortfall and every rule it breaks, including the active fairness constraints over the
    horizon (on the units each region received net by the last day).

    `plan_file`: a plan CSV, a DataFrame in its form (PlanResult.plan, .manifest) or read_plan's,
    or a PlanResult (then its settings, and its constraints unless others are given, are
    used). The instance's settings are the rules replayed: pass the instance the plan was made
    with (`load_multiperiod(...).with_settings(...)`).

    `today`: the day a re-plan started from (`triage plan --executed`; a PlanResult's own by
    default, else 0): rows before it are executed moves, to which the dispatch rules (batch
    size, shipments per day) do not apply; every other rule does."""
    check_multiperiod(instance, "optimiser.multiperiod.check_plan")
    source = "instance"
    if isinstance(plan_file, PlanResult):
        result, source = plan_file, "PlanResult"
        if result.lives_saved is None:  # its plan is an empty frame, not a plan with no rows
            raise InputError(
                Problem(
                    f"the PlanResult has no plan to check (status {result.status}"
                    + (f": {result.explanation}" if result.explanation else "")
                    + ")"
                )
            )
        instance = instance.with_settings(**result.settings)
        if today is None:
            today = result.today
        if constraints is None and default_constraints:
            constraints, default_constraints = list(result.constraints), False
        plan_file = result.plan
    name = "plan" if isinstance(plan_file, pd.DataFrame) else Path(plan_file).name
    rows = plan_rows(plan_file, instance, name=name)
    base = list(instance.base.constraints) if default_constraints else []
    active = check_constraints(to_specs([*base, *(constraints or ())]))
    sim = simulate(instance, rows, today=today or 0)
    violations = [v.to_dict() for v in sim.violations]
    violations += [v.to_dict() for v in fairness_violations(instance, sim, active)]
    T = instance.days
    regions = pd.DataFrame(index=pd.Index(instance.regions, name="region"))
    regions["admitted"] = sim.admitted.sum(axis=1)
    regions["not_admitted"] = sim.lost.sum(axis=1)
    regions["expected_survivors"] = sim.survivors_by_region
    regions["net_received"] = sim.net_received
    regions["shortfall"] = sim.shortfall.sum(axis=1)
    regions["units_on_hand_last_day"] = sim.on_hand[:, T - 1]
    # when each region can use a unit, and the units it keeps where they treat no one
    useful = Useful.of(instance)
    regions["last_useful_day"] = useful.day.astype(float)  # -1: it can never use a unit
    regions["units_parked_after_last_useful_day"] = parked_units(instance, sim)
    s = instance.settings
    return CheckResult(
        instance=instance.name,
        plan_file=name,
        survivors=sim.survivors,
        shortfall=float(sim.shortfall.sum()),
        violations=violations,
        regions=regions,
        greedy_admissions=sim.greedy,
        rows=len(rows),
        constraints=tuple(c.label for c in active),
        settings={f.name: getattr(s, f.name) for f in fields(s)},
        settings_source=source,
    )


__all__ = ["RECORD_FILE", "RecordedPlan", "check_constraints", "check_plan", "recorded_context"]
