"""Damaged outputs read back: `evaluate DIR result.json`, `report --from-sweep`, `report
--from-plan`, `check-plan` on a plan folder's files, each file truncated, emptied, given a BOM,
or a JSON value replaced by an odd one. Exit 0/1/2/3 only, never an escaping exception, and a
refused report writes nothing."""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, "probe3")
os.environ["TRIAGE_DEBUG"] = "1"
from fuzz_cli import run  # noqa: E402

SOLVED, SWEEP, PLAN, TINY = (Path(p) for p in sys.argv[3:7])
ODD = [None, "x", -1, 1e308, [], {}, True, "NaN", 0, 10**30]


def damage(path: Path, rng: random.Random) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.suffix != ".parquet" else ""
    op = rng.random()
    if path.suffix == ".parquet":
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(len(data))])
        return "truncated parquet"
    if path.suffix == ".json" and op < 0.6:
        try:
            obj = json.loads(text)
        except ValueError:
            return "unparseable already"
        if isinstance(obj, dict) and obj:
            key = rng.choice(list(obj))
            if rng.random() < 0.3:
                del obj[key]
                path.write_text(json.dumps(obj))
                return f"dropped {key}"
            obj[key] = rng.choice(ODD)
            path.write_text(json.dumps(obj))
            return f"{key}={obj[key]!r}"[:80]
    if op < 0.75:
        path.write_text(text[: rng.randrange(max(1, len(text)))])
        return "truncated"
    if op < 0.85:
        path.write_text("")
        return "emptied"
    if op < 0.95:
        path.write_text("\ufeff" + text)
        return "BOM"
    path.unlink()
    return "deleted"


def main() -> None:
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="p3files"))
    bad = 0
    counts: dict[tuple[str, int | None], int] = {}
    for i in range(n):
        kind = rng.choice(["evaluate", "from-sweep", "from-plan", "check-plan"])
        src = {"evaluate": SOLVED, "from-sweep": SWEEP, "from-plan": PLAN, "check-plan": PLAN}[kind]
        case = tmp / f"c{i}"
        shutil.copytree(src, case)
        files = [p for p in case.rglob("*") if p.is_file()]
        if kind == "evaluate":
            files = [case / "result.json"]
        if kind == "check-plan":
            files = [case / rng.choice(["plan.csv", "result.json"])]
        victim = rng.choice(files)
        what = f"{victim.name}: {damage(victim, rng)}"
        out = tmp / f"o{i}"
        if kind == "evaluate":
            argv = ["evaluate", "instances/pugh2021", str(case / "result.json")]
        elif kind == "from-sweep":
            argv = ["report", "instances/pugh2021", "--from-sweep", str(case), "--out", str(out)]
        elif kind == "from-plan":
            argv = ["report", str(TINY), "--from-plan", str(case), "--out", str(out)]
        else:
            argv = ["check-plan", str(TINY), str(case / "plan.csv")]
        code, _, err, crash = run(argv)
        counts[(kind, code)] = counts.get((kind, code), 0) + 1
        problem = None
        if crash:
            problem = "CRASH " + "\n    ".join(crash.strip().splitlines()[-6:])
        elif code not in (0, 1, 2, 3):
            problem = f"exit {code}: {err[-300:]}"
        elif code not in (0, 1) and out.exists():
            problem = f"exit {code} left {out}"
        if problem:
            bad += 1
            print(f"CASE {i} {kind} {what}\n    {problem}")
        else:
            shutil.rmtree(case)
            shutil.rmtree(out, ignore_errors=True)
    print("counts", sorted(counts.items(), key=str), "bad", bad)


if __name__ == "__main__":
    main()
