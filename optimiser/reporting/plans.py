"""Plans as report inputs: a `triage plan --out` folder, its result.json, a PlanResult, or a
time series in the plan-chart contract; and the check that a plan belongs to the instance."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from optimiser import charts
from optimiser.errors import InputError, Problem, counted, listed
from optimiser.instance import Instance
from optimiser.reporting.provenance import _sha256
from optimiser.textfiles import json_reason

if TYPE_CHECKING:
    from optimiser.multiperiod.results import PlanResult

#: Time-series files (the plan-chart contract, charts.PLAN_COLUMNS) accepted as a plan.
TIME_SERIES_SUFFIXES = (".csv", ".parquet")
#: The columns of a plan's moves (plan.csv, manifest.csv, committed.csv): not a time series.
MOVE_COLUMNS = ("kind", "day", "from", "to", "units")


@dataclass(frozen=True)
class PlanInput:
    """A plan for the report: a multi-period PlanResult (plan mode) or, for the chart only, a
    time series in the plan-chart contract. `daily`: PLAN_COLUMNS (None: no daily table)."""

    result: PlanResult | None
    daily: pd.DataFrame | None
    source: str
    files_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def is_plan(self) -> bool:
        return self.result is not None


def plan_input(plan: Any, source: str | None = None) -> PlanInput:
    """A PlanInput from a PlanInput, a PlanResult or a time-series DataFrame."""
    from optimiser.multiperiod.results import PlanResult

    if isinstance(plan, PlanInput):
        return plan
    if isinstance(plan, PlanResult):
        daily = charts.plan_frame(plan) if len(plan.daily) else None
        return PlanInput(plan, daily, source or "PlanResult (Python)")
    if isinstance(plan, pd.DataFrame):
        return PlanInput(None, charts.plan_frame(plan), source or "DataFrame (Python)")
    raise InputError(Problem("a plan must be a PlanResult, a plan folder or a DataFrame"))


def read_plan_input(path: str | Path) -> PlanInput:
    """Read --from-plan: a `triage plan --out` folder, its result.json (with daily.csv,
    regions.csv, manifest.csv, plan.csv, price_of_fairness.csv beside it when present), or a
    time series (CSV/Parquet with region, day, units_on_hand, demand or need: the chart only)."""
    path = Path(path)
    where = f"--from-plan {path}"
    if path.is_dir():
        if not (path / "result.json").is_file():
            raise InputError(
                Problem(
                    f"{where}: no result.json in this folder; give a `triage plan --out` "
                    "folder, its result.json, or a time series (CSV/Parquet)"
                )
            )
        path = path / "result.json"
    if not path.is_file():
        raise InputError(Problem(f"{where}: file not found"))
    if path.suffix.lower() == ".json":
        return _read_plan_json(path, where)
    if path.suffix.lower() not in TIME_SERIES_SUFFIXES:
        raise InputError(
            Problem(f"{where}: expected a plan folder, result.json, or a .csv/.parquet time series")
        )
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:
        raise InputError(Problem(f"cannot read: {exc}", file=path.name)) from exc
    if set(MOVE_COLUMNS) <= set(frame.columns):
        raise InputError(
            Problem(
                f"{where}: a plan's moves ({', '.join(MOVE_COLUMNS)}), not a time series: "
                "give the `triage plan --out` folder or its result.json; the moves of a plan "
                f"under uncertainty (committed.csv) are reported by `triage scenarios evaluate "
                f"INSTANCE {path} --scenarios SCENARIOS --out DIR --report`"
            )
        )
    return PlanInput(None, charts.plan_frame(frame), str(path), {path.name: _sha256(path)})


def _other_result(data: Any, where: str, path: Path) -> str | None:
    """The words for the result.json of another command than `triage plan` (without
    --scenarios), naming what reports it; None when it is none of them."""
    if not isinstance(data, dict):
        return None
    if data.get("kind") == "stochastic_plan":
        committed = path.parent / "committed.csv"
        return (
            f"{where}: the result of `triage plan --scenarios` (a plan under uncertainty), which "
            "--from-plan does not read: its report is `triage plan INSTANCE --scenarios "
            "SCENARIOS --out DIR --report` (DIR/report.html, with the scenarios' fan charts), or "
            f"`triage scenarios evaluate INSTANCE {committed} --scenarios SCENARIOS --out DIR "
            "--report` for its committed moves"
        )
    if "policies" in data and "as_of" in data:
        return (
            f"{where}: the result of `triage backtest`, not a plan: its report is `triage "
            "backtest ... --out DIR --report` (DIR/report.html)"
        )
    if "allocation" in data and "policy" in data:
        return (
            f"{where}: the result of `triage solve` (one allocation), not a plan: an "
            "allocation's report is `triage report INSTANCE` without --from-plan (with the "
            "--constraint and --supply it was solved with)"
        )
    return None


def _read_plan_json(path: Path, where: str) -> PlanInput:
    """A PlanResult rebuilt from result.json (the `triage plan --json` contract) and the CSV
    files `triage plan --out` writes beside it."""
    try:
        data, why = json_reason(path.read_bytes())
    except OSError as exc:
        data, why = None, str(exc)
    if why is not None:  # nested too deeply or a number too long: not an internal error
        raise InputError(Problem(f"{where}: unreadable JSON ({why})"))
    needed = ("instance", "status", "days", "regions", "lives_saved", "fingerprint")
    other = _other_result(data, where, path)
    if other is not None:
        raise InputError(Problem(other))
    if not isinstance(data, dict) or any(k not in data for k in needed):
        raise InputError(
            Problem(f"{where}: not the result.json of `triage plan` (needs {', '.join(needed)})")
        )
    folder = path.parent
    files = {path.name: _sha256(path)}

    def table(name: str, **kwargs: Any) -> pd.DataFrame | None:
        file = folder / name
        if not file.is_file():
            return None
        files[name] = _sha256(file)
        try:
            return pd.read_csv(file, **kwargs)
        except Exception as exc:
            raise InputError(Problem(f"cannot read: {exc}", file=name)) from exc

    try:
        manifest = table("manifest.csv")
        if manifest is not None:
            _check_manifest(manifest, data, where)
        daily = table("daily.csv")
        plan_rows = table("plan.csv")
        table("regions.csv")  # hashed: the same numbers as result.json's regions
        table("price_of_fairness.csv")
        from optimiser.multiperiod.results import PlanResult

        result = PlanResult.from_dict(data, manifest=manifest, plan=plan_rows, daily=daily)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(Problem(f"{where}: malformed plan result ({exc})")) from exc
    frame = charts.plan_frame(result) if len(result.daily) else None
    return PlanInput(result, frame, str(path), files)


MANIFEST_CORE = ("kind", "day", "from", "to", "units", "arrives")


def _check_manifest(manifest: pd.DataFrame, data: dict[str, Any], where: str) -> None:
    """manifest.csv read back must be the one `triage plan --out` wrote beside result.json: its
    movements (as many as result.json lists), each with kind, day, from, to, units and arrives.
    A truncated or edited file is refused here, not met as a crash or a wrong report."""
    from optimiser.multiperiod.results import manifest_from_dict

    expected = len(manifest_from_dict(data))
    missing = [c for c in MANIFEST_CORE if c not in manifest.columns]
    blank = 0 if missing else int(manifest[list(MANIFEST_CORE)].isna().any(axis=1).sum())
    if missing or blank or len(manifest) != expected:
        found = (f"no {listed('column', missing, ' ')}" if missing else
                 f"{counted(blank, 'row')} with an empty kind, day, from, to, units or arrives"
                 if blank
                 else f"{counted(len(manifest), 'movement')}")
        raise InputError(Problem(
            f"{where}: manifest.csv does not match result.json ({found}; result.json lists "
            f"{counted(expected, 'movement')}): it was changed after `triage plan --out` wrote it; "
            "write the plan again", file="manifest.csv"))


def plan_fingerprint(instance: Instance, settings: Mapping[str, Any]) -> str | None:
    """The multi-period fingerprint of the instance's folder under a plan's settings (what
    `triage plan` records); None when the instance has no folder with a demand.csv."""
    from optimiser.multiperiod.instance import PlanSettings, is_multiperiod, load_multiperiod

    if instance.path is None or not is_multiperiod(instance.path):
        return None
    mp = load_multiperiod(instance.path)
    known = {f.name for f in dataclasses.fields(PlanSettings)}
    if set(settings) - known:
        return ""  # settings this engine does not know: cannot be the same plan
    return dataclasses.replace(mp, settings=PlanSettings(**settings)).fingerprint()


def check_plan_matches(plan: PlanInput, instance: Instance) -> None:
    """InputError unless the plan is for this instance: same regions and, for a plan result,
    the same multi-period data (fingerprint) when the instance folder has it, else the name."""
    where = f"--from-plan {plan.source}"
    ids = set(instance.region_ids)
    if plan.result is not None:
        theirs = {str(r) for r in plan.result.regions.index}
        if not theirs and plan.daily is not None:
            theirs = set(plan.daily["region"].astype(str))
        exact = True
    else:
        assert plan.daily is not None
        theirs = set(plan.daily["region"].astype(str))
        exact = False
    unknown = sorted(theirs - ids)
    missing = sorted(ids - theirs) if exact else []
    if unknown or missing:
        detail = "; ".join(
            part
            for part in (
                f"regions not in the instance: {_few(unknown)}" if unknown else "",
                f"instance regions not in the plan: {_few(missing)}" if missing else "",
            )
            if part
        )
        raise InputError(
            Problem(f"{where}: the plan is not for instance {instance.name} ({detail})")
        )
    if plan.result is None:
        return
    result = plan.result
    mine = plan_fingerprint(instance, result.settings)
    if mine is None:
        if instance.path is not None:
            raise InputError(
                Problem(
                    f"{where}: instance {instance.name} has no demand.csv: a plan belongs to a "
                    "multi-period instance folder"
                )
            )
        if result.instance != instance.name:
            raise InputError(
                Problem(f"{where}: the plan is for instance {result.instance}, not {instance.name}")
            )
        return
    if result.fingerprint and result.fingerprint != mine:
        raise InputError(
            Problem(
                f"{where}: the plan was made for other data (plan of {result.instance}, "
                f"fingerprint {result.fingerprint}; {instance.name} with the plan's settings: "
                f"{mine}); run `triage plan` on this instance again"
            )
        )


def _few(items: Sequence[str], most: int = 6) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def plan_provenance(given: PlanInput) -> dict[str, Any]:
    out: dict[str, Any] = {"source": given.source, "files_sha256": dict(given.files_sha256)}
    if given.result is not None:
        out["fingerprint"] = given.result.fingerprint
        if not given.files_sha256:  # a PlanResult from Python: hash its JSON contract
            text = json.dumps(given.result.to_dict(), sort_keys=True, default=str)
            out["result_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    else:
        out["kind"] = "time series (plan-chart contract)"
    return out
