"""Request bodies of the bedside endpoints (POST /v1/bedside, jobs "bedside" and
"bedside_compare"), apart from the domain types. Rows and the policy are validated by the
engine itself (optimiser.bedside.inputs_from_dict), so a bad value gets the CLI's message."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, WithJsonSchema


def _checked(schema: dict[str, Any]) -> Any:
    return Annotated[Any, WithJsonSchema(schema)]


PATIENT_ROW = {
    "type": "object", "title": "PatientRow",
    "description": "One row of patients.csv (docs/bedside.md): same columns, same rules.",
    "required": ["patient", "site", "arrival", "expected_days"],
    "properties": {
        "patient": {"type": "string"}, "site": {"type": "string"},
        "arrival": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]},
        "survival_with": {"type": "number", "minimum": 0, "maximum": 1},
        "survival_without": {"type": "number", "minimum": 0, "maximum": 1},
        "sofa": {"type": "integer", "minimum": 0, "maximum": 24},
        "expected_days": {"type": "number", "exclusiveMinimum": 0},
        "dni": {"type": "boolean"},
    },
    "additionalProperties": True,
}
UNIT_ROW = {
    "type": "object", "title": "UnitRow", "required": ["site", "day", "units"],
    "properties": {"site": {"type": "string"},
                   "day": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
                   "units": {"type": "integer", "minimum": 0}},
    "additionalProperties": False,
}
MAX_PATIENTS = 50_000


class BedsideOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_limit: _checked({"type": "number", "exclusiveMinimum": 0,  # type: ignore[valid-type]
                          "description": "Seconds for the whole run; capped by the server."}
                         ) = None
    price_of_fairness: StrictBool = Field(True, description="Price each policy component.")
    protocols: StrictBool = Field(True, description="Score every protocol beside the policy.")


class BedsideRequest(BaseModel):
    """A bedside case as JSON: the rows of patients.csv and units.csv and the policy.toml
    table (docs/bedside.md)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "patients": [{"patient": "A", "site": "H1", "arrival": 0, "survival_with": 0.85,
                      "expected_days": 5},
                     {"patient": "B", "site": "H1", "arrival": 0, "survival_with": 0.4,
                      "expected_days": 5}],
        "units": [{"site": "H1", "day": 0, "units": 1}],
        "policy": {"name": "example", "approval": {"approved_by": "committee",
                                                   "date": "2024-03-01"}},
    }]})

    patients: _checked({"type": "array", "minItems": 1,  # type: ignore[valid-type]
                        "maxItems": MAX_PATIENTS, "items": PATIENT_ROW})
    units: _checked({"type": "array", "minItems": 1, "items": UNIT_ROW})  # type: ignore[valid-type]
    policy: _checked({"type": "object", "description": "policy.toml as JSON (dates as "  # type: ignore[valid-type]
                      "YYYY-MM-DD strings)."})
    overrides: _checked({"type": "array", "description": "Rows of overrides.csv: patient, "  # type: ignore[valid-type]
                         "decision, justification, officer."}) = None
    options: BedsideOptions | None = None

    def to_engine(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CompareOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replications: StrictInt = Field(100, ge=1, le=10_000)
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1)
    stream: Literal["synthetic", "resample"] = "synthetic"
    patients: StrictInt | None = Field(None, ge=1, le=MAX_PATIENTS)
    days: StrictInt | None = Field(None, ge=1, le=1000)
    time_limit: _checked({"type": "number", "exclusiveMinimum": 0}) = None  # type: ignore[valid-type]


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patients: _checked({"type": "array", "minItems": 1,  # type: ignore[valid-type]
                        "maxItems": MAX_PATIENTS, "items": PATIENT_ROW})
    units: _checked({"type": "array", "minItems": 1, "items": UNIT_ROW})  # type: ignore[valid-type]
    policy: _checked({"type": "object"})  # type: ignore[valid-type]
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
