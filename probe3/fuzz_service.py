"""Mutational fuzz of POST /v1/solve and POST /v1/jobs against a running server.

Checks: no 500, every error is JSON {"error": {...}} with problems whose messages start with
their field, 200 answers have finite numbers and a valid status."""
from __future__ import annotations

import copy
import json
import random
import sys
from typing import Any

import httpx

import optimiser

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18765"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
TOKEN = "alice-token-0123456789abcdef"
BASE = optimiser.instance_to_dict(optimiser.load_instance("instances/pugh2021"))
BASE["options"] = {"time_limit": 5}

ODD: list[Any] = [None, True, False, 0, -1, 1e308, -1e308, 1e-320, 2**63, 2**64 + 1, "",
                  " ", "1", "abc", [], {}, [1], {"a": 1}, 0.5, -0.0, "\u00a0", "\ud800",
                  "NaN", "Infinity", 10**30, 3.7, "A", "per_capita_floor:share=2"]


def paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths(v, (*prefix, i))
    return out


def mutate(body: dict, rng: random.Random) -> dict:
    body = copy.deepcopy(body)
    for _ in range(rng.randint(1, 3)):
        ps = [p for p in paths(body) if p]
        p = rng.choice(ps)
        parent = body
        for k in p[:-1]:
            parent = parent[k]
        op = rng.random()
        if op < 0.6:
            parent[p[-1]] = rng.choice(ODD)
        elif op < 0.75 and isinstance(parent, dict):
            del parent[p[-1]]
        elif op < 0.85 and isinstance(parent, dict):
            parent[rng.choice(["zzz", "Region", "options", "policy", "constraints"])] = rng.choice(ODD)
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(rng.choice(parent)))
        else:
            parent[p[-1]] = rng.choice(ODD)
    return body


EXTRA_OPTS = [
    {"constraints": ["per_capita_floor:share=0.5"]},
    {"constraints": [{"kind": "coverage_floor", "level": 0.9}]},
    {"constraints": [{"kind": "nosuch"}]},
    {"constraints": ["threshold"]},
    {"constraints": [{"kind": "min_units", "units": 1e9}]},
    {"policy_x": 1},
    {"seed": -1}, {"seed": 2**70}, {"supply": 0}, {"supply": -3}, {"supply": 1e12},
    {"time_limit": 0}, {"time_limit": -1}, {"time_limit": 1e9}, {"time_limit": "5"},
    {"price_of_fairness": "no"}, {"default_constraints": 0},
]


def check(resp: httpx.Response, body: Any) -> str | None:
    if resp.status_code >= 500 and resp.status_code not in (503, 504):
        return f"{resp.status_code}: {resp.text[:300]}"
    try:
        data = resp.json()
    except Exception:
        return f"non-JSON {resp.status_code}: {resp.text[:200]}"
    if resp.status_code >= 400:
        err = data.get("error") if isinstance(data, dict) else None
        if not isinstance(err, dict) or "message" not in err:
            return f"bad error shape {resp.status_code}: {resp.text[:300]}"
        for pr in err.get("problems") or []:
            f = pr.get("field")
            if f is not None and not pr["message"].startswith(str(f)):
                return f"problem message does not start with field {f!r}: {pr['message'][:200]}"
            if "Traceback" in pr["message"] or "File \"" in pr["message"]:
                return f"traceback: {pr['message'][:200]}"
    else:
        if "NaN" in resp.text or "Infinity" in resp.text:
            return f"non-finite in 200: {resp.text[:200]}"
    return None


def main() -> None:
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    bad = 0
    counts: dict[int, int] = {}
    with httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
        for i in range(N):
            body = mutate(BASE, rng)
            if rng.random() < 0.3:
                body.setdefault("options", {})
                if isinstance(body["options"], dict):
                    body["options"].update(rng.choice(EXTRA_OPTS))
            try:
                raw = json.dumps(body, allow_nan=True)
            except Exception:
                continue
            if rng.random() < 0.5:
                r = c.post("/v1/solve", content=raw, headers={"Content-Type": "application/json"})
            else:
                r = c.post("/v1/jobs", content=json.dumps({"kind": "solve", "request": body},
                                                          allow_nan=True),
                           headers={"Content-Type": "application/json"})
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            msg = check(r, body)
            if msg:
                bad += 1
                print("CASE", i, msg)
                print("  body:", raw[:600])
    print("counts", counts, "bad", bad)


if __name__ == "__main__":
    main()
