"""Snapshot every answer of the single-period engine, to compare two versions of the code.

`dump` solves a fixed matrix of cases in process (optimiser.solve, compare, evaluate) and writes
one JSON file per case with everything except timings and HiGHS run counts; `diff` compares two
such folders and lists every difference. Cases: every shipped instance (multi-period folders at
given supplies) x supplies x constraint sets x policies, `compare` and `evaluate` on each, and
seeded generated instances (ties, prognosis tiers, fractional demand, staff caps).

    PYTHONPATH=/tmp/main-checkout .venv/bin/python scripts/answers.py dump /tmp/before
    .venv/bin/python scripts/answers.py dump /tmp/after
    .venv/bin/python scripts/answers.py diff /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

CONSTRAINT_SETS: list[list[str]] = [
    [],
    ["per_capita_floor:share=0.3"],
    ["excess_per_capita_floor:share=0.5"],
    ["coverage_floor:level=0.6"],
    ["capacity_per_capita_floor:beds_per_100k=10"],
    ["min_units:units=5"],
    ["max_coverage_gap:gap=0.5"],
    ["threshold:tau=0"],
    ["threshold:tau=5,index=excess_demand"],
    ["prioritarian"],
    ["prioritarian:weights=excess_per_capita"],
    ["per_capita_floor:share=0.3", "coverage_floor:level=0.6", "max_coverage_gap:gap=0.5"],
    ["per_capita_floor:share=0.5", "prioritarian:weights=excess_per_capita"],
    ["min_units:units=3", "coverage_floor:level=0.4", "capacity_per_capita_floor:beds_per_100k=5"],
    ["coverage_floor:level=1"],
]
POLICIES = ["optimal", "rai", "excess"]


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    result = dict(result)
    result.pop("timings", None)
    solver = result.get("solver")
    if solver:
        result["solver"] = {k: v for k, v in solver.items() if k not in ("seconds", "solves")}
    return result


def generated(seed: int) -> Any:
    """A small random instance with ties (equal gains and lengths of stay), tiers, staff caps
    and fractional demand."""
    import optimiser

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    sw = rng.choice([0.5, 0.6, 0.6, 0.8], n)
    rows = pd.DataFrame(
        {
            "region": [f"G{i}" for i in range(n)],
            "population": rng.integers(10_000, 2_000_000, n),
            "capacity": rng.integers(0, 40, n),
            "peak_demand": np.round(
                rng.choice([0.0, 1.0], n, p=[0.2, 0.8]) * rng.integers(0, 90, n)
                + rng.choice([0.0, 0.5, 0.25], n),
                2,
            ),
            "survival_with": sw,
            "survival_without": 0.1,
            "los_days": rng.choice([7.0, 7.0, 10.0], n),
            "staff_cap": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 60, n)),
            "weight": rng.choice([1.0, 2.0], n),
        }
    )
    if seed % 3 == 2:  # some regions whose patients gain nothing
        rows.loc[rows.index[::3], "survival_with"] = 0.1
    tiers = None
    if seed % 2:
        records = []
        for rid in rows["region"][: n // 2]:
            records += [
                {"region": rid, "share": 0.25, "survival_with": 0.9},
                {"region": rid, "share": 0.75, "survival_with": 0.4 if seed % 4 == 1 else 0.1},
            ]
        tiers = pd.DataFrame(records)
    supply = int(rng.integers(0, int(max(rows["peak_demand"].sum(), 1))))
    return optimiser.instance_from_frames(
        rows, supply, tiers=tiers, horizon_days=float(rng.choice([10.0, 30.0]))
    )


def cases() -> Iterator[tuple[str, Any, int | None]]:
    import optimiser

    for folder in sorted((ROOT / "instances").iterdir()):
        inst = optimiser.load_instance(folder)
        supplies: list[int | None] = (
            [None, max(1, inst.supply // 2), inst.supply * 2] if inst.supply else [800, 2400]
        )
        for supply in supplies:
            yield f"{folder.name}-s{supply}", inst, supply
    for seed in range(24):
        yield f"generated{seed}", generated(seed), None


def dump(out: Path, quick: bool = False) -> int:
    import optimiser

    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, inst, supply in cases():
        for k, cons in enumerate(CONSTRAINT_SETS):
            for policy in POLICIES if not quick else ["optimal"]:
                if policy != "optimal" and k % 3:
                    continue
                try:
                    res = optimiser.solve(
                        inst,
                        constraints=cons,
                        policy=policy,
                        supply=supply,
                        default_constraints=False,
                        time_limit=60,
                    )
                    payload: Any = _strip(res.to_dict())
                except Exception as exc:  # an error is an answer too
                    payload = {"error": f"{type(exc).__name__}: {exc}"}
                (out / f"solve-{name}-c{k}-{policy}.json").write_text(
                    json.dumps(payload, indent=1, sort_keys=True)
                )
                count += 1
            if k in (0, 1, 6, 11, 12):
                try:
                    table = optimiser.compare(inst, cons, default_constraints=False, supply=supply)
                    payload = json.loads(table.to_json(orient="split", double_precision=15))
                except Exception as exc:
                    payload = {"error": f"{type(exc).__name__}: {exc}"}
                (out / f"compare-{name}-c{k}.json").write_text(json.dumps(payload, indent=1))
                count += 1
            if k in (1, 11):
                rule = optimiser.solve(
                    inst,
                    policy="rai",
                    supply=supply,
                    default_constraints=False,
                    price_of_fairness=False,
                )
                try:
                    ev = optimiser.evaluate(
                        inst, rule.allocation, cons, default_constraints=False, supply=supply
                    )
                    payload = _strip(ev.to_dict())
                except Exception as exc:
                    payload = {"error": f"{type(exc).__name__}: {exc}"}
                (out / f"evaluate-{name}-c{k}.json").write_text(
                    json.dumps(payload, indent=1, sort_keys=True)
                )
                count += 1
    print(f"{count} answers written to {out}")
    return count


def _walk(a: Any, b: Any, path: str, diffs: list[str], rel: float) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                diffs.append(f"{path}.{key}: only in {'after' if key in b else 'before'}")
            else:
                _walk(a[key], b[key], f"{path}.{key}", diffs, rel)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _walk(x, y, f"{path}[{i}]", diffs, rel)
    elif isinstance(a, float) and isinstance(b, float) and rel > 0:
        if not math.isclose(a, b, rel_tol=rel, abs_tol=rel):
            diffs.append(f"{path}: {a!r} != {b!r}")
    elif a != b:
        diffs.append(f"{path}: {a!r} != {b!r}")


def diff(before: Path, after: Path, rel: float = 0.0) -> int:
    names = sorted({p.name for p in before.glob("*.json")} | {p.name for p in after.glob("*.json")})
    differing = 0
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            print(f"{name}: only in {'after' if b.exists() else 'before'}")
            differing += 1
            continue
        diffs: list[str] = []
        _walk(json.loads(a.read_text()), json.loads(b.read_text()), "", diffs, rel)
        if diffs:
            differing += 1
            print(f"{name}: {len(diffs)} difference(s)")
            for line in diffs[:12]:
                print(f"    {line}")
    print(f"{len(names)} answers compared, {differing} differ")
    return differing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--quick", action="store_true", help="the optimal policy only")
    c = sub.add_parser("diff")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rel", type=float, default=0.0, help="tolerance on floats (default exact)")
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.out, args.quick)
    else:
        sys.exit(1 if diff(args.before, args.after, args.rel) else 0)


if __name__ == "__main__":
    main()
