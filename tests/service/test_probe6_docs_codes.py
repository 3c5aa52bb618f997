"""Probe 6: docs/service.md's table of error statuses left out two the server answers (found on
main e279bf2): 415 `unsupported_media_type` (a body sent as text/plain or a form) and 413
`too_large_for_sync` (a POST /v1/solve over TRIAGE_MAX_SYNC_REGIONS regions). A client written
from the table had no branch for either. Every (status, code) the service's code raises is now
checked against the table, and the two against a real server.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RAISED = re.compile(r'ApiError\(\s*(\d{3}),\s*"([a-z_]+)"')
ROW = re.compile(r"^\| (\d{3}) \| ([^|]+) \|", re.MULTILINE)


def documented() -> dict[int, set[str]]:
    text = (REPO / "docs" / "service.md").read_text(encoding="utf-8")
    return {int(s): set(re.findall(r"`([a-z_]+)`", codes)) for s, codes in ROW.findall(text)}


def test_every_status_and_code_the_service_raises_is_in_the_table() -> None:
    raised = {(int(s), c) for f in (REPO / "optimiser" / "service").rglob("*.py")
              for s, c in RAISED.findall(f.read_text(encoding="utf-8"))}
    assert (415, "unsupported_media_type") in raised and (413, "too_large_for_sync") in raised
    table = documented()
    missing = sorted((s, c) for s, c in raised if c not in table.get(s, set()))
    assert not missing, f"not in docs/service.md's table of errors: {missing}"


def test_the_two_answer_as_documented(start_server) -> None:
    server = start_server("probe6-codes", TRIAGE_MAX_SYNC_REGIONS="1")
    body = {"supply": 2, "regions": [
        {"region": r, "population": 1000, "capacity": 0, "peak_demand": 5} for r in "AB"]}
    with server.client() as api:
        text = api.post("/v1/solve", content=b"{}", headers={"Content-Type": "text/plain"})
        big = api.post("/v1/solve", json=body)
    table = documented()
    for response, status, code in ((text, 415, "unsupported_media_type"),
                                   (big, 413, "too_large_for_sync")):
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert code in table[status]
