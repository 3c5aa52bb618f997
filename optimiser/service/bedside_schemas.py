"""Request bodies of the bedside endpoints (POST /v1/bedside, jobs "bedside" and
"bedside_compare"), apart from the domain types. The JSON schemas state every rule of a single
field that the engine applies (optimiser.bedside.inputs_from_dict, policy.py); the engine
checks the rest (rules across fields, such as a site the units must list) with the CLI's
messages, located by JSON path."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
)


def _checked(schema: dict[str, Any]) -> Any:
    return Annotated[Any, WithJsonSchema(schema)]


def _whole(value: Any) -> Any:
    """A JSON number with no fraction (5.0) is an integer, as JSON Schema says."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Whole = Annotated[StrictInt, BeforeValidator(_whole)]


# A visible character for Python and for JSON Schema (ECMA-262) alike (patients.blank)
TEXT_ID = {"type": "string", "pattern": "[^\\s\\x1c-\\x1f\\x85\\ufeff]"}
NAME = TEXT_ID
PROBABILITY = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
SOFA = {"type": ["integer", "null"], "minimum": 0, "maximum": 24}
FLAG = {"type": ["boolean", "null"]}
MAX_PATIENTS = 50_000
PATIENT_ROW: dict[str, Any] = {
    "type": "object", "title": "PatientRow",
    "description": "One row of patients.csv (docs/bedside.md), with JSON types: arrival is a day "
    "number (dates belong to the CSV files). Further keys are the policy's category flags "
    "(booleans) and reporting groups (strings, numbers or booleans); a key the policy does not "
    "name is refused.",
    "required": ["patient", "site", "arrival", "expected_days"],
    "properties": {
        "patient": TEXT_ID, "site": TEXT_ID,
        "arrival": {"type": "number", "minimum": 0, "maximum": 100_000},
        "expected_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000},
        "survival_with": PROBABILITY, "survival_without": PROBABILITY,
        "sofa": SOFA, "sofa_48h": SOFA, "sofa_120h": SOFA,
        "dni": FLAG, "exclusion": FLAG, "single_organ_failure": FLAG,
        "comorbidity": {"enum": ["none", "major", "severe", None]},
        "life_expectancy_years": {"type": ["number", "null"], "minimum": 0, "maximum": 150},
        "age_years": {"type": ["number", "null"], "minimum": 0, "maximum": 130},
    },
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
}
UNIT_ROW: dict[str, Any] = {
    "type": "object", "title": "UnitRow", "required": ["site", "day", "units"],
    "description": "One row of units.csv: units on hand at the site from that day on.",
    "properties": {"site": TEXT_ID,
                   "day": {"type": "integer", "minimum": 0, "maximum": 100_000},
                   "units": {"type": "integer", "minimum": 0, "maximum": 1_000_000}},
    "additionalProperties": False,
}


def _table(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


NAMES = {"type": "array", "items": NAME, "uniqueItems": True}
POLICY: dict[str, Any] = _table({
    "name": NAME,
    "description": {"type": "string"},
    "objective": {"enum": ["lives", "life_years"]},
    "priority": {"enum": ["rapr", "ny2015_tiers", "pittsburgh_points"]},
    "method": {"enum": ["optimal", "rule"]},
    "categories": NAMES,
    "reporting_groups": NAMES,
    "approval": _table({"approved_by": NAME, "date": {"type": "string", "format": "date"},
                        "reference": {"type": "string"}}, ["approved_by", "date"]),
    "rapr": _table({"mean_days": {"type": "number", "minimum": 1e-3, "maximum": 1e5}}),
    "ny2015": _table({"red_max_sofa": {"type": "integer", "minimum": 0, "maximum": 24},
                      "blue_min_sofa": {"type": "integer", "minimum": 1, "maximum": 25},
                      "exclude_blue": {"type": "boolean"}}),
    "pittsburgh": _table({
        "comorbidity_points": _table({k: {"type": "integer", "minimum": 0, "maximum": 24}
                                      for k in ("none", "major", "severe")},
                                     ["none", "major", "severe"]),
        "life_cycle_tiebreak": {"type": "boolean"},
        "essential_worker_tiebreak": {"type": "boolean"}}),
    "survival_from_sofa": _table({
        "sofa": {"type": "array", "uniqueItems": True,
                 "items": {"type": "integer", "minimum": 0, "maximum": 24}},
        "survival_with": {"type": "array", "items": {"type": "number", "minimum": 0,
                                                     "maximum": 1}},
        "source": TEXT_ID}, ["sofa", "survival_with", "source"]),
    "tie_break": _table({
        "method": {"enum": ["lottery", "weighted_lottery"]},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
        "weights": {"type": "object", "additionalProperties": {
            "type": "number", "minimum": 1e-3, "maximum": 1e3}}}),
    "reserves": {"type": "array", "maxItems": 9, "items": {
        **_table({"name": {"allOf": [NAME, {"not": {"const": "unreserved"}}]},
                  "category": NAME,
                  "share": {"type": "number", "minimum": 0, "maximum": 1},
                  "units": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                  "kind": {"enum": ["soft", "hard"]}}, ["name", "category"]),
        "oneOf": [{"required": ["share"], "not": {"required": ["units"]}},
                  {"required": ["units"], "not": {"required": ["share"]}}]}},
    "reserve_processing": _table({"order": NAMES, "method": {"enum": ["sequential", "smart"]}}),
    "reassessment": _table({"enabled": {"type": "boolean"}, "rule": {"const": "ny2015"}}),
    "exclusions": {"type": "array", "items": {
        **_table({"column": NAME, "above": {"type": "number"}, "below": {"type": "number"},
                  "reason": {"type": "string"}}, ["column"]),
        "anyOf": [{"required": ["above"]}, {"required": ["below"]}]}},
}, ["name", "approval"])
POLICY["title"] = "Policy"
POLICY["description"] = "policy.toml as JSON (docs/bedside.md): dates as YYYY-MM-DD strings."
OVERRIDE_ROW = _table({"patient": TEXT_ID, "decision": {"enum": ["unit", "no_unit"]},
                       "justification": TEXT_ID, "officer": TEXT_ID},
                      ["patient", "decision", "justification", "officer"])


class BedsideOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_limit: _checked({"type": "number", "exclusiveMinimum": 0,  # type: ignore[valid-type]
                          "description": "Seconds for the whole run; capped by the server."}
                         ) = None
    price_of_fairness: StrictBool = Field(True, description="Price each policy component.")
    protocols: StrictBool = Field(True, description="Score every protocol beside the policy.")


PATIENTS = {"type": "array", "minItems": 1, "maxItems": MAX_PATIENTS, "items": PATIENT_ROW}
UNITS = {"type": "array", "minItems": 1, "maxItems": 100_000, "items": UNIT_ROW}


class BedsideRequest(BaseModel):
    """A bedside case as JSON: the rows of patients.csv and units.csv and the policy.toml
    table (docs/bedside.md); `optimiser.bedside.case_to_dict(folder)` builds one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "patients": [{"patient": "A", "site": "H1", "arrival": 0, "survival_with": 0.85,
                      "expected_days": 5},
                     {"patient": "B", "site": "H1", "arrival": 0, "survival_with": 0.4,
                      "expected_days": 5}],
        "units": [{"site": "H1", "day": 0, "units": 1}],
        "policy": {"name": "example", "approval": {"approved_by": "committee",
                                                   "date": "2024-03-01"}},
    }]})

    patients: _checked(PATIENTS)  # type: ignore[valid-type]
    units: _checked(UNITS)  # type: ignore[valid-type]
    policy: _checked(POLICY)  # type: ignore[valid-type]
    overrides: _checked({"type": "array", "items": OVERRIDE_ROW,  # type: ignore[valid-type]
                         "description": "Rows of overrides.csv."}) = None
    options: BedsideOptions | None = None

    def to_engine(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CompareOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replications: Whole = Field(100, ge=1, le=10_000)
    seed: Whole = Field(0, ge=0, le=2**32 - 1)
    stream: Literal["synthetic", "resample"] = "synthetic"
    patients: Annotated[Whole, Field(ge=1, le=MAX_PATIENTS), WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": MAX_PATIENTS})] | None = None
    days: Annotated[Whole, Field(ge=1, le=1000), WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": 1000})] | None = None
    time_limit: _checked({"type": "number", "exclusiveMinimum": 0}) = None  # type: ignore[valid-type]


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patients: _checked(PATIENTS)  # type: ignore[valid-type]
    units: _checked(UNITS)  # type: ignore[valid-type]
    policy: _checked(POLICY)  # type: ignore[valid-type]
    options: CompareOptions | None = None

    def to_engine(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class BedsideJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["bedside"] = Field(description="A bedside allocation (POST /v1/bedside body).")
    request: BedsideRequest


class BedsideCompareJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["bedside_compare"] = Field(
        description="Protocols over seeded replications (`triage bedside compare`).")
    request: CompareRequest
