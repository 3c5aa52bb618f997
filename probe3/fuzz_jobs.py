"""Mutational fuzz of POST /v1/jobs for the plan, stochastic_plan and backtest kinds (bases:
the requests of tests/service). Checks the error shape (probe3/fuzz_service.check) at submit,
then that every accepted job ends done/failed without an internal error."""
from __future__ import annotations

import json
import random
import sys
import time

import httpx

sys.path[:0] = ["tests/service", "tests", "probe3"]
from fuzz_service import TOKEN, check, mutate  # noqa: E402
from test_service_api import TINY_PLAN  # noqa: E402
from test_service_backtest import REQUEST as BACKTEST  # noqa: E402
from test_service_stochastic import REQUEST as STOCH  # noqa: E402

URL = sys.argv[1]
N = int(sys.argv[2])
rng = random.Random(int(sys.argv[3]))
BASES = {"plan": {**TINY_PLAN, "options": {"time_limit": 5}},
         "stochastic_plan": {**STOCH, "options": {**STOCH["options"], "time_limit": 5}},
         "backtest": {**BACKTEST, "options": {**BACKTEST["options"], "time_limit": 5}}}
bad = 0
accepted: list[tuple[str, str, dict]] = []
counts: dict[tuple[str, int], int] = {}
with httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
    for i in range(N):
        kind = rng.choice(list(BASES))
        body = mutate(BASES[kind], rng)
        try:
            r = c.post("/v1/jobs", content=json.dumps({"kind": kind, "request": body}),
                       headers={"Content-Type": "application/json"})
        except httpx.TransportError as exc:
            bad += 1
            print("CASE", i, kind, "transport error", exc, json.dumps(body)[:400])
            continue
        counts[(kind, r.status_code)] = counts.get((kind, r.status_code), 0) + 1
        msg = check(r, body)
        if msg:
            bad += 1
            print("CASE", i, kind, msg)
        if r.status_code == 202:
            accepted.append((kind, r.json()["id"], body))
    deadline = time.monotonic() + 600
    for kind, jid, body in accepted:
        while True:
            job = c.get(f"/v1/jobs/{jid}").json()
            if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        if job["status"] != "done":
            bad += 1
            print("JOB", kind, jid, job["status"], str(job.get("error"))[:300])
print("counts", counts, "accepted", len(accepted), "bad", bad)
