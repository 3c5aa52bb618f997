"""Mutational fuzz of a tiny backtest folder (observed.csv, forecasts/releases.csv, the forecast
file) and of `triage backtest` options, in process. A defect: an escaping exception, an exit
other than 0/2/4, an exit 2 naming nothing, or files in --out after a refusal."""
from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, "probe3")
os.environ["TRIAGE_DEBUG"] = "1"
from fuzz_cli import mutate_csv, run

BASE = Path(sys.argv[3])
OPTS = [["--as-of", "2020-04-08"], ["--as-of", "2020-04-30"], ["--as-of", "2020-02-30"],
        ["--as-of", "x"], ["--as-of", "2020-04-07"], ["--commit-days", "0"],
        ["--commit-days", "7"], ["--commit-days", "100"], ["--buffer", "-1"],
        ["--buffer", "nan"], ["--buffer", "0.5"], ["--anchor", "level"], ["--anchor", "x"],
        ["-f", "fc"], ["-f", "nobody"], ["-p", "buffer"], ["-p", "x"], ["-p", "stochastic"],
        ["--time-limit", "0.01"], ["--time-limit", "-1"], ["--scenarios", "0"]]


def main() -> None:
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="p3bt"))
    bad = 0
    counts: dict[int | None, int] = {}
    for i in range(n):
        case = tmp / f"c{i}"
        shutil.copytree(BASE, case)
        target = rng.choice(["observed.csv", "forecasts/releases.csv",
                             "forecasts/fc_2020-04-07.csv", None])
        if target:
            (case / target).write_text(mutate_csv((BASE / target).read_text(), rng))
        argv = ["backtest", str(case), "-p", "none", "-p", "mean", "--commit-days", "14",
                "--time-limit", "20", "--no-progress"]
        for _ in range(rng.randint(0, 2)):
            argv += rng.choice(OPTS)
        out = tmp / f"o{i}"
        argv += ["--out", str(out)]
        code, stdout, err, crash = run(argv)
        counts[code] = counts.get(code, 0) + 1
        problem = None
        if crash:
            problem = "CRASH " + "\n    ".join(crash.strip().splitlines()[-6:])
        elif code not in (0, 2, 4):
            problem = f"exit {code}"
        elif code == 2 and not any(w in err for w in (".csv", "--", "option", "instance")):
            problem = "exit 2 names nothing"
        elif code != 0 and out.exists() and any(out.iterdir()):
            problem = f"exit {code} left {sorted(p.name for p in out.iterdir())}"
        if problem:
            bad += 1
            print(f"CASE {i} {target} {' '.join(argv[9:-2])}\n    {problem}\n    {err[-300:]}")
        else:
            shutil.rmtree(case)
            shutil.rmtree(out, ignore_errors=True)
    print("counts", counts, "bad", bad)


if __name__ == "__main__":
    main()
