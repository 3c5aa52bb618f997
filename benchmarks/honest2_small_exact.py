"""Small plans whose exact method is slow at HiGHS's root (track honest2, session 29).

    python benchmarks/honest2_small_exact.py [REGIONS DAYS SEED]   # default 20 20 3

Generates the instance (optimiser/multiperiod/generator.py) under /tmp and runs, each in a child
process (CPU seconds from wait4), one interleaved pair: `plan(method="exact")` and the probe
"exact from the rounded plan" (method auto with no integer-column limit and no node limit: the
rounding method's plan, then branch-and-bound from it without RINS/RENS). Prints one JSON line a
run: CPU, status, lives, logistics cost and a hash of the manifest (BENCHMARKS.md, "honest2").
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(regions: int, days: int, seed: int, variant: str) -> None:
    import optimiser.multiperiod.engine as engine
    from optimiser.multiperiod import load_multiperiod
    from optimiser.multiperiod.generator import GeneratorSpec, generate
    from optimiser.multiperiod.planner import plan

    folder = Path(f"/tmp/honest2-small/g-{regions}x{days}-s{seed}")
    if not folder.exists():
        generate(GeneratorSpec(regions=regions, days=days, seed=seed), folder)
    method = "exact"
    if variant == "rounded":
        engine.EXACT_LIMIT = 10**12  # type: ignore[misc]
        engine.FALLBACK_NODES = None  # type: ignore[assignment,misc]
        method = "auto"
    result = plan(load_multiperiod(folder), method=method, price_of_fairness=False)
    manifest = result.manifest.to_csv(index=False).encode()
    print(
        json.dumps(
            {
                "size": f"{regions}x{days}",
                "seed": seed,
                "variant": variant,
                "status": str(result.status),
                "lives": result.lives_saved,
                "logistics": result.logistics_cost,
                "manifest": hashlib.md5(manifest).hexdigest()[:8],
            }
        ),
        flush=True,
    )


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--child":
        child(int(args[1]), int(args[2]), int(args[3]), args[4])
        return
    regions, days, seed = (int(a) for a in (args or ["20", "20", "3"]))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for variant in ("exact", "rounded"):
        load = os.getloadavg()[0]
        started = time.perf_counter()
        command = [sys.executable, __file__, "--child", str(regions), str(days), str(seed), variant]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=REPO)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        _, _, usage = os.wait4(proc.pid, 0)
        record = json.loads(out.strip().splitlines()[-1])
        record["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
        record["wall_s"] = round(time.perf_counter() - started, 2)
        record["load1"] = round(load, 2)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
