"""Mutational fuzz of POST /v1/bedside (instances/bedside-snapshot as the base body)."""
from __future__ import annotations

import json
import random
import sys

import httpx

sys.path[:0] = ["probe3"]
from fuzz_service import TOKEN, check, mutate  # noqa: E402

from optimiser.bedside.io import case_to_dict  # noqa: E402

URL, N, SEED = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = case_to_dict("instances/bedside-snapshot")
rng = random.Random(SEED)
bad = 0
counts: dict[int, int] = {}
with httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as c:
    for i in range(N):
        body = mutate(base, rng)
        r = c.post("/v1/bedside", content=json.dumps(body),
                   headers={"Content-Type": "application/json"})
        counts[r.status_code] = counts.get(r.status_code, 0) + 1
        msg = check(r, body)
        if msg:
            bad += 1
            print("CASE", i, msg[:400])
print("counts", counts, "bad", bad)
