"""Each option of each job kind set to each odd value, the rest of the request valid: the
answer is a 422 naming `request.options.<key>` or an accepted job that ends done (never a
500, never a failed job with an internal error)."""
from __future__ import annotations

import copy
import json
import sys
import time

import httpx

sys.path[:0] = ["tests/service", "tests", "probe3"]
from fuzz_service import BASE, TOKEN, check  # noqa: E402
from test_service_api import TINY_PLAN  # noqa: E402
from test_service_backtest import REQUEST as BACKTEST  # noqa: E402
from test_service_saa import REQUEST as SAA  # noqa: E402
from test_service_stochastic import REQUEST as STOCH  # noqa: E402

URL = sys.argv[1]
ODD = [None, True, 0, -1, 0.5, 1e308, 2**64, "", "abc", [], {}, ["mean"], [{"a": 1}], {"a": 1},
       "none", 7, 1.5, "2020-04-10", "cvar:alpha=0.5,lambda=0.5", "nan", -1e-9]
KINDS = {
    "solve": (BASE, ["supply", "constraints", "default_constraints", "price_of_fairness",
                     "seed", "time_limit"]),
    "plan": (TINY_PLAN, ["constraints", "default_constraints", "price_of_fairness", "mip_gap",
                         "time_limit"]),
    "stochastic_plan": (STOCH, ["commit_days", "risk", "compare", "buffer", "method"]),
    "backtest": (BACKTEST, ["as_of", "policies", "commit_days", "buffer", "forecast", "anchor"]),
    "saa": (SAA, ["replications", "sample", "evaluate_on", "select_on", "seed", "confidence",
                  "commit_days", "risk", "today"]),
}
bad = 0
accepted = []
n = 0
with httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
    for kind, (base, keys) in KINDS.items():
        for key in keys:
            for value in ODD:
                body = copy.deepcopy(base)
                body["options"] = {**(body.get("options") or {}), key: value, "time_limit": 3}
                if key == "time_limit":
                    body["options"][key] = value
                n += 1
                r = c.post("/v1/jobs", content=json.dumps({"kind": kind, "request": body}),
                           headers={"Content-Type": "application/json"})
                msg = check(r, body)
                if msg is None and r.status_code == 422:
                    fields = [p.get("field") for p in r.json()["error"].get("problems", [])]
                    if not any(f and f.startswith(f"request.options.{key}") for f in fields):
                        msg = f"422 not naming request.options.{key}: {r.text[:300]}"
                if msg:
                    bad += 1
                    print(kind, key, repr(value), msg)
                if r.status_code == 202:
                    accepted.append((kind, key, value, r.json()["id"]))
    deadline = time.monotonic() + 900
    for kind, key, value, jid in accepted:
        while True:
            job = c.get(f"/v1/jobs/{jid}").json()
            if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        if job["status"] != "done":
            bad += 1
            print("JOB", kind, key, repr(value), job["status"], str(job.get("error"))[:300])
print("cases", n, "accepted", len(accepted), "bad", bad)
