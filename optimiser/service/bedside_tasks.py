"""Task kinds "bedside" and "bedside_compare": the same functions as `triage bedside allocate`
and `compare`, run in a solver process (tasks.KINDS registers them)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from optimiser.errors import InputError, Problem
from optimiser.service.errors import ApiError, first_at

_FIELD = re.compile(r"^field '([^']+)': ")
MAX_COMPARE_WORK = 2_000_000  # replications x patients per compare job


def bedside_field(problem: Problem) -> str | None:
    """A JSON path into the request for an engine problem (rows are 0-based)."""
    if problem.file in ("patients", "units", "overrides") and problem.line is not None:
        path = f"{problem.file}[{problem.line - 1}]"
        return f"{path}.{problem.column}" if problem.column else path
    if problem.file in ("policy", "policy.toml"):
        match = _FIELD.match(problem.message)
        return "policy" + (f".{match.group(1)}" if match else "")
    if problem.column_word == "field" and problem.column:
        return problem.column
    if problem.column_word == "option" and problem.column:
        return f"options.{problem.column}"
    return problem.file


def bedside_problem(problem: Problem) -> dict[str, Any]:
    """{"field", "message"}: the message starts with the JSON path, in JSON words (no file, row
    or column: docs/service.md, "Errors"); a problem that points nowhere keeps its own words."""
    field = bedside_field(problem)
    if field is None:
        return {"field": None, "message": str(problem)}
    text = problem.message
    lead = _FIELD.match(text)
    if lead and (field == lead.group(1) or field.endswith(f".{lead.group(1)}")):
        text = text[lead.end():]
    return {"field": field, "message": f"{field}: {first_at(text, field)}"}


def _invalid(exc: InputError) -> ApiError:
    from optimiser.service.errors import summary_of

    items = [bedside_problem(p) for p in exc.problems]
    return ApiError(422, "invalid_input", summary_of(items), problems=items)


def _load(request: Any) -> dict[str, Any]:
    from optimiser.service.tasks import load_request

    return load_request(request)


def prepare_bedside(request: Mapping[str, Any]) -> tuple[Any, Any]:
    from optimiser.bedside import inputs_from_dict
    from optimiser.bedside.api import read_overrides_frame

    try:
        inputs = inputs_from_dict(request)
        overrides = None
        if request.get("overrides"):  # an empty list: no override
            overrides = read_overrides_frame(request["overrides"],
                                             dict.fromkeys(inputs.cohort.patients.index))
            dni = set(inputs.cohort.patients.index[inputs.cohort.patients["dni"]])
            bad = [p for p, row in overrides.iterrows() if p in dni and row["decision"] == "unit"]
            if bad:
                raise InputError([Problem(f"patient {p!r} declined the treatment (DNI): an "
                                          "override cannot give them a unit", file="overrides")
                                  for p in bad])
    except InputError as exc:
        raise _invalid(exc) from None
    return inputs, overrides


def bedside_task(request: Any, key: str | None = None,
                 time_limit: float | None = None) -> dict[str, Any]:
    """POST /v1/bedside and jobs of kind "bedside": the JSON of `triage bedside allocate
    --json`, plus the decision log's lines. The time limit counts from here, reading the
    request included (before, it started at `allocate`'s call)."""
    import time

    from optimiser.bedside.api import allocate
    from optimiser.bedside.log import canonical, decision_lines, header
    from optimiser.deadline import MIN_RUN_SECONDS

    started = time.perf_counter()
    body = _load(request)
    inputs, overrides = prepare_bedside(body)
    options = dict(body.get("options") or {})
    limit = time_limit if time_limit is not None else options.get("time_limit")
    left = limit  # a bad value is allocate's to explain
    if isinstance(limit, int | float) and not isinstance(limit, bool) and limit > 0:
        left = max(MIN_RUN_SECONDS, limit - (time.perf_counter() - started))
    try:
        result = allocate(inputs, price=bool(options.get("price_of_fairness", True)),
                          protocols=bool(options.get("protocols", True)), time_limit=left,
                          overrides=overrides)
    except InputError as exc:
        raise _invalid(exc) from None
    out = result.to_dict()
    log_options = {"price": options.get("price_of_fairness", True),
                   "protocols": options.get("protocols", True), "time_limit": limit}
    head = header(result, log_options)
    if overrides is not None:  # the request's rows, hashed as the CLI hashes overrides.csv
        rows = canonical(body["overrides"]).encode()
        head["overrides"] = {"file": "request:overrides",
                             "sha256": hashlib.sha256(rows).hexdigest()}
    out["decision_log"] = [head, *(json.loads(line) for line in decision_lines(result))]
    return out


def validate_bedside(request: Mapping[str, Any], time_limit: float | None = None) -> None:
    prepare_bedside(request)


def compare_task(request: Any, key: str | None = None,
                 time_limit: float | None = None) -> dict[str, Any]:
    """Jobs of kind "bedside_compare": the JSON of `triage bedside compare --json`, run in
    this worker (no nested pool). The time limit counts from here, reading the request
    included (before, it started at `compare`'s call)."""
    import time

    from optimiser.bedside.compare import compare

    started = time.perf_counter()
    body = _load(request)
    inputs, spec = _prepare_compare(body)
    left = None if time_limit is None else max(0.0, time_limit - (time.perf_counter() - started))
    try:
        result = compare(inputs, spec, workers=1, progress=False, time_limit=left)
    except InputError as exc:
        raise _invalid(exc) from None
    # cut short by its budget: `time_limit`, as a backtest job's (the figures rest on the
    # replications in `spec.completed`, the note says how many)
    cut = result.spec["completed"] < result.spec["replications"]
    return {"status": "time_limit" if cut else "done", **result.to_dict()}


def _prepare_compare(body: Mapping[str, Any]) -> tuple[Any, Any]:
    from optimiser.bedside import inputs_from_dict
    from optimiser.bedside.compare import CompareSpec

    options = dict(body.get("options") or {})
    try:
        inputs = inputs_from_dict(body)
        spec = CompareSpec(replications=int(options.get("replications", 100)),
                           seed=int(options.get("seed", 0)),
                           stream=str(options.get("stream", "synthetic")),
                           patients=options.get("patients"), days=options.get("days"))
        spec.check()
    except InputError as exc:
        raise _invalid(exc) from None
    work = spec.replications * (spec.patients or len(inputs.cohort.patients))
    if work > MAX_COMPARE_WORK:
        message = (f"options.replications: {spec.replications:,} replications x patients is "
                   f"above the service's bound of {MAX_COMPARE_WORK:,}; run `triage bedside "
                   "compare` on a cluster instead")
        raise ApiError(422, "invalid_input", message,
                       problems=[{"field": "options.replications", "message": message}])
    return inputs, spec


def validate_compare(request: Mapping[str, Any], time_limit: float | None = None) -> None:
    _prepare_compare(request)


def register(kinds: dict[str, Any], task_kind: Any) -> None:
    kinds["bedside"] = task_kind("bedside", bedside_task, validate_bedside,
                                 "a bedside allocation (POST /v1/bedside body)")
    kinds["bedside_compare"] = task_kind("bedside_compare", compare_task, validate_compare,
                                         "bedside protocols over seeded replications")
