"""The movement cleanup (optimiser/multiperiod/methods/cleanup.py) on issue 12's threshold cases,
one measurement per subprocess.

Instances: benchmarks/planner_scale.py's generator (3 depots, census demand, 10 nearest
transfer lanes, seed 1), n x 90 days, `threshold:tau=0` (every region a member), `--gap 0.01`,
a 120 s time limit, no price of fairness (as `planner_scale.py --groups threshold`); with
`--plain` also the plain plan (no rule, no time limit). Each row: the plan's status, lives and
gap; units moved before and after the cleanup (units shipped plus transferred), the logistics
cost before and after, the cleanup's wall and CPU seconds; the process's wall and CPU seconds;
then (outside the timing) check-plan's replay of the returned plan: its survivors and whether
it breaks a rule.

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/transfer_cleanup.py \
        [--sizes 100 300] [--limit 120] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child(regions: int, limit: float, base: Path, plain: bool) -> dict[str, Any]:
    from benchmarks.planner_scale import folder_of
    from optimiser.multiperiod import check_plan, load_multiperiod, plan
    from optimiser.multiperiod import planner as planner_module

    folder = folder_of(regions, 90, base)
    real = planner_module.clean_movements
    cpu: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        c0 = time.process_time()
        out = real(*args, **kwargs)
        cpu.append(time.process_time() - c0)
        return out

    planner_module.clean_movements = timed
    t0, c0 = time.perf_counter(), time.process_time()
    inst = load_multiperiod(folder)
    if plain:  # the default plan, no time limit: what proved optimal plans carry
        result = plan(inst, price_of_fairness=False)
    else:
        result = plan(
            inst, ["threshold:tau=0"], time_limit=limit, mip_gap=0.01, price_of_fairness=False
        )
    wall, cpu_total = time.perf_counter() - t0, time.process_time() - c0
    check = check_plan(inst, result)
    c = result.movement_cleanup
    return {
        "regions": regions,
        "case": "plain" if plain else "threshold",
        "status": str(result.status),
        "lives": result.lives_saved,
        "gap": result.solver.gap if result.solver else None,
        "cleanup": None if c is None else c.to_dict(),
        "cleanup_cpu": cpu[0] if cpu else None,
        "timings": result.timings,
        "wall": wall,
        "cpu": cpu_total,
        "check_ok": bool(check.ok),
        "check_survivors": float(check.survivors),
        "check_rules": sorted({v["rule"] for v in check.violations}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 300])
    parser.add_argument("--limit", type=float, default=120.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--plain", action="store_true", help="also the plain plan (no rule, no time limit)"
    )
    parser.add_argument("--plain-only", action="store_true", help="only the plain plan")
    parser.add_argument("--child", type=int)
    parser.add_argument("--base", type=Path)
    args = parser.parse_args()
    if args.child is not None:
        out = child(args.child, args.limit, args.base, args.plain)
        print("RESULT " + json.dumps(out))
        return
    from benchmarks.planner_scale import versions

    base = Path(tempfile.mkdtemp(prefix="cleanup-bench-"))
    rows = []
    cases = [] if args.plain_only else [(n, False) for n in args.sizes]
    cases += [(n, True) for n in args.sizes] if args.plain or args.plain_only else []
    for n, plain in cases:
        cmd = [
            sys.executable, __file__, "--child", str(n), "--limit", str(args.limit),
            "--base", str(base), *(["--plain"] if plain else []),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.limit * 3)
        found = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if not found:
            case = "plain" if plain else "threshold"
            print(f"{n} x 90 {case}: ERROR {(proc.stderr or proc.stdout)[-1500:]}")
            continue
        row = json.loads(found[0][len("RESULT ") :])
        rows.append(row)
        c = row["cleanup"] or {}
        print(
            f"{n} x 90 {row['case']}: {row['status']}, lives {row['lives']:.2f}, gap {row['gap']}, "
            f"moved {c.get('units_before')} -> {c.get('units_after')} "
            f"(transferred {c.get('transferred_before')} -> {c.get('transferred_after')}), "
            f"cost {c.get('cost_before')} -> {c.get('cost_after')}, cleanup {c.get('status')} "
            f"{c.get('seconds')} s wall, {row['cleanup_cpu']} s CPU; process {row['wall']:.1f} s "
            f"({row['cpu']:.1f} s CPU); check-plan ok {row['check_ok']}, survivors "
            f"{row['check_survivors']:.6f}",
            flush=True,
        )
    print(json.dumps(versions()))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "versions": versions()}, indent=2))


if __name__ == "__main__":
    main()
