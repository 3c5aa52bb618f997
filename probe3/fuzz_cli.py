"""Mutational fuzz of the single-period CLI (validate, solve --json, compare, evaluate) on copies
of instances/pugh2021, in process. A defect: an exception escaping (TRIAGE_DEBUG=1 re-raises
what would be 'internal error', exit 4), an exit code outside the documented set, or an exit 2
whose message names no file."""
from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

os.environ["TRIAGE_DEBUG"] = "1"
from optimiser.cli import main

PUGH = Path("instances/pugh2021")
CELLS = ["", " ", "nan", "NaN", "inf", "-inf", "-1", "0", "1e400", "1e-400", "abc", " 5 ",
         '"1,000"', "1_000", "0x10", "١٠", "True", "1e9", "9" * 40, "0.5", "-0", '""', "A",
         "\u00a0", "1e308", "2.5e9"]
COLS = ["staff_cap", "los_days", "survival_with", "survival_without", "pressure", "weight",
        "zzz", "Region", "region ", "population"]
TOML_LINES = ["supply = -1", "supply = 1e400", "supply = nan", "supply = 1.5", "supply = \"9\"",
              "horizon_days = 0", "horizon_days = inf", "[[constraints]]\nkind = \"nosuch\"",
              "[[constraints]]\nkind = \"per_capita_floor\"\nshare = 2",
              "[[constraints]]\nkind = \"coverage_floor\"\nlevel = nan",
              "[[constraints]]\nkind = \"min_units\"\nunits = 1e12",
              "[[constraints]]\nkind = \"threshold\"\nindex = \"zzz\"",
              "[[constraints]]\nkind = \"max_coverage_gap\"\ngap = -1",
              "[[constraints]]\nkind = \"prioritarian\"",
              "[[constraints]]\nkind = \"min_units\"\nunits = 1\nregions = [\"Q\"]",
              "constraints = 5", "constraints = [1]", "[defaults]\nlos_days = 0",
              "[defaults]\nsurvival_without = 2", "zzz = 1", "[multiperiod]\nx = 1"]
EXIT_OK = {"validate": {0, 2}, "solve": {0, 2, 3}, "compare": {0, 2, 3}, "evaluate": {0, 1, 2, 3}}


def run(argv: list[str]) -> tuple[int | None, str, str, str | None]:
    out, err = io.StringIO(), io.StringIO()
    crash = None
    code: int | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 99)
        except Exception:
            crash = traceback.format_exc()
            code = None
    return code, out.getvalue(), err.getvalue(), crash


def mutate_csv(text: str, rng: random.Random) -> str:
    rows = [line.split(",") for line in text.strip().split("\n")]
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if len(rows) < 2 or min(map(len, rows)) < 1:
            break
        if op < 0.5:
            r = rng.randrange(1, len(rows))
            c = rng.randrange(len(rows[r]))
            rows[r][c] = rng.choice(CELLS)
        elif op < 0.6:
            rows.append(list(rng.choice(rows[1:])))  # duplicate id
        elif op < 0.75:
            col = rng.choice(COLS)
            rows[0].append(col)
            for r in rows[1:]:
                r.append(rng.choice(CELLS + ["1", "0.9", "0.1", "10"]))
        elif op < 0.85:
            c = rng.randrange(min(map(len, rows)))
            for r in rows:
                del r[c:c + 1]
        elif op < 0.9:
            rows = rows[:1]
        else:
            r = rng.randrange(len(rows))
            rows[r] = rows[r][:-1]
    text = "\n".join(",".join(r) for r in rows) + "\n"
    if rng.random() < 0.1:
        text = "\ufeff" + text
    if rng.random() < 0.03:
        text = ""
    return text


def main_fuzz(n: int, seed: int) -> None:
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="p3cli"))
    bad = 0
    counts: dict[tuple[str, int | None], int] = {}
    for i in range(n):
        case = tmp / f"c{i}"
        shutil.copytree(PUGH, case)
        if rng.random() < 0.7:
            (case / "regions.csv").write_text(mutate_csv((PUGH / "regions.csv").read_text(), rng),
                                              encoding="utf-8")
        if rng.random() < 0.4:
            with (case / "instance.toml").open("a") as f:
                f.write("\n" + rng.choice(TOML_LINES) + "\n")
        cmd = rng.choice(["validate", "solve", "compare", "evaluate"])
        argv = [cmd, str(case)]
        if cmd == "solve":
            argv += ["--json", "--time-limit", "5"]
            if rng.random() < 0.3:
                argv += ["-c", rng.choice(["per_capita_floor:share=0.5", "nosuch:a=1",
                                            "coverage_floor:level=nan", "min_units:units=-1",
                                            "threshold", "max_coverage_gap:gap=inf",
                                            "per_capita_floor", "per_capita_floor:share=0.5,x=1",
                                            "min_units:units=1:regions=A"])]
        if cmd == "evaluate":
            alloc = case / "alloc.csv"
            alloc.write_text(mutate_csv("region,units\nA,200\nB,300\nC,300\nD,200\n", rng))
            argv.append(str(alloc))
        code, out, err, crash = run(argv)
        counts[(cmd, code)] = counts.get((cmd, code), 0) + 1
        problem = None
        if crash:
            problem = "CRASH " + crash.strip().splitlines()[-1]
        elif code not in EXIT_OK[cmd]:
            problem = f"exit {code}: {err[-300:]}"
        elif code == 2 and not any(w in err for w in ("regions.csv", "instance.toml", "alloc.csv",
                                                         "--constraint", "-c", "constraint")):
            problem = f"exit 2 names no file: {err[-300:]}"
        elif "Traceback" in err:
            problem = "traceback on stderr"
        if problem:
            bad += 1
            print(f"CASE {i} {argv[0]} {problem}")
            if crash:
                print("   ", "\n    ".join(crash.strip().splitlines()[-6:]))
            print("    regions.csv:", (case / "regions.csv").read_text()[:300].replace("\n", " | "))
            print("    toml tail:", (case / "instance.toml").read_text()[-120:].replace("\n", " | "))
        else:
            shutil.rmtree(case)
    print("counts", sorted(counts.items(), key=str), "bad", bad)


if __name__ == "__main__":
    main_fuzz(int(sys.argv[1]), int(sys.argv[2]))
