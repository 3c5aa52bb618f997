"""Cancellation, listing and metrics around a slow job (threshold MIP) on a running server."""
from __future__ import annotations

import sys
import time

import httpx

sys.path[:0] = ["tests"]
from synthetic import threshold_instance  # noqa: E402

URL = sys.argv[1]
H = {"Authorization": "Bearer alice-token-0123456789abcdef"}
c = httpx.Client(base_url=URL, headers=H, timeout=60)


def show(r: httpx.Response) -> dict:
    print(r.request.method, r.request.url.path, r.status_code, r.text[:220])
    return r.json()


slow = threshold_instance(150)
slow["options"] = {"time_limit": 30}
a = show(c.post("/v1/jobs", json={"kind": "solve", "request": slow}))
b = show(c.post("/v1/jobs", json={"kind": "solve", "request": {**slow, "name": "queued-one"}}))
time.sleep(1.5)
show(c.get(f"/v1/jobs/{a['id']}"))
show(c.delete(f"/v1/jobs/{b['id']}"))   # queued
show(c.delete(f"/v1/jobs/{b['id']}"))   # again
show(c.delete(f"/v1/jobs/{a['id']}"))   # running
t0 = time.monotonic()
while True:
    j = c.get(f"/v1/jobs/{a['id']}").json()
    if j["status"] not in ("queued", "running"):
        break
    time.sleep(0.1)
print("running job ended as", j["status"], "after", round(time.monotonic() - t0, 2), "s", j.get("error"))
show(c.delete(f"/v1/jobs/{a['id']}"))
show(c.get("/v1/jobs", params={"status": "cancelled", "limit": 5}))
# a fresh job runs after the cancel (the worker was replaced)
d = show(c.post("/v1/jobs", json={"kind": "solve", "request": threshold_instance(8)}))
t0 = time.monotonic()
while c.get(f"/v1/jobs/{d['id']}").json()["status"] in ("queued", "running"):
    time.sleep(0.1)
print("next job:", c.get(f"/v1/jobs/{d['id']}").json()["status"], round(time.monotonic() - t0, 2), "s")
m = c.get("/metrics").text
print("\n".join(line for line in m.splitlines() if line.startswith(("triage_jobs{", "triage_worker_restarts", "triage_workers"))))
