"""Mutational fuzz of scenario files (scenarios.csv, scenario_weights.csv) and executed
manifests, through `triage scenarios validate`, `scenarios evaluate`, `plan --scenarios` and
`plan --executed`, in process on a 2-region, 6-day instance. A defect: an escaping exception,
an undocumented exit code, an exit 2 naming no file, or files written by a refused command."""
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

TINY, PLAN, SC = Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
WEIGHTS = ["0.2", "-0.1", "1.5", "nan", "inf", "", "abc", "0", "1", "0.2000001", "1e-300"]


def mutate_weights(text: str, rng: random.Random) -> str:
    rows = [line.split(",") for line in text.strip().split("\n")]
    for _ in range(rng.randint(1, 2)):
        op = rng.random()
        if op < 0.6:
            rows[rng.randrange(1, len(rows))][1] = rng.choice(WEIGHTS)
        elif op < 0.75:
            rows.append(list(rng.choice(rows[1:])))
        elif op < 0.85:
            rows[rng.randrange(1, len(rows))][0] = rng.choice(["s999", "", "S001", "s001 "])
        elif op < 0.92:
            del rows[rng.randrange(1, len(rows))]
        else:
            rows[0] = ["scenario", rng.choice(["prob", "weight", "probability", ""])]
    return "\n".join(",".join(r) for r in rows) + "\n"


def main() -> None:
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="p3sc"))
    bad = 0
    counts: dict[tuple[str, int | None], int] = {}
    for i in range(n):
        case = tmp / f"c{i}"
        sc = case / "sc"
        shutil.copytree(SC, sc)
        if rng.random() < 0.6:
            (sc / "scenarios.csv").write_text(mutate_csv((SC / "scenarios.csv").read_text(), rng))
        if rng.random() < 0.5:
            (sc / "scenario_weights.csv").write_text(
                mutate_weights((SC / "scenario_weights.csv").read_text(), rng))
        if rng.random() < 0.1:
            (sc / "scenarios.json").write_text(rng.choice(["", "{", "[]", '{"sampled": 3}']))
        cmd = rng.choice(["validate", "evaluate", "plan", "executed"])
        out = case / "out"
        if cmd == "validate":
            argv = ["scenarios", "validate", str(TINY), "--scenarios", str(sc)]
        elif cmd == "evaluate":
            argv = ["scenarios", "evaluate", str(TINY), str(PLAN / "manifest.csv"),
                    "--scenarios", str(sc), "--workers", "1", "--no-progress", "--out", str(out)]
        elif cmd == "plan":
            argv = ["plan", str(TINY), "--scenarios", str(sc), "--commit-days",
                    rng.choice(["1", "2", "0", "6", "7", "-1"]), "--time-limit", "10",
                    "--out", str(out)]
            if rng.random() < 0.3:
                argv += ["--risk", rng.choice(["cvar:alpha=0.3,lambda=0.5", "cvar:alpha=0",
                                               "cvar:alpha=nan,lambda=1", "mean", "x"])]
        else:
            manifest = case / "shipped.csv"
            manifest.write_text(mutate_csv((PLAN / "manifest.csv").read_text(), rng))
            argv = ["plan", str(TINY), "--executed", str(manifest), "--time-limit", "10",
                    "--out", str(out)]
            if rng.random() < 0.5:
                argv += ["--today", rng.choice(["0", "1", "2", "5", "6", "-1", "100"])]
        code, stdout, err, crash = run(argv)
        counts[(cmd, code)] = counts.get((cmd, code), 0) + 1
        problem = None
        if crash:
            problem = "CRASH " + crash.strip().splitlines()[-1]
        elif code not in (0, 2, 3):
            problem = f"exit {code}: {err[-400:]}"
        elif code == 2 and not any(w in err for w in (".csv", ".json", "--", "option",
                                                         "scenario")):
            problem = f"exit 2 names nothing: {err[-300:]}"
        elif code != 0 and out.exists() and any(out.iterdir()):
            problem = f"exit {code} left files in --out: {sorted(p.name for p in out.iterdir())}"
        if problem:
            bad += 1
            print(f"CASE {i} {cmd} {problem}\n    argv: {' '.join(argv)}")
            if crash:
                print("   ", "\n    ".join(crash.strip().splitlines()[-8:]))
        else:
            shutil.rmtree(case)
    print("counts", sorted(counts.items(), key=str), "bad", bad)


if __name__ == "__main__":
    main()
