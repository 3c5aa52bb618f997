"""Task kind "stochastic_plan": the two-stage plan of `triage plan --scenarios` as a job
(tasks.KINDS registers it). The request is a "plan" request plus `scenarios` (the JSON of
ScenarioSet.to_dict: a list of {id, probability, demand: {region: [value per day]}}) and the
options `commit_days` (default 7) and `risk` ("cvar:alpha=0.1,lambda=0.5", "worst:alpha=0.2").
`options.compare` (`triage plan --compare`): also score the plan against the mean, buffer
(`options.buffer`, default 0.1), worst-case and hindsight plans, on `evaluation` (scenarios in
the same JSON; default the planning ones), within the job's time limit as the CLI does
(optimiser/stochastic/plan_compare.py); the answer then carries `comparison`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optimiser.errors import InputError, Problem

STOCHASTIC_OPTIONS = ("commit_days", "risk", "compare", "buffer", "method")
MAX_SCENARIO_CELLS = 2_000_000  # scenarios x regions x days per job


def _scenario_field(problem: Problem) -> str:
    column = problem.column or ""
    if column.startswith("scenarios"):
        return column
    return "scenarios"


def prepare_stochastic(
    request: Mapping[str, Any], time_limit: float | None = None
) -> dict[str, Any]:
    """Validate a stochastic plan request; the arguments of plan_under_uncertainty()."""
    from optimiser.scenarios.io import scenarios_from_dict
    from optimiser.service.tasks import _invalid, prepare_plan
    from optimiser.stochastic.compare import DEFAULT_BUFFER
    from optimiser.stochastic.engine import METHODS, check_commit
    from optimiser.stochastic.risk import parse_risk

    body = dict(request)
    given = body.pop("scenarios", None)
    held_out = body.pop("evaluation", None)
    options = dict(body.get("options") or {})
    chosen = {k: options.pop(k) for k in STOCHASTIC_OPTIONS if k in options}
    body["options"] = options
    if given is None:
        raise _invalid(
            [Problem("required: the demand scenarios (ScenarioSet.to_dict's JSON)")],
            ["scenarios"],
        )
    arguments = prepare_plan(body, time_limit)
    instance = arguments["instance"]
    count = sum(  # the planning scenarios and those the comparison scores on
        len(one["scenarios"]) if isinstance(one, Mapping)
        and isinstance(one.get("scenarios"), list) else 0  # else scenarios_from_dict says why
        for one in (given, held_out)
    )
    if count * len(instance.regions) * instance.days > MAX_SCENARIO_CELLS:
        raise _invalid(
            [Problem(f"{count} scenarios x {len(instance.regions)} regions x {instance.days} "
                     f"days is above the service's bound of {MAX_SCENARIO_CELLS:,}")],
            ["scenarios"],
        )
    try:
        arguments["scenarios"] = scenarios_from_dict(given, instance)
    except InputError as exc:
        where: list[str | None] = [_scenario_field(p) for p in exc.problems]
        raise _invalid(exc.problems, where) from None
    if held_out is not None:
        try:
            arguments["evaluation"] = scenarios_from_dict(held_out, instance)
        except InputError as exc:
            raise _invalid(exc.problems, ["evaluation" for _ in exc.problems]) from None
    compare = chosen.get("compare")
    compare = False if compare is None else compare
    if not isinstance(compare, bool):
        raise _invalid([Problem(f"must be true or false, got {compare!r}")], ["options.compare"])
    buffer = chosen.get("buffer")
    buffer = DEFAULT_BUFFER if buffer is None else buffer
    if isinstance(buffer, bool) or not isinstance(buffer, int | float) or not 0 <= buffer <= 10:
        raise _invalid([Problem(f"must be a number in [0, 10], got {buffer!r}")],
                       ["options.buffer"])
    if not compare and (held_out is not None or chosen.get("buffer") is not None):
        raise _invalid([Problem("needs options.compare: true")],
                       ["evaluation" if held_out is not None else "options.buffer"])
    arguments["compare_plans"] = compare
    arguments["buffer"] = float(buffer)
    method = chosen.get("method")
    method = "auto" if method is None else method
    if method not in METHODS:
        raise _invalid([Problem(f"must be one of {', '.join(METHODS)}, got {method!r}")],
                       ["options.method"])
    arguments["method"] = method
    try:
        arguments["risk"] = parse_risk(chosen.get("risk"))
        commit = chosen.get("commit_days", 7)
        arguments["commit_days"] = check_commit(commit, 0, instance.days)
    except InputError as exc:
        fields: list[str | None] = [
            f"options.{(p.column or 'risk').replace('-', '_')}" for p in exc.problems
        ]
        raise _invalid(exc.problems, fields) from None
    return arguments


def stochastic_task(
    request: Any, key: str | None = None, time_limit: float | None = None
) -> dict[str, Any]:
    """Jobs of kind "stochastic_plan": the JSON of `triage plan --scenarios ... --json`
    (with `options.compare`, `--compare`'s: the plan's and `comparison`). The job's time
    limit counts from here: reading the request and its scenarios included; with the
    comparison it is shared as the CLI shares it."""
    import time

    from optimiser.deadline import Deadline
    from optimiser.service.tasks import _invalid, load_request
    from optimiser.stochastic.plan_compare import plan_and_compare

    started = time.perf_counter()
    arguments = prepare_stochastic(load_request(request), time_limit)
    instance = arguments.pop("instance")
    scenarios = arguments.pop("scenarios")
    limit = arguments.get("time_limit")
    deadline = None if limit is None else Deadline(limit, start=started)
    try:
        result, comparison = plan_and_compare(instance, scenarios, **arguments,
                                              deadline=deadline)
    except InputError as exc:
        raise _invalid(exc.problems, [f"options.{p.column}" if p.column else None
                                      for p in exc.problems]) from None
    payload = result.to_dict()
    if comparison is not None:
        payload["comparison"] = comparison.to_dict()
    return payload


def validate_stochastic(request: Mapping[str, Any], time_limit: float | None = None) -> None:
    prepare_stochastic(request, time_limit)


def register(kinds: dict[str, Any], task_kind: Any) -> None:
    kinds["stochastic_plan"] = task_kind(
        "stochastic_plan",
        stochastic_task,
        validate_stochastic,
        "a two-stage delivery plan under demand scenarios (docs/stochastic.md)",
    )
