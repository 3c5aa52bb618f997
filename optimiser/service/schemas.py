"""Request and response bodies of the HTTP API (pydantic), kept apart from the domain types.

The JSON schema of an instance is generated from the rules the engine checks, so that the
OpenAPI document and the engine agree (a schemathesis run in the suite checks it): the numbers'
bounds from optimiser.instance_rules.COLUMN_BOUNDS (and HORIZON_BOUNDS, SUPPLY_BOUNDS, TIER_BOUNDS),
each constraint kind's parameters from the fairness registry's ParamSpecs.

Instance fields are validated by the engine itself (optimiser.instance_from_dict), so a bad
value gets the engine's message at a JSON path; here they carry only their JSON schema.
Service-only fields (options flags, job kind, paging) are validated by pydantic.
"""


from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

from models.fairness import MAX_PARAMETER, REGISTRY, ParamSpec
from optimiser.instance_rules import (
    COLUMN_BOUNDS,
    HORIZON_BOUNDS,
    OPTIONAL_DEFAULTS,
    REQUIRED_COLUMNS,
    SUPPLY_BOUNDS,
    TIER_BOUNDS,
    Bounds,
)
from optimiser.policies import MAX_SEED, POLICIES
from optimiser.service.tasks import PLAN_COLUMNS

NUMBER = {"type": "number"}
# a character that is not white space, as Python's str.strip() and ECMA's \s both see it
NON_BLANK = {"type": "string", "pattern": "[^\\s\\u001c-\\u001f\\u0085]",
             "description": "Not empty nor only spaces."}
COLUMN_DOCS = {
    "region": "Unique region id.",
    "population": "People living in the region.",
    "capacity": "Existing equipped beds.",
    "peak_demand": "Projected peak need.",
    "staff_cap": "Most extra units it can staff (null: unlimited).",
    "los_days": "Mean length of stay in days (null: the horizon).",
}


def bounded(bounds: Bounds, nullable: bool = False, doc: str | None = None) -> dict[str, Any]:
    """The JSON schema of a number with these bounds (null allowed: the column's default)."""
    kind = "integer" if bounds.whole else "number"
    schema: dict[str, Any] = {"type": [kind, "null"] if nullable else kind,
                              "minimum": bounds.minimum, "maximum": bounds.maximum}
    if doc:
        schema["description"] = doc
    return schema


def _region_row_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "region": {**NON_BLANK, "description": COLUMN_DOCS["region"]},
        "name": {"type": ["string", "null"], "description": "Display name (default the id)."},
    }
    for column in (*REQUIRED_COLUMNS[1:], *OPTIONAL_DEFAULTS):
        default = OPTIONAL_DEFAULTS.get(column)
        doc = COLUMN_DOCS.get(column, "" if default is None else f"Default {default:g}.")
        properties[column] = bounded(COLUMN_BOUNDS[column], column not in REQUIRED_COLUMNS, doc)
    return {
        "type": "object",
        "title": "RegionRow",
        "description": "One row of regions.csv (same columns, same rules; null or left out: "
        "the column's default).",
        "required": list(REQUIRED_COLUMNS),
        "additionalProperties": False,
        "properties": properties,
    }


def param_schema(spec: ParamSpec) -> dict[str, Any]:
    """The JSON schema of a constraint parameter, from the rule the engine checks."""
    if spec.choices is not None:
        choice: dict[str, Any] = {"type": "string", "enum": list(spec.choices)}
        if not spec.allow_mapping:
            return {**choice, "description": spec.doc}
        per_region = {"type": "object", "description": "A weight per region id.",
                      "additionalProperties": {"type": "number", "minimum": 0,
                                               "maximum": MAX_PARAMETER}}
        return {"anyOf": [choice, per_region], "description": spec.doc}
    if spec.type is str:
        return {"type": "string", "description": spec.doc}
    schema: dict[str, Any] = {"type": "integer" if spec.type is int else "number",
                              "description": spec.doc}
    low = -MAX_PARAMETER if spec.minimum is None else spec.minimum
    high = MAX_PARAMETER if spec.maximum is None else spec.maximum
    schema["minimum" if spec.min_inclusive or spec.minimum is None else "exclusiveMinimum"] = low
    schema["maximum" if spec.max_inclusive or spec.maximum is None else "exclusiveMaximum"] = high
    return schema


def _constraint_schema() -> dict[str, Any]:
    kinds = []
    for name in sorted(REGISTRY):
        kind = REGISTRY[name]
        kinds.append({
            "type": "object",
            "title": f"Constraint_{name}",
            "description": kind.doc,
            "required": ["kind", *(p.name for p in kind.params if p.required)],
            "properties": {"kind": {"const": name},
                           **{p.name: param_schema(p) for p in kind.params}},
            "additionalProperties": False,
        })
    return {"title": "Constraint", "description": "A fairness constraint: kind plus its "
            'parameters (docs/model.md), e.g. {"kind": "coverage_floor", "level": 0.5}.',
            "oneOf": kinds}


REGION_ROW_SCHEMA = _region_row_schema()
TIER_ROW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "TierRow",
    "description": "One row of tiers.csv: a prognosis tier of a region's excess demand.",
    "required": ["region", "share", "survival_with"],
    "additionalProperties": False,
    "properties": {
        "region": NON_BLANK,
        "share": bounded(TIER_BOUNDS["share"]),
        "survival_with": bounded(TIER_BOUNDS["survival_with"]),
    },
}
CONSTRAINT_SCHEMA = _constraint_schema()
CONSTRAINT_TEXT = {
    "type": "string",
    "pattern": "^\\s*(" + "|".join(sorted(REGISTRY)) + ")\\s*(:.*)?$",
    "description": "The CLI form 'kind:param=value[,param=value]'.",
}


def _whole(value: Any) -> Any:
    """A JSON number with no fraction (5.0) is an integer, as JSON Schema says."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def engine_checked(schema: dict[str, Any]) -> Any:
    """A field the engine validates (same messages as the CLI), documented by `schema`."""
    return Annotated[Any, WithJsonSchema(schema)]


class SolveOptions(BaseModel):
    """How to solve; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    time_limit: engine_checked(  # type: ignore[valid-type]
        {"type": "number", "exclusiveMinimum": 0, "description": "Seconds per solver run; "
         "capped by the server's maximum (TRIAGE_MAX_TIME_LIMIT, or TRIAGE_MAX_JOB_TIME_LIMIT "
         "for jobs). Default TRIAGE_DEFAULT_TIME_LIMIT."}
    ) = None
    supply: engine_checked(  # type: ignore[valid-type]
        bounded(SUPPLY_BOUNDS, doc="Override the instance's supply.")
    ) = None
    constraints: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "description": "Extra fairness constraints: objects "
         "{kind, ...params} or CLI strings 'kind:param=value'.",
         "items": {"anyOf": [CONSTRAINT_SCHEMA, CONSTRAINT_TEXT]}}
    ) = None
    default_constraints: StrictBool = Field(
        True, description="Apply the instance's own constraints (CLI --no-default-constraints)."
    )
    price_of_fairness: StrictBool = Field(True, description="Compute the price-of-fairness table.")
    seed: Annotated[StrictInt, BeforeValidator(_whole)] = Field(
        0, ge=0, le=MAX_SEED, description="Seed of the lottery policy."
    )


class InstanceFields(BaseModel):
    """The instance (the folder format as JSON): instance.toml keys plus regions and tiers."""

    model_config = ConfigDict(
        extra="allow",  # unknown keys reach the engine, which names them and lists allowed ones
        json_schema_extra={"additionalProperties": False, "required": ["regions", "supply"]},
    )

    name: engine_checked(NON_BLANK) = None  # type: ignore[valid-type]
    description: engine_checked({"type": "string"}) = None  # type: ignore[valid-type]
    source: engine_checked({"type": "string"}) = None  # type: ignore[valid-type]
    resource: engine_checked(NON_BLANK) = None  # type: ignore[valid-type]
    supply: engine_checked(  # type: ignore[valid-type]
        bounded(SUPPLY_BOUNDS, doc="Units to allocate now.")
    ) = None
    horizon_days: engine_checked(  # type: ignore[valid-type]
        bounded(HORIZON_BOUNDS, doc="Horizon H in days (default: the mean los_days).")
    ) = None
    defaults: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "description": "Default of any optional regions column.",
         "additionalProperties": False,
         "properties": {"name": {"type": "string"},
                        **{c: bounded(COLUMN_BOUNDS[c]) for c in OPTIONAL_DEFAULTS}}}
    ) = None
    regions: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "minItems": 1, "items": REGION_ROW_SCHEMA}
    ) = None
    tiers: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "items": TIER_ROW_SCHEMA}
    ) = None
    constraints: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "items": CONSTRAINT_SCHEMA,
         "description": "Constraints active by default ([[constraints]] of instance.toml)."}
    ) = None
    # documentation tables (optimiser.instance_rules.DOC_TABLES)
    assumptions: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "additionalProperties": {"type": "string"}}
    ) = None
    provenance: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "additionalProperties": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}
    ) = None

    def to_engine(self) -> dict[str, Any]:
        """The request as the engine's JSON (only the fields the client sent)."""
        return self.model_dump(exclude_unset=True)


class SolveRequest(InstanceFields):
    """An instance (the folder format as JSON) plus policy and options."""

    model_config = ConfigDict(
        json_schema_extra={
            "additionalProperties": False,
            "required": ["regions", "supply"],
            "examples": [
                {
                    "name": "pugh2021",
                    "supply": 1000,
                    "regions": [
                        {"region": "A", "population": 9000000, "capacity": 1000,
                         "peak_demand": 2000},
                        {"region": "B", "population": 10500000, "capacity": 700,
                         "peak_demand": 2500},
                    ],
                    "constraints": [{"kind": "per_capita_floor", "share": 0.5}],
                    "policy": "optimal",
                    "options": {"time_limit": 5},
                }
            ],
        },
    )

    policy: Annotated[StrictStr, WithJsonSchema({"type": "string", "enum": list(POLICIES)})] = (
        Field("optimal", description="optimal, or a baseline rule scored the same way.")
    )
    options: SolveOptions | None = None


def _rows(title: str, required: list[str], properties: dict[str, Any], doc: str,
          **extra: Any) -> Any:
    return engine_checked({"type": "array", "description": doc, "minItems": 1, "items": {
        "type": "object", "title": title, "required": required, "properties": properties,
        "additionalProperties": False, **extra}})


DAY = {"type": "integer", "minimum": 0, "maximum": 999}
COUNT = {"type": "number", "minimum": 0, "maximum": 1e9}
UNITS = {"type": "integer", "minimum": 0, "maximum": 1e9}
DEMAND_ROWS = _rows(
    "DemandRow", list(PLAN_COLUMNS["demand"][0]),
    {"region": {"type": "string"}, "day": DAY, "new_patients": COUNT, "census": COUNT},
    "Rows of demand.csv: region, day, new_patients or census.",
    anyOf=[{"required": ["new_patients"]}, {"required": ["census"]}],
)
DELIVERY_ROWS = _rows(
    "DeliveryRow", list(PLAN_COLUMNS["deliveries"][0]),
    {"day": DAY, "quantity": {"type": "integer", "minimum": 0, "maximum": 1e9},
     "depot": {"type": "string"}},
    "Rows of deliveries.csv.",
)
LEAD_TIME_ROWS = _rows(
    "LeadTimeRow", list(PLAN_COLUMNS["lead_times"][0]),
    {"from": {"type": "string"}, "to": {"type": "string"}, "days": DAY},
    "Rows of lead_times.csv.",
)
CAPACITY_ROWS = _rows(
    "CapacityRow", list(PLAN_COLUMNS["capacity"][0]),
    {"region": {"type": "string"}, "day": DAY, "capacity": UNITS, "staff_cap": UNITS},
    "Rows of capacity.csv.",
)


class PlanOptions(BaseModel):
    """How to plan; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    time_limit: engine_checked(  # type: ignore[valid-type]
        {"type": "number", "exclusiveMinimum": 0, "description": "Seconds; capped by "
         "TRIAGE_MAX_JOB_TIME_LIMIT. Default TRIAGE_DEFAULT_TIME_LIMIT."}
    ) = None
    constraints: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "items": {"anyOf": [CONSTRAINT_SCHEMA, CONSTRAINT_TEXT]}}
    ) = None
    default_constraints: StrictBool = True
    price_of_fairness: StrictBool = True
    mip_gap: engine_checked(  # type: ignore[valid-type]
        {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "description": "Relative gap."}
    ) = None


def _plan_region_row_schema() -> dict[str, Any]:
    """Regions of a plan: capacities are whole units over the horizon, and a stay is at most
    MAX_DAYS (the planner's own bound: optimiser/multiperiod/instance.py)."""
    from optimiser.multiperiod.row_checks import MAX_DAYS

    schema = _region_row_schema()
    for column in ("capacity", "staff_cap"):
        prop = dict(schema["properties"][column])
        prop["type"] = (["integer", "null"] if isinstance(prop["type"], list) else "integer")
        schema["properties"][column] = prop
    stay = dict(schema["properties"]["los_days"])
    stay["maximum"] = min(float(stay["maximum"]), float(MAX_DAYS))
    schema["properties"]["los_days"] = stay
    schema["title"] = "PlanRegionRow"
    return schema


class PlanRequest(InstanceFields):
    """A multi-period instance as JSON: the single-period fields, the [multiperiod] table, and
    the rows of demand.csv, deliveries.csv, lead_times.csv and capacity.csv (docs/multiperiod)."""

    model_config = ConfigDict(
        json_schema_extra={"additionalProperties": False, "required": ["regions", "supply",
                                                                       "demand"]},
    )

    regions: engine_checked(  # type: ignore[valid-type]
        {"type": "array", "minItems": 1, "items": _plan_region_row_schema()}
    ) = None
    multiperiod: engine_checked(  # type: ignore[valid-type]
        {"type": "object", "description": "The [multiperiod] table of instance.toml."}
    ) = None
    demand: DEMAND_ROWS = None  # type: ignore[valid-type]
    deliveries: DELIVERY_ROWS = None  # type: ignore[valid-type]
    lead_times: LEAD_TIME_ROWS = None  # type: ignore[valid-type]
    capacity: CAPACITY_ROWS = None  # type: ignore[valid-type]
    options: PlanOptions | None = None


class SolveJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["solve"] = Field(description="One allocation (the body of POST /v1/solve).")
    request: SolveRequest


class PlanJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["plan"] = Field(description="A multi-period delivery plan (`triage plan`).")
    request: PlanRequest


from optimiser.service.backtest_schemas import BacktestJob  # noqa: E402
from optimiser.service.bedside_schemas import BedsideCompareJob, BedsideJob  # noqa: E402
from optimiser.service.saa_schemas import SaaJob  # noqa: E402
from optimiser.service.stochastic_schemas import StochasticPlanJob  # noqa: E402

JobRequest = Annotated[
    SolveJob | PlanJob | BedsideJob | BedsideCompareJob | StochasticPlanJob | BacktestJob
    | SaaJob,
    Field(discriminator="kind"),
]
"""An asynchronous job: a kind and its request. Kinds are registered in
optimiser.service.tasks.KINDS; adding one is one task function and one model here."""


class ProblemItem(BaseModel):
    field: str | None = Field(
        description="JSON path of the field at fault, e.g. regions[2].population."
    )
    message: str = Field(description="What is wrong, as the CLI says it.")
    region: str | None = None


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    problems: list[ProblemItem] = []


class ErrorResponse(BaseModel):
    error: ErrorBody


class PriceRow(BaseModel):
    constraint: str
    lives_saved_alone: float | None
    lives_lost_alone: float | None
    lives_lost_marginal: float | None
    # the intervals the solver's bounds prove; exact: both at most 0.01 lives wide
    lives_lost_alone_low: float | None = None
    lives_lost_alone_high: float | None = None
    lives_lost_marginal_low: float | None = None
    lives_lost_marginal_high: float | None = None
    exact: bool | None = None
    note: str | None = None


class SolverInfoOut(BaseModel):
    name: str
    version: str
    gap: float | None
    seconds: float
    solves: int
    pyomo_version: str


class SolveResult(BaseModel):
    """Exactly the JSON of `triage solve --json` (AllocationResult.to_dict())."""

    instance: str
    status: str = Field(description='"optimal", "time_limit" (stopped by its time limit: best '
                        'found, see solver.gap), "iteration_limit" (stopped at the solver\'s own '
                        'iteration or node limits, no time limit reached: best found, see '
                        'solver.gap and explanation), "infeasible" (see explanation) or "rule" '
                        '(a baseline policy).')
    policy: str
    resource: str
    supply: int
    lives_saved: float | None
    allocation: dict[str, int]
    unallocated: int | None
    constraints: list[str]
    price_of_fairness: list[PriceRow]
    price_of_fairness_skipped: bool = Field(
        False, description="Constraints were active but the price was not asked for."
    )
    lives_optimal: float | None
    lives_optimal_bound: float | None = None
    lives_saved_bound: float | None = Field(
        None, description="Proven upper bound on the lives of any allocation under the active "
        "constraints (equal to lives_saved when proved; null for rules and objective weights)."
    )
    lives_lost_total: float | None
    lives_lost_pct: float | None
    regions: list[dict[str, Any]]
    clipped_floors: list[dict[str, Any]]
    violations: list[str]
    explanation: str | None
    solver: SolverInfoOut | None
    timings: dict[str, float]
    fingerprint: str


JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class JobView(BaseModel):
    id: str
    kind: str
    status: JobStatus
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = Field(description="Runs started so far (a server restart can add one).")
    time_limit: float = Field(description="Effective solver time limit in seconds.")
    idempotency_key: str | None = None
    note: str | None = None
    error: ErrorBody | None = Field(None, description="Why the job failed.")
    result: SolveResult | dict[str, Any] | None = Field(
        None, description="When done: the result (for solve, the JSON of triage solve --json)."
    )


class JobList(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Ready(BaseModel):
    ready: bool
    checks: dict[str, str]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses an endpoint can answer."""
    return {status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
            for status in statuses}


ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, or a bad header.",
    401: "Missing or invalid token.",
    404: "No such job for this token.",
    409: "Conflict: the job already finished, or the Idempotency-Key was used for another "
    "request.",
    413: "Body over the size limit (TRIAGE_MAX_BODY_BYTES), or, for POST /v1/solve, an "
    "instance over TRIAGE_MAX_SYNC_REGIONS regions (submit it as a job).",
    415: "The body is not JSON (Content-Type must be application/json).",
    422: "Invalid input: `problems` name the fields at fault, in the CLI's words.",
    429: "Rate, concurrency or active-jobs limit of this token (see Retry-After).",
    500: "Internal error (never a stack trace; the server log has details).",
    503: "Solvers not ready, or too many solves waiting (see Retry-After).",
    504: "The solve outlived its hard time limit and was stopped.",
}
AUTHED = (400, 401, 413, 422, 429)
