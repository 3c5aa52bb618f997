"""The work a service job or solve request does, as plain functions of a JSON-like request.

These run in a worker process (or a Dask worker) and call the same engine functions as the CLI
and the Python API: instance_from_dict -> optimiser.solve -> AllocationResult.to_dict().
A task kind is one entry in KINDS: "solve" now; a multi-period "plan" is one more function.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from optimiser.constraints import ConstraintSpec, to_specs
from optimiser.deadline import FINISH_FACTOR, Deadline
from optimiser.engine import solve
from optimiser.errors import InfeasibleError, InputError, Problem
from optimiser.instance import (
    COLUMN_BOUNDS,
    SUPPLY_BOUNDS,
    Instance,
    instance_from_dict,
    validate_supply,
)
from optimiser.instance import HORIZON_BOUNDS as _HORIZON
from optimiser.policies import check_policy
from optimiser.service.errors import ApiError, json_problem, problem_field, summary_of

log = logging.getLogger("optimiser.service.tasks")

ENVELOPE_KEYS = ("policy", "options")
INSTANCE_CACHE_SIZE = 32


def canonical(obj: Any) -> str:
    """One spelling of a JSON value (sorted keys, no spaces): equal requests, equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_request(request: Mapping[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(instance fields, policy, options) of a solve request."""
    instance = {k: v for k, v in request.items() if k not in ENVELOPE_KEYS}
    policy = request.get("policy", "optimal")
    options = dict(request.get("options") or {})
    return instance, policy, options


_instances: OrderedDict[str, Instance] = OrderedDict()
_instances_lock = threading.Lock()


def cached_instance(payload: Mapping[str, Any]) -> Instance:
    """instance_from_dict, remembered by the canonical text of the payload (LRU, per process).

    Instances are immutable, so a cached one is shared safely between requests."""
    key = sha256(canonical(payload))
    with _instances_lock:
        found = _instances.get(key)
        if found is not None:
            _instances.move_to_end(key)
            return found
    instance = instance_from_dict(payload)
    with _instances_lock:
        _instances[key] = instance
        while len(_instances) > INSTANCE_CACHE_SIZE:
            _instances.popitem(last=False)
    return instance


# The engine's bounds on numbers (optimiser.instance_rules: one set for every path), checked here
# first so that a huge number is refused before the instance is parsed.
SERVICE_BOUNDS: dict[str, tuple[float | None, float]] = {
    column: (bounds.minimum or None, bounds.maximum) for column, bounds in COLUMN_BOUNDS.items()
}
MAX_SUPPLY = SUPPLY_BOUNDS.maximum
HORIZON_BOUNDS = (_HORIZON.minimum, _HORIZON.maximum)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: as far out as it gets
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _bound_problem(value: Any, bounds: tuple[float | None, float]) -> str | None:
    number = _as_number(value)
    if number is None or number != number or (math.isinf(number) and not isinstance(value, int)):
        return None  # not a finite number: the engine explains what is wrong
    low, high = bounds
    if number > high:
        shown = f"{value!r}" if abs(number) < 1e30 else "a number of more than 30 digits"
        return f"must be at most {high:g}, got {shown}"
    if low is not None and 0 < number < low:
        return f"must be at least {low:g} when positive, got {value!r}"
    return None


def check_bounds(payload: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """Refuse numbers outside SERVICE_BOUNDS, naming the field (422)."""
    problems: list[Problem] = []
    fields: list[str | None] = []

    def check(value: Any, bounds: tuple[float | None, float], field: str) -> None:
        reason = _bound_problem(value, bounds)
        if reason:
            problems.append(Problem(reason))
            fields.append(field)

    regions = payload.get("regions")
    if isinstance(regions, list):
        for i, row in enumerate(regions):
            if isinstance(row, Mapping):
                for column, bounds in SERVICE_BOUNDS.items():
                    if column in row:
                        check(row[column], bounds, f"regions[{i}].{column}")
    defaults = payload.get("defaults")
    if isinstance(defaults, Mapping):
        for column, bounds in SERVICE_BOUNDS.items():
            if column in defaults:
                check(defaults[column], bounds, f"defaults.{column}")
    check(payload.get("supply"), (None, MAX_SUPPLY), "supply")
    check(payload.get("horizon_days"), HORIZON_BOUNDS, "horizon_days")
    check(options.get("supply"), (None, MAX_SUPPLY), "options.supply")
    if problems:
        raise _invalid(problems, fields)


def _invalid(problems: list[Problem], fields: list[str | None]) -> ApiError:
    items = [json_problem(p, f) for p, f in zip(problems, fields, strict=True)]
    return ApiError(422, "invalid_input", summary_of(items), problems=items)


def _solve_field(problem: Problem) -> str | None:
    """Problems raised by optimiser.solve() about the request's envelope."""
    if problem.column == "policy":
        return "policy"
    if problem.column == "time_limit":
        return "options.time_limit"
    if problem.message.startswith("supply:") or problem.column == "supply":
        return "options.supply"
    return problem_field(problem)


def option_constraints(items: Any) -> tuple[ConstraintSpec, ...]:
    """options.constraints: tables {kind, ...params} or CLI strings 'kind:param=value'."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _invalid(
            [Problem("must be a list of constraints ({kind, ...} objects or 'kind:param=value')")],
            ["options.constraints"],
        )
    specs: list[ConstraintSpec] = []
    problems: list[Problem] = []
    fields: list[str | None] = []
    for i, item in enumerate(items):
        try:
            specs.extend(to_specs([item]))
        except InputError as exc:
            for problem in exc.problems:
                message = problem.message.replace("constraints[0]", f"options.constraints[{i}]", 1)
                problems.append(Problem(message))
                fields.append(f"options.constraints[{i}]")
    if problems:
        raise _invalid(problems, fields)
    return tuple(specs)


def check_time_limit(value: Any) -> float | None:
    """The engine's rule for time limits, with the engine's message."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _invalid(
            [Problem(f"must be a number of seconds > 0, got {value!r}", column="time_limit")],
            ["options.time_limit"],
        )
    number = _as_number(value)
    assert number is not None
    return number  # +inf for an integer beyond any float: the server's cap applies


Request = Mapping[str, Any] | str | bytes


def load_request(request: Request) -> dict[str, Any]:
    """A request as a dict: JSON text is parsed here (in the worker, off the event loop)."""
    if isinstance(request, str | bytes):
        try:
            request = json.loads(request)
        except ValueError as exc:
            raise ApiError(400, "malformed_json", f"malformed JSON in the request body: {exc}")\
                from None
    if not isinstance(request, Mapping):
        raise ApiError(422, "invalid_input", "the request must be a JSON object")
    return dict(request)


def prepare_solve(request: Mapping[str, Any], time_limit: float | None = None) -> dict[str, Any]:
    """Validate a solve request; returns the keyword arguments of optimiser.solve().

    `time_limit`, when given, replaces options.time_limit (the server's effective limit)."""
    payload, policy, options = split_request(request)
    if time_limit is not None:
        options = {**options, "time_limit": time_limit}
    check_bounds(payload, options)
    problems: list[Problem] = []  # every stage is checked: all problems in one answer
    fields: list[str | None] = []
    instance = None
    try:
        instance = cached_instance(payload)
    except InputError as exc:
        problems += exc.problems
        fields += [problem_field(p) for p in exc.problems]
    extra: tuple[ConstraintSpec, ...] = ()
    try:
        extra = option_constraints(options.get("constraints"))
    except ApiError as exc:
        items = [Problem(str(i["message"]).removeprefix(f"{i['field']}: ")) for i in exc.problems]
        problems += items
        fields += [i["field"] for i in exc.problems]
    try:
        if not isinstance(policy, str):
            raise InputError(Problem(f"must be a string, got {policy!r}", column="policy"))
        check_policy(policy)
        supply = options.get("supply")
        if supply is not None:
            validate_supply(supply, "supply")
    except InputError as exc:
        problems += exc.problems
        fields += [_solve_field(p) for p in exc.problems]
    if problems or instance is None:
        raise _invalid(problems, fields)
    return {
        "instance": instance,
        "constraints": extra,
        "policy": policy,
        "supply": options.get("supply"),
        "default_constraints": bool(options.get("default_constraints", True)),
        "time_limit": check_time_limit(options.get("time_limit")),
        "price_of_fairness": bool(options.get("price_of_fairness", True)),
        "seed": int(options.get("seed", 0)),
    }


# The work of a solve request after its last HiGHS run (the engine's result, its JSON, the way
# back to the client) grows with the regions: 0.06-0.23 s on 1,500 regions at load 5.5 (40-150
# microseconds a region). Kept: FINISH_FACTOR x what reading the request took, or this much a
# region when more (a request read from the instance cache takes almost no time), never more
# than ANSWER_SHARE of the budget.
ANSWER_SECONDS_PER_REGION = 150e-6
ANSWER_SHARE = 0.25


def answer_seconds(limit: float | None, reading: float, regions: int) -> float:
    """What a solve request's budget of `limit` s keeps for its answer (0 without a limit)."""
    if limit is None:
        return 0.0
    wanted = max(FINISH_FACTOR * reading, ANSWER_SECONDS_PER_REGION * regions)
    return min(ANSWER_SHARE * limit, wanted)


# validated solve arguments by request hash, with the seconds reading the request took
_prepared: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()


def solve_task(request: Request, key: str | None = None,
               time_limit: float | None = None) -> dict[str, Any]:
    """POST /v1/solve and jobs of kind "solve": the JSON of `triage solve --json`.

    With a `key` (a hash of the request text), the validated arguments are remembered, so a
    repeated request skips parsing and validation (instances are immutable). `time_limit`
    (the server's: what is left of the request's budget) counts from here, parsing included;
    the solves leave `answer_seconds` for the answer (before, nothing was kept and a
    1,500-region solve's answer came after its budget)."""
    started = time.perf_counter()
    found = None if key is None else _prepared.get(key)
    if found is None:
        found = prepare_solve(load_request(request), time_limit), time.perf_counter() - started
        if key is not None:
            with _instances_lock:
                _prepared[key] = found
                while len(_prepared) > INSTANCE_CACHE_SIZE:
                    _prepared.popitem(last=False)
    kwargs, reading = found
    arguments = dict(kwargs)
    if time_limit is not None:  # the server's (it always gives one), else the request's own
        arguments["time_limit"] = time_limit
    limit = arguments["time_limit"]
    keep = answer_seconds(limit, reading, len(kwargs["instance"].regions))
    deadline = Deadline(limit, start=started).reserved(keep)
    try:
        result = solve(arguments.pop("instance"), deadline=deadline, **arguments)
    except InputError as exc:
        raise _invalid(exc.problems, [_solve_field(p) for p in exc.problems]) from None
    return result.to_dict()


def validate_solve(request: Mapping[str, Any], time_limit: float | None = None) -> None:
    prepare_solve(request, time_limit)


@dataclass(frozen=True)
class TaskKind:
    """A kind of job. `run(request, key, time_limit)` turns a request (a dict or its JSON text)
    into a JSON-ready result; `validate(request_dict, time_limit)` checks it at submission
    (raises ApiError), so that a bad request is a 422, not a failed job."""

    name: str
    run: Callable[..., dict[str, Any]]
    validate: Callable[..., None]
    doc: str


KINDS: dict[str, TaskKind] = {
    "solve": TaskKind("solve", solve_task, validate_solve, "one allocation (POST /v1/solve body)"),
}


PLAN_TABLES = ("demand", "deliveries", "lead_times", "capacity")
# (required, optional) keys of each table's rows; the OpenAPI schema is built from them too
PLAN_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "demand": (("region", "day"), ("new_patients", "census")),
    "deliveries": (("day", "quantity"), ("depot",)),
    "lead_times": (("from", "to", "days"), ()),
    "capacity": (("region", "day"), ("capacity", "staff_cap")),
}
PLAN_TEXT = frozenset({"region", "depot", "from", "to"})


def _plan_frame(name: str, rows: list[Any], problems: list[Problem], pd: Any) -> Any:
    """A plan table's JSON rows as a DataFrame with every required column (so that an empty
    table is reported as such); unknown keys and values of the wrong JSON type are problems
    of their row (`deliveries[2].qty`)."""
    required, optional = PLAN_COLUMNS[name]
    allowed = (*required, *optional)
    for i, row in enumerate(rows):
        for key, value in row.items():
            if key not in allowed:
                reason: str | None = f"unknown key (allowed: {', '.join(allowed)})"
            elif key in PLAN_TEXT:
                reason = None if isinstance(value, str) else f"must be a string, got {value!r}"
            elif isinstance(value, bool) or not isinstance(value, int | float):
                reason = f"must be a number, got {value!r}"
            else:
                reason = None
            if reason:
                problems.append(Problem(reason, file=f"{name}.csv", line=i + 1,
                                        column=str(key), line_word="row"))
    columns = [*required, *(c for c in optional if any(c in row for row in rows))]
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
MAX_PLAN_DAYS = 1000
MAX_PLAN_CELLS = 200_000  # regions x days: twice the largest case of the multi-period benchmark


def check_plan_size(request: Mapping[str, Any]) -> None:
    """Refuse plans too large for a shared server before anything is allocated (422)."""
    days: list[float] = []
    table = request.get("multiperiod")
    if isinstance(table, Mapping):
        given = _as_number(table.get("days"))
        if given is not None:
            days.append(given)
    for name in PLAN_TABLES:
        rows = request.get(name)
        if isinstance(rows, list):
            for row in rows:
                day = _as_number(row.get("day")) if isinstance(row, Mapping) else None
                if day is not None and day == day:
                    days.append(day + 1)
    horizon = max(days, default=0.0)
    regions = request.get("regions")
    count = len(regions) if isinstance(regions, list) else 0
    problems: list[Problem] = []
    if horizon > MAX_PLAN_DAYS:
        problems.append(Problem(f"multiperiod.days: a horizon of {horizon:g} days is above the "
                                f"service's bound of {MAX_PLAN_DAYS}"))
    elif horizon * count > MAX_PLAN_CELLS:
        problems.append(Problem(f"multiperiod.days: {count} regions x {horizon:g} days is above "
                                f"the service's bound of {MAX_PLAN_CELLS:,} region-days"))
    if problems:
        raise _invalid(problems, ["multiperiod.days"])


def prepare_plan(request: Mapping[str, Any], time_limit: float | None = None) -> dict[str, Any]:
    """Validate a plan request; returns the arguments of optimiser.multiperiod.plan()."""
    import pandas as pd

    from optimiser.multiperiod import multiperiod_from_frames

    payload = {k: v for k, v in request.items() if k not in (*PLAN_TABLES, "options")}
    options = dict(request.get("options") or {})
    if time_limit is not None:
        options["time_limit"] = time_limit
    check_bounds(payload, options)
    check_plan_size(request)
    try:
        base = cached_instance(payload)
    except InputError as exc:
        raise _invalid(exc.problems, [problem_field(p) for p in exc.problems]) from None
    frames: dict[str, Any] = {}
    row_problems: list[Problem] = []
    for name in PLAN_TABLES:
        rows = request.get(name)
        if rows is None:
            continue
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise _invalid([Problem(f"{name}: must be a list of row objects")], [name])
        frames[name] = _plan_frame(name, rows, row_problems, pd)
    if row_problems:
        raise _invalid(row_problems, [problem_field(p) for p in row_problems])
    if "demand" not in frames:
        raise _invalid([Problem("demand: required (rows of region, day and new_patients or "
                                "census)")], ["demand"])
    try:
        instance = multiperiod_from_frames(
            base, frames["demand"], frames.get("deliveries"), frames.get("lead_times"),
            frames.get("capacity"),
        )
    except InputError as exc:
        raise _invalid(exc.problems, [problem_field(p) for p in exc.problems]) from None
    mip_gap = options.get("mip_gap")
    if mip_gap is not None and (  # the planner's rule, checked before a job is accepted
        isinstance(mip_gap, bool) or not isinstance(mip_gap, int | float)
        or not 0 <= mip_gap < 1
    ):
        raise _invalid([Problem(f"must be in [0, 1), got {mip_gap!r}", column="mip_gap")],
                       ["options.mip_gap"])
    arguments: dict[str, Any] = {
        "instance": instance,
        "constraints": option_constraints(options.get("constraints")),
        "default_constraints": bool(options.get("default_constraints", True)),
        "time_limit": check_time_limit(options.get("time_limit")),
        "price_of_fairness": bool(options.get("price_of_fairness", True)),
    }
    if mip_gap is not None:
        arguments["mip_gap"] = mip_gap
    return arguments


def plan_task(request: Request, key: str | None = None,
              time_limit: float | None = None) -> dict[str, Any]:
    """Jobs of kind "plan": the JSON of `triage plan --json`. The job's time limit counts
    from here, reading the request included (as a solve's and a stochastic plan's)."""
    from optimiser.multiperiod import plan

    started = time.perf_counter()
    arguments = prepare_plan(load_request(request), time_limit)
    limit = arguments.get("time_limit")
    deadline = None if limit is None else Deadline(limit, start=started)
    try:
        result = plan(arguments.pop("instance"), **arguments, deadline=deadline)
    except InputError as exc:
        fields = ["options.mip_gap" if p.column == "mip_gap" else _solve_field(p)
                  for p in exc.problems]
        raise _invalid(exc.problems, fields) from None
    payload: dict[str, Any] = result.to_dict()
    return payload


def validate_plan(request: Mapping[str, Any], time_limit: float | None = None) -> None:
    prepare_plan(request, time_limit)


def _multiperiod_available() -> bool:
    try:
        import optimiser.multiperiod.engine  # noqa: F401  (loaded now: solver processes start warm)
    except ImportError:
        return False
    return True


if _multiperiod_available():
    KINDS["plan"] = TaskKind("plan", plan_task, validate_plan, "a multi-period delivery plan")
    from optimiser.service.stochastic_tasks import register as _register_stochastic

    _register_stochastic(KINDS, TaskKind)
    from optimiser.service.backtest_tasks import register as _register_backtest

    _register_backtest(KINDS, TaskKind)
    from optimiser.service.saa_tasks import register as _register_saa

    _register_saa(KINDS, TaskKind)

from optimiser.service.bedside_tasks import register as _register_bedside  # noqa: E402

_register_bedside(KINDS, TaskKind)


def run_task(
    kind: str, request: Request, key: str | None = None, time_limit: float | None = None
) -> dict[str, Any]:
    """Run one task and never raise: {"ok": True, "body": <JSON text>, "seconds": s} or
    {"ok": False, "error": {"status", "code", "message", "problems"}, "seconds": s}."""
    t0 = time.perf_counter()
    try:
        task = KINDS.get(kind)
        if task is None:
            raise ApiError(422, "invalid_input",
                           f"unknown job kind {kind!r} (known: {', '.join(KINDS)})")
        result = task.run(request, key, time_limit)
        body = json.dumps(result, allow_nan=False, separators=(",", ":"))
        return {"ok": True, "body": body, "seconds": time.perf_counter() - t0,
                "result_status": result.get("status")}
    except ApiError as exc:
        return {"ok": False, "error": exc.payload()["error"], "seconds": time.perf_counter() - t0}
    except InfeasibleError as exc:
        error = {"status": 422, "code": "infeasible", "message": exc.explanation}
        return {"ok": False, "error": error, "seconds": time.perf_counter() - t0}
    except Exception as exc:  # a worker answers, it does not crash
        log.exception("task %s failed", kind)
        error = {"status": 500, "code": "internal",
                 "message": f"internal error in the solver ({type(exc).__name__}); "
                 "the server log has details"}
        return {"ok": False, "error": error, "seconds": time.perf_counter() - t0}


WARM_UP_REQUEST: dict[str, Any] = {
    "name": "warm-up",
    "supply": 3,
    "regions": [
        {"region": "a", "population": 100, "capacity": 1, "peak_demand": 3},
        {"region": "b", "population": 200, "capacity": 0, "peak_demand": 2},
    ],
    "options": {"constraints": [{"kind": "min_units", "units": 1}]},
}


def warm_up() -> None:
    """Import and exercise the whole solve path once, so the first real request is not slow."""
    outcome = run_task("solve", WARM_UP_REQUEST)
    if not outcome["ok"]:
        log.warning("warm-up solve failed: %s", outcome["error"])
