"""Property-based tests from the OpenAPI spec (schemathesis): no request, valid or not, makes a
500; every answer conforms to the documented status codes, content types and schemas; and the
document agrees with the engine: what the schema forbids is refused (negative_data_rejection),
and what it allows is accepted unless a rule across fields, which a JSON schema cannot state,
refuses it (positive_data_accepted below)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.generation.modes import GenerationMode

pytestmark = pytest.mark.slow  # property-based fuzzing of every endpoint

EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
# Rules that tie several fields together (a JSON schema cannot state them): the only reasons
# the engine may refuse a request the schema allows (docs/service.md).
ACROSS_FIELDS = re.compile("|".join([
    r"duplicate region id", r"survival_without \(.*\) is greater than survival_with",
    r"tier shares of region", r"below the region's survival_without", r"unknown region",
    r"names unknown region", r"is listed twice", r"has no row for day", r"depot",
    r"regions x .* days is above", r"a horizon of .* days", r"lead time", r"--constraint",
    r"constraint (?:KIND|kind)", r"expected KIND", r"unknown constraint kind",
    r"missing parameter", r"unknown parameter", r"must be (?:one of|<|>|a number)",
    r"has both .census. and .new_patients.", r"to itself", r"needs a length of stay",
    r"outside the horizon",
    # bedside (optimiser/bedside): columns and names the policy ties to the patients and units,
    # guardrails on the names a policy uses, totals across rows
    r"unknown site", r"duplicate patient id", r"a column the policy does not name",
    r"a category flag of the policy", r"does not have", r"not listed in categories",
    r"is also a category", r"two reserves are named", r"reserve shares sum to",
    r"must list every reserve", r"must be below blue_min_sofa", r"weights apply only",
    r"needs weights", r"of the same length", r"clinical exclusions may use",
    r"refused by guardrail", r"no survival probability", r"needs survival_with",
    r"missing value \(", r"listed twice", r"patient-days", r"site-days", r"unknown patient",
    r"overridden twice", r"declined the treatment", r"above the service's bound",
    r"the synthetic cohort has no column",
    # relative to the day the request arrives (a policy is applied only once approved)
    r"is in the future", r"the overrides give .* units? at",
]))


def positive_data_accepted(ctx, response, case):
    """A schema-valid request is not refused for a reason the schema could have stated."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    problems = response.json()["error"].get("problems") or []
    unexplained = [p for p in problems if not ACROSS_FIELDS.search(p["message"])]
    assert not unexplained, f"the schema allows what the engine refuses: {unexplained}"
    return None


CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.negative_data_rejection, positive_data_accepted]


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=str)
def test_no_request_makes_a_server_error(server, tokens, mode):
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    tested = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS,
                                   timeout=60)

        try:
            check()
        except Unsatisfiable:  # no invalid request exists (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        tested += 1
    assert tested >= (8 if mode is GenerationMode.POSITIVE else 4)
    # jobs run after their 202: none of those accepted may have failed with an internal error
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=server.url, headers=headers) as client:
        while client.get("/v1/jobs", params={"status": "running"}).json()["jobs"] or \
                client.get("/v1/jobs", params={"status": "queued"}).json()["jobs"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        failed = client.get("/v1/jobs", params={"status": "failed", "limit": 100}).json()["jobs"]
    assert not [j for j in failed if j["error"]["status"] >= 500], failed
