"""Odd --vary specs through `triage sweep` on pugh2021 (in process, small grids): exit 0 or 2,
never an escaping exception; a refused spec names --vary; a refused run writes nothing."""
from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, "probe3")
os.environ["TRIAGE_DEBUG"] = "1"
from fuzz_cli import run

NAMES = ["supply", "horizon_days", "per_capita_floor.share", "coverage_floor.level",
         "min_units.units", "threshold.tau", "max_coverage_gap.gap", "peak_demand*",
         "survival_with*", "survival_without", "los_days*", "staff_cap", "population",
         "weight*", "zzz", "per_capita_floor.zzz", "nosuch.share", "supply*", "peak_demand*@A",
         "peak_demand*@Q", "capacity@A,B", "", "=", "supply@A", "pressure"]
VALUES = ["0:10:1", "1:0:0.1", "0:1:0", "0:1:-0.1", "0:1:nan", "0:inf:1", "1,2,3", "", ",",
          "nan", "inf", "-1", "1e400", "0:1e9:1", "0.5", "abc", "1:2", "0:1:0.1", "1,1,1",
          "1e-300", "5:5:1", "0.1:0.3:0.1", "1000,500", "１,２", "1_0"]


def main() -> None:
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="p3sw"))
    bad = 0
    counts: dict[int | None, int] = {}
    for i in range(n):
        argv = ["sweep", "instances/pugh2021", "--no-progress", "--workers", "1"]
        for _ in range(rng.randint(1, 2)):
            argv += ["--vary", f"{rng.choice(NAMES)}={rng.choice(VALUES)}"]
        if rng.random() < 0.3:
            argv += ["--samples", rng.choice(["0", "-1", "3", "abc"]), "--seed", "1"]
        if rng.random() < 0.2:
            argv += ["--price-of-fairness"]
        out = tmp / f"o{i}"
        argv += ["--out", str(out)]
        code, stdout, err, crash = run(argv)
        counts[code] = counts.get(code, 0) + 1
        problem = None
        if crash:
            problem = "CRASH " + "\n    ".join(crash.strip().splitlines()[-6:])
        elif code not in (0, 2):
            problem = f"exit {code}: {err[-300:]}"
        elif code == 2 and out.exists() and any(out.iterdir()):
            problem = f"exit 2 left {sorted(p.name for p in out.iterdir())}"
        if problem:
            bad += 1
            print(f"CASE {i} {' '.join(argv[5:])}\n    {problem}\n    {err[-300:]}")
    print("counts", counts, "bad", bad)


if __name__ == "__main__":
    main()
