"""Task kind "saa": `triage scenarios saa` as a job (tasks.KINDS registers it). The request is
a "plan" request plus the distribution (`scenarios`: ScenarioSet.to_dict's JSON, resampled;
or `generator`: {"method": "lognormal", ...parameters}), `executed` (rows of moves already
made) and the options of the CLI (replications, sample, evaluate_on, select_on, seed,
confidence, commit_days, risk, today). The job's time limit holds for the whole run: past it
the job is done with `"status": "time_limit"`, no bounds and the reason
(optimiser.stochastic.replications.SaaTimeLimit; exit 4 in the CLI). A 5xx stays for what the
service itself got wrong: a budget the user gave running out is an answer, as for every other
job kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optimiser.errors import InputError, Problem

SAA_OPTIONS = (
    "replications",
    "sample",
    "evaluate_on",
    "select_on",
    "seed",
    "confidence",
    "commit_days",
    "risk",
    "today",
)
DEFAULTS = {"replications": 10, "sample": 10, "evaluate_on": 200, "seed": 0, "confidence": 0.95,
            "commit_days": 7}
MAX_SCENARIO_CELLS = 2_000_000  # scenarios drawn x regions x days per job


def _option_field(problem: Problem) -> str:
    return f"options.{(problem.column or 'risk').replace('-', '_')}"


def _executed_field(problem: Problem) -> str:
    field = "executed"
    if problem.line is not None:
        field += f"[{problem.line - 1}]"  # rows given as JSON are numbered from 1
    return f"{field}.{problem.column}" if problem.column else field


def _source(body: dict[str, Any], instance: Any) -> Any:
    from optimiser.scenarios.io import scenarios_from_dict
    from optimiser.scenarios.table import request_from_table
    from optimiser.service.tasks import _invalid

    given, generator = body.pop("scenarios", None), body.pop("generator", None)
    if (given is None) == (generator is None):
        raise _invalid(
            [Problem("give exactly one of 'scenarios' (a distribution to resample) and "
                     "'generator' ({\"method\": \"lognormal\", ...})")],
            ["scenarios"],
        )
    if given is not None:
        try:
            return scenarios_from_dict(given, instance)
        except InputError as exc:
            where: list[str | None] = [
                p.column if (p.column or "").startswith("scenarios") else "scenarios"
                for p in exc.problems
            ]
            raise _invalid(exc.problems, where) from None
    if not isinstance(generator, Mapping) or generator.get("method") != "lognormal":
        raise _invalid([Problem("must be {\"method\": \"lognormal\", ...its parameters} (the "
                                "other generators read forecast files)")], ["generator.method"])
    try:
        request = request_from_table(dict(generator))
        request.run(instance)  # validates the parameters (a small run: scenarios default)
    except (InputError, TypeError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, InputError) else [Problem(str(exc))]
        fields: list[str | None] = []
        for p in problems:
            text = p.message
            key = text.split("'uncertainty.", 1)[1].split("'", 1)[0] if "'uncertainty." in \
                text else None
            fields.append(f"generator.{key}" if key else "generator")
        cleaned = [Problem(p.message.replace("uncertainty.", "generator.")) for p in problems]
        raise _invalid(cleaned, fields) from None
    return request


def prepare_saa(request: Mapping[str, Any], time_limit: float | None = None) -> dict[str, Any]:
    """Validate an SAA request; the arguments of optimiser.stochastic.replications.saa()."""
    import pandas as pd

    from optimiser.multiperiod.executed import executed_moves
    from optimiser.multiperiod.plan_io import plan_rows, today_from
    from optimiser.service.tasks import _invalid, prepare_plan
    from optimiser.stochastic.replications import _check, _check_window
    from optimiser.stochastic.risk import parse_risk

    body = dict(request)
    executed = body.pop("executed", None)
    options = dict(body.get("options") or {})
    chosen = {**DEFAULTS, **{k: options.pop(k) for k in SAA_OPTIONS if k in options}}
    body["options"] = options
    source_fields: dict[str, Any] = {
        k: body.pop(k) for k in ("scenarios", "generator") if k in body
    }
    arguments = prepare_plan(body, time_limit)
    arguments.pop("price_of_fairness", None)
    instance = arguments["instance"]
    try:
        _check(chosen["replications"], chosen["sample"], chosen.get("select_on"),
               chosen["evaluate_on"], chosen["seed"], chosen["confidence"], 1)
        risk = parse_risk(chosen.get("risk"))
    except InputError as exc:
        raise _invalid(exc.problems, [_option_field(p) for p in exc.problems]) from None
    drawn = chosen["replications"] * (chosen["sample"] + 1) + (
        chosen.get("select_on") or chosen["sample"]) + chosen["evaluate_on"]
    cells = drawn * len(instance.regions) * instance.days
    if cells > MAX_SCENARIO_CELLS:
        raise _invalid(
            [Problem(f"{drawn} scenarios drawn x {len(instance.regions)} regions x "
                     f"{instance.days} days is above the service's bound of "
                     f"{MAX_SCENARIO_CELLS:,}")],
            ["options.evaluate_on"],
        )
    arguments["source"] = _source(source_fields, instance)
    rows = None
    if executed is not None:
        if not isinstance(executed, list) or not all(isinstance(r, Mapping) for r in executed):
            raise _invalid([Problem("must be a list of row objects")], ["executed"])
        try:
            rows = plan_rows(pd.DataFrame(executed), instance, executed=True, name="executed")
        except InputError as exc:
            raise _invalid(exc.problems, [_executed_field(p) for p in exc.problems]) from None
    today = chosen.get("today")
    try:
        if today is None:
            today = today_from(rows) if rows is not None else 0
        _check_window(instance, chosen["commit_days"], today)
    except InputError as exc:
        raise _invalid(exc.problems, [_option_field(p) for p in exc.problems]) from None
    if rows is not None:  # moves made before today, that the depots and regions had
        try:
            executed_moves(instance, rows, today, file="executed")
        except InputError as exc:
            raise _invalid(exc.problems, [_executed_field(p) for p in exc.problems]) from None
    arguments.update(
        replications=chosen["replications"], sample_size=chosen["sample"],
        evaluation_size=chosen["evaluate_on"], selection_size=chosen.get("select_on"),
        seed=chosen["seed"], confidence=chosen["confidence"], commit_days=chosen["commit_days"],
        risk=risk, executed=rows, today=today,
    )
    return arguments


def saa_task(request: Any, key: str | None = None,
             time_limit: float | None = None) -> dict[str, Any]:
    """Jobs of kind "saa": the JSON of `triage scenarios saa --json`, in this worker process.
    The job's time limit counts from here, reading the request included (as every job's:
    before, it started at `saa`'s call)."""
    import time

    from optimiser.deadline import MIN_RUN_SECONDS
    from optimiser.service.tasks import _invalid, load_request
    from optimiser.stochastic.replications import SaaTimeLimit, saa

    started = time.perf_counter()
    arguments = prepare_saa(load_request(request), time_limit)
    limit = arguments.get("time_limit")
    if limit is not None:  # what is left of it (saa takes seconds from its call)
        arguments["time_limit"] = max(MIN_RUN_SECONDS, limit - (time.perf_counter() - started))
    instance, source = arguments.pop("instance"), arguments.pop("source")
    try:
        result = saa(instance, source, workers=1, progress=False, **arguments)
    except InputError as exc:
        raise _invalid(exc.problems, [_option_field(p) if p.column else None
                                      for p in exc.problems]) from None
    except SaaTimeLimit as exc:
        return stopped_payload(instance, arguments, exc, time_limit)
    return result.to_dict()


def stopped_payload(instance: Any, arguments: Mapping[str, Any], exc: Exception,
                    time_limit: float | None) -> dict[str, Any]:
    """The job's answer when its time limit stopped the run: SaaResult.stopped's JSON (status
    time_limit, no bounds, the reason and what was asked), which SaaResult.from_dict reads."""
    from optimiser.stochastic.replications import SaaResult
    from optimiser.stochastic.saa_objective import SaaObjective

    risk = arguments["risk"]
    message = f"{exc} (time limit {time_limit:g} s): no bounds are reported" if time_limit \
        else f"{exc}: no bounds are reported"
    stopped = SaaResult.stopped(
        instance.name, message, time_limit,
        replications=arguments["replications"], sample_size=arguments["sample_size"],
        selection_size=arguments["selection_size"] or arguments["sample_size"],
        evaluation_size=arguments["evaluation_size"], seed=arguments["seed"],
        confidence=arguments["confidence"], commit_days=arguments["commit_days"],
        risk=risk.label, objective=SaaObjective(risk).describe(), today=arguments["today"],
    )
    return stopped.to_dict()


def validate_saa(request: Mapping[str, Any], time_limit: float | None = None) -> None:
    prepare_saa(request, time_limit)


def register(kinds: dict[str, Any], task_kind: Any) -> None:
    kinds["saa"] = task_kind(
        "saa",
        saa_task,
        validate_saa,
        "sample-average approximation with bounds on the optimality gap (docs/stochastic.md)",
    )
