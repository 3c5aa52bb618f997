"""Read, validate and write scenario sets (docs/scenarios.md, "Files").

    scenarios.csv         scenario, region, day, census | new_patients   (the instance's kind)
    scenario_weights.csv  scenario, probability       (optional: equally likely without it)
    scenarios.json        how the set was made        (optional; written by the generators)

Validation follows optimiser/multiperiod/instance.py: every problem is listed, each naming its
file, line and column (rows for DataFrames given in Python); a scenario missing regions or days
says which; magnitudes are bounded as elsewhere (patients <= 1,000,000,000, days within the
instance's horizon); probabilities are >= 0 and sum to 1 within PROBABILITY_TOLERANCE.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from optimiser.errors import InputError, Problem, counted, listed, plural
from optimiser.instance import _frame_as_text, _in_rows, _read_bytes, _read_csv
from optimiser.json_values import json_ready
from optimiser.multiperiod.instance import (
    DEMAND_KINDS,
    MAX_LISTED,
    MAX_ROW_PROBLEMS,
    MAX_UNITS,
    MultiPeriodInstance,
    _lines,
    _listing,
    _ranges,
    _report_rows,
    day_numbers,
    numbers,
)
from optimiser.scenarios.model import PROBABILITY_TOLERANCE, ScenarioSet, check_compatible
from optimiser.textfiles import json_reason

SCENARIOS_FILE = "scenarios.csv"
WEIGHTS_FILE = "scenario_weights.csv"
META_FILE = "scenarios.json"
MAX_SCENARIOS = 100_000  # far beyond any evaluation; keeps arrays and messages bounded
MAX_ID_LENGTH = 100
WRITTEN_KEYS = ("demand_kind", "scenarios", "days", "start_date")  # scenarios.json: derived


def load_scenarios(path: str | Path, instance: MultiPeriodInstance) -> ScenarioSet:
    """A scenario set from a folder holding scenarios.csv (and scenario_weights.csv,
    scenarios.json) or from a scenarios CSV file (its weights and metadata, when present, are
    the files of those names beside it). Raises InputError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise InputError(Problem(f"scenarios not found: {path}"))
    folder = path if path.is_dir() else path.parent
    main = folder / SCENARIOS_FILE if path.is_dir() else path
    problems: list[Problem] = []
    raw = read_large_csv(main, problems, numeric=("day", *DEMAND_KINDS))
    weights_raw = _read_csv(folder / WEIGHTS_FILE, problems, required=False)
    meta = _read_meta(folder / META_FILE, problems)
    if problems:
        raise InputError(problems)
    assert raw is not None
    return validate_scenarios(raw, weights_raw, instance, meta=meta)


def scenarios_from_frames(
    instance: MultiPeriodInstance,
    scenarios: pd.DataFrame,
    weights: pd.DataFrame | None = None,
    *,
    sampled: bool = False,
    info: Mapping[str, Any] | None = None,
) -> ScenarioSet:
    """A set from DataFrames in the files' long form, with the files' validation (problems
    name rows)."""
    raw = _frame_as_text(scenarios, SCENARIOS_FILE)
    weights_raw = None if weights is None else _frame_as_text(weights, WEIGHTS_FILE)
    meta = {"sampled": sampled, **dict(info or {})}
    return validate_scenarios(raw, weights_raw, instance, meta=meta)


def scenarios_from_dict(payload: Mapping[str, Any], instance: MultiPeriodInstance) -> ScenarioSet:
    """The inverse of ScenarioSet.to_dict, validated like the files (JSON paths in messages)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("scenarios"), list):
        raise InputError(Problem("must be an object with a list 'scenarios'", column="scenarios"))
    kind = payload.get("demand_kind", instance.demand_kind)
    rows: list[tuple[Any, Any, int, Any]] = []
    weights: list[tuple[Any, Any]] = []
    problems: list[Problem] = []
    for i, item in enumerate(payload["scenarios"]):
        where = f"scenarios[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("demand"), Mapping):
            problems.append(Problem("must be an object with 'id' and 'demand'", column=where))
            continue
        weights.append((item.get("id"), item.get("probability")))
        for region, values in item["demand"].items():
            if not isinstance(values, list):
                problems.append(
                    Problem("must be a list of values by day", column=f"{where}.demand.{region}")
                )
                continue
            rows.extend((item.get("id"), region, d, v) for d, v in enumerate(values))
    if problems:
        raise InputError(problems)
    frame = pd.DataFrame(rows, columns=["scenario", "region", "day", str(kind)])
    has_weights = any(p is not None for _, p in weights)
    weight_frame = (
        pd.DataFrame(weights, columns=["scenario", "probability"]) if has_weights else None
    )
    info = payload.get("info") or {}
    return scenarios_from_frames(
        instance,
        frame,
        weight_frame,
        sampled=bool(payload.get("sampled", False)),
        info=info if isinstance(info, Mapping) else {},
    )


def write_scenarios(scenarios: ScenarioSet, folder: str | Path) -> None:
    """scenarios.csv, scenario_weights.csv and scenarios.json into an existing folder (use
    optimiser.cli.common.write_outputs for an atomic output folder). Days as numbers; values
    with 14 significant digits, so that generated sets (rounded to 1e-4 patients, at most
    1e9) read back exactly."""
    folder = Path(folder)
    scenarios.to_long().to_csv(
        folder / SCENARIOS_FILE, index=False, lineterminator="\n", float_format="%.14g"
    )
    weights = scenarios.weights_frame()
    weights["probability"] = [repr(float(p)) for p in weights["probability"]]
    weights.to_csv(folder / WEIGHTS_FILE, index=False, lineterminator="\n")
    meta = {
        "sampled": scenarios.sampled,
        "demand_kind": scenarios.demand_kind,
        "scenarios": len(scenarios),
        "days": scenarios.days,
        "start_date": None if scenarios.start_date is None else scenarios.start_date.isoformat(),
        **dict(scenarios.info),
    }
    # the generator's parameters as given (no rounding); a non-finite one is null
    text = json.dumps(json_ready(meta, digits=None), indent=2, allow_nan=False)
    (folder / META_FILE).write_text(text + "\n")


MAX_SCENARIO_BYTES = 1024**3  # scenarios.csv: about 25,000 scenarios of 50 regions x 47 days


def read_large_csv(
    path: Path, problems: list[Problem], numeric: tuple[str, ...] = ()
) -> pd.DataFrame | None:
    """A CSV read with pandas' C parser (a scenarios.csv has millions of rows): text cells
    stripped, the `numeric` columns as floats when every cell parses (NaN for empty cells),
    else as text for numbers() to name the bad cells. attrs 'file' and 'lines' as
    optimiser.instance._read_csv's; malformed files go through that reader for its messages."""
    import csv
    import io

    if not path.is_file() or path.stat().st_size <= 1024**2:
        return _read_csv(path, problems, required=True)
    size = path.stat().st_size
    if size > MAX_SCENARIO_BYTES:
        problems.append(Problem(f"file too large ({size:,} bytes)", file=path.name))
        return None
    data = path.read_bytes()
    if b"\x00" in data:
        problems.append(Problem("binary file (contains NUL bytes); expected text", file=path.name))
        return None
    text = data.decode("utf-8-sig", errors="replace")
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    names = [h.strip() for h in header]
    if len(set(names)) != len(names) or "" in names or '"' in text or "\ufffd" in text:
        return _read_csv(path, problems, required=True)  # its messages, line by line
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype={c: object for c in header if c.strip() not in numeric},
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, ValueError):
        return _read_csv(path, problems, required=True)
    frame.columns = names
    for c in frame.columns:
        if not is_numeric_dtype(frame[c]):
            frame[c] = frame[c].fillna("").astype(str).str.strip()
    blank = frame.isna() | (frame == "")
    keep = ~blank.all(axis=1).to_numpy()
    lines = np.nonzero(keep)[0] + 2
    frame = frame.loc[keep].reset_index(drop=True)
    frame.attrs["file"] = path.name
    frame.attrs["lines"] = lines
    return frame


def _values(
    raw: pd.DataFrame,
    column: str,
    problems: list[Problem],
    *,
    minimum: float,
    maximum: float,
    unit: str = "",
) -> np.ndarray:
    """numbers(), skipped when pandas parsed the column as numbers that all pass its checks
    (millions of cells); any bad cell sends the column through numbers() for its messages."""
    if is_numeric_dtype(raw[column]):
        values = raw[column].to_numpy(dtype=float)
        inside = values.min(initial=minimum) >= minimum and values.max(initial=minimum) <= maximum
        if np.isfinite(values).all() and inside:
            return values
        raw = raw.assign(**{column: [_text(v) for v in raw[column]]})
    return numbers(raw, column, problems, minimum=minimum, maximum=maximum, unit=unit)


def _days(
    raw: pd.DataFrame, T: int, instance: MultiPeriodInstance, problems: list[Problem]
) -> np.ndarray:
    """day_numbers(), skipped likewise when every day parsed is whole and in the horizon."""
    if is_numeric_dtype(raw["day"]):
        values = raw["day"].to_numpy(dtype=float)
        ok = np.isfinite(values) & (values == np.round(values)) & (values >= 0) & (values < T)
        if ok.all():
            return values
        raw = raw.assign(day=[_text(v) for v in raw["day"]])
    return day_numbers(raw, "day", problems, T, instance.start_date)


def _read_meta(path: Path, problems: list[Problem]) -> dict[str, Any]:
    text = _read_bytes(path, problems, required=False)
    if text is None:
        return {}
    meta, why = json_reason(text)
    if why is not None:
        problems.append(Problem(f"malformed JSON: {why}", file=path.name))
        return {}
    if not isinstance(meta, dict):
        problems.append(Problem("must be a JSON object", file=path.name))
        return {}
    if "sampled" in meta and not isinstance(meta["sampled"], bool):
        problems.append(Problem("'sampled' must be true or false", file=path.name))
    return meta


def _text(value: float) -> str:
    """A parsed number back as the text a file would hold ('' for an empty cell)."""
    if value != value:  # NaN
        return ""
    v = float(value)
    return str(int(v)) if v.is_integer() else repr(v)


# ---------------------------------------------------------------------------------------------
# Validation


def validate_scenarios(
    raw: pd.DataFrame,
    weights_raw: pd.DataFrame | None,
    instance: MultiPeriodInstance,
    *,
    meta: Mapping[str, Any] | None = None,
) -> ScenarioSet:
    """Check scenarios (and weights) against the instance; every problem is listed (rows, not
    lines, for DataFrames given in Python)."""
    try:
        return _validate(raw, weights_raw, instance, dict(meta or {}))
    except InputError as exc:
        raise InputError([_in_rows(p, raw, weights_raw) for p in exc.problems]) from None


def _validate(
    raw: pd.DataFrame,
    weights_raw: pd.DataFrame | None,
    instance: MultiPeriodInstance,
    meta: dict[str, Any],
) -> ScenarioSet:
    for frame in (raw, weights_raw):
        if frame is not None:
            frame.attrs["lines"] = np.asarray(_lines(frame), dtype=np.int64)
    problems: list[Problem] = []
    file = raw.attrs.get("file", SCENARIOS_FILE)
    kind = instance.demand_kind
    other = [k for k in DEMAND_KINDS if k != kind and k in raw.columns]
    missing = [c for c in ("scenario", "region", "day", kind) if c not in raw.columns]
    if other:
        problems.append(
            Problem(
                f"has a '{other[0]}' column but the instance's demand (demand.csv) is '{kind}': "
                "scenarios must be of the same kind",
                file=file,
            )
        )
    if missing and not other:
        problems.append(
            Problem(
                f"missing required {listed('column', missing)} (columns: scenario, region, "
                f"day, {kind})",
                file=file,
            )
        )
    extra = [c for c in raw.columns if c not in ("scenario", "region", "day", *DEMAND_KINDS)]
    if extra:
        problems.append(
            Problem(
                f"unknown {listed('column', extra)} (columns: scenario, region, day, {kind})",
                file=file,
            )
        )
    if problems:
        raise InputError(problems)
    if len(raw) == 0:
        raise InputError(Problem("empty table: no rows", file=file))
    T, regions = instance.days, list(instance.regions)
    ids = raw["scenario"].astype(str).str.strip().to_numpy()
    _report_rows(raw, ids == "", "scenario", lambda v: "missing scenario id", problems)
    _report_rows(
        raw,
        np.array([len(s) > MAX_ID_LENGTH for s in ids]),
        "scenario",
        lambda v: f"scenario id longer than {MAX_ID_LENGTH} characters",
        problems,
    )
    region = raw["region"].astype(str).str.strip().to_numpy()
    known = set(regions)
    _report_rows(
        raw,
        np.array([r not in known for r in region]),
        "region",
        lambda v: f"unknown region '{str(v).strip()}' (not in regions.csv)",
        problems,
    )
    day = _days(raw, T, instance, problems)
    value = _values(raw, kind, problems, minimum=0.0, maximum=MAX_UNITS, unit="patients")
    order = list(dict.fromkeys(s for s in ids if s))
    if len(order) > MAX_SCENARIOS:
        problems.append(
            Problem(f"{len(order):,} scenarios, more than {MAX_SCENARIOS:,}", file=file)
        )
    if problems:
        raise InputError(problems)
    probability = _weights(weights_raw, order, problems)
    demand = _table(raw, ids, region, day.astype(np.int64), value, order, regions, T, problems)
    if problems or demand is None or probability is None:
        raise InputError(problems)
    scenarios = ScenarioSet(
        demand_kind=kind,
        demand=demand,
        probability=probability,
        start_date=instance.start_date,
        sampled=bool(meta.pop("sampled", False)),
        info={k: v for k, v in meta.items() if k not in WRITTEN_KEYS},
    )
    check_compatible(scenarios, instance)
    return scenarios


def _table(
    raw: pd.DataFrame,
    ids: np.ndarray,
    region: np.ndarray,
    day: np.ndarray,
    value: np.ndarray,
    order: list[str],
    regions: list[str],
    T: int,
    problems: list[Problem],
) -> pd.DataFrame | None:
    """The (scenario, region) x day table; duplicates and holes are problems."""
    file = raw.attrs.get("file", SCENARIOS_FILE)
    lines = _lines(raw)
    s_code = pd.Index(order).get_indexer(pd.Index(ids))
    r_code = pd.Index(regions).get_indexer(pd.Index(region))
    n, S = len(regions), len(order)
    flat = (s_code.astype(np.int64) * n + r_code) * T + day
    seen = pd.Series(flat).duplicated(keep="first").to_numpy()
    for i in np.nonzero(seen)[0][:MAX_ROW_PROBLEMS]:
        problems.append(
            Problem(
                f"duplicate row for scenario '{ids[i]}', region '{region[i]}', day {int(day[i])}",
                file=file,
                line=int(lines[i]),
            )
        )
    if seen.sum() > MAX_ROW_PROBLEMS:
        more = int(seen.sum()) - MAX_ROW_PROBLEMS
        problems.append(Problem(f"{counted(more, 'more duplicate row')}"))
    if seen.any():
        return None
    values = np.full(S * n * T, np.nan)
    values[flat] = value
    cube = values.reshape(S, n, T)
    holes = np.isnan(cube)
    if holes.any():
        reported = 0
        for s in np.nonzero(holes.any(axis=(1, 2)))[0]:
            absent = np.nonzero(holes[s].all(axis=1))[0]
            partial = np.nonzero(holes[s].any(axis=1) & ~holes[s].all(axis=1))[0]
            if len(absent) and reported < MAX_ROW_PROBLEMS:
                problems.append(
                    Problem(
                        f"scenario '{order[s]}' has no rows for {plural(len(absent), 'region')} "
                        f"{_listing([regions[r] for r in absent])} (every scenario needs every "
                        f"region and day 0..{T - 1})",
                        file=file,
                    )
                )
                reported += 1
            for r in partial:
                if reported >= MAX_ROW_PROBLEMS:
                    break
                missing = np.nonzero(holes[s, r])[0]
                problems.append(
                    Problem(
                        f"scenario '{order[s]}' has no row for {plural(len(missing), 'day')} "
                        f"{_listing(_ranges(missing.tolist()))} ({len(missing)} of {T} days "
                        "missing)",
                        file=file,
                        region=regions[r],
                    )
                )
                reported += 1
        pairs = int(holes.any(axis=2).sum())
        if pairs and reported >= MAX_ROW_PROBLEMS:
            problems.append(
                Problem(
                    f"in all, {pairs:,} (scenario, region) pairs lack days; fix the first ones "
                    "and check again",
                    file=file,
                )
            )
        return None
    index = pd.MultiIndex.from_product([order, regions], names=["scenario", "region"])
    return pd.DataFrame(values.reshape(S * n, T), index=index, columns=pd.RangeIndex(T, name="day"))


def _weights(
    raw: pd.DataFrame | None, order: list[str], problems: list[Problem]
) -> pd.Series | None:
    """Probabilities by scenario: scenario_weights.csv's, or equal without it."""
    index = pd.Index(order, name="scenario")
    if raw is None:
        return pd.Series(1.0 / len(order), index=index, name="probability")
    file = raw.attrs.get("file", WEIGHTS_FILE)
    before = len(problems)
    missing = [c for c in ("scenario", "probability") if c not in raw.columns]
    if missing:
        problems.append(
            Problem(
                f"missing required {listed('column', missing)} (columns: scenario, "
                "probability)",
                file=file,
            )
        )
        return None
    extra = [c for c in raw.columns if c not in ("scenario", "probability")]
    if extra:
        problems.append(
            Problem(
                f"unknown {listed('column', extra)} (columns: scenario, probability)",
                file=file,
            )
        )
    ids = raw["scenario"].astype(str).str.strip().to_numpy()
    p = numbers(raw, "probability", problems, minimum=0.0, maximum=None)
    _report_rows(
        raw,
        np.isfinite(p) & (p > 1.0),
        "probability",
        lambda v: f"a probability is at most 1, got {str(v).strip()}",
        problems,
    )
    known = set(order)
    _report_rows(
        raw,
        np.array([s not in known for s in ids]),
        "scenario",
        lambda v: f"unknown scenario id '{str(v).strip()}' (not in {SCENARIOS_FILE})",
        problems,
    )
    _report_rows(
        raw,
        pd.Series(ids).duplicated().to_numpy(),
        "scenario",
        lambda v: f"scenario '{str(v).strip()}' is listed twice",
        problems,
    )
    given = set(ids)
    absent = [s for s in order if s not in given]
    if absent:
        problems.append(
            Problem(
                f"no probability for {plural(len(absent), 'scenario')} {_listing(absent)} (every "
                f"scenario of {SCENARIOS_FILE} needs a row)",
                file=file,
            )
        )
    if len(problems) > before:
        return None
    total = float(p.sum())
    if not math.isfinite(total) or abs(total - 1.0) > PROBABILITY_TOLERANCE:
        problems.append(
            Problem(
                f"probabilities sum to {total:.9g}, not 1 (tolerance {PROBABILITY_TOLERANCE:g})",
                file=file,
                column="probability",
            )
        )
        return None
    series = pd.Series(p / total, index=pd.Index(ids, name="scenario"), name="probability")
    return series.reindex(index)


__all__ = [
    "MAX_LISTED",
    "MAX_SCENARIOS",
    "META_FILE",
    "SCENARIOS_FILE",
    "WEIGHTS_FILE",
    "load_scenarios",
    "scenarios_from_dict",
    "scenarios_from_frames",
    "validate_scenarios",
    "write_scenarios",
]
