"""Whole-process times of the CLI (issues 12 and 15): what a user waits for from the shell.

Cases, each a fresh `triage` process (the virtual environment's entry point), interleaved in
rounds so that load from other work falls on every case alike:
- `triage --version`, `triage --help` (issue 15: under 0.3 s);
- `triage solve instances/us-states-2020 --json` (issue 12: under 0.7 s);
- `triage solve instances/us-states-2020 -c threshold:tau=0.5 --json` (a coupling constraint:
  HiGHS runs, with the price of fairness);
- `python -c "import pandas"`, the largest single import, for scale.

Wall time (perf_counter around the child) and the child's CPU time (user + system, from
os.wait4), median and minimum over the rounds, with the load average before and after.

The warm-up run of each case writes the project's bytecode (.pyc) even when the environment
sets PYTHONDONTWRITEBYTECODE, as an installed package has it (pip compiles on install):
without it every run compiles the project's modules it imports again, 0.07-0.1 CPU-s of
`triage solve` (BENCHMARKS.md, "fastcli"). `--no-bytecode` leaves the environment as it is
(with PYTHONDONTWRITEBYTECODE set and no .pyc yet: compiled in every run, as in the rows of
BENCHMARKS.md before "fastcli"). The output says which.

    .venv/bin/python benchmarks/cli_startup.py [--rounds 15] [--no-bytecode] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIAGE = str(Path(sys.executable).with_name("triage"))
US = str(ROOT / "instances" / "us-states-2020")

CASES: dict[str, list[str]] = {
    "triage --version": [TRIAGE, "--version"],
    "triage --help": [TRIAGE, "--help"],
    "triage solve us-states-2020 --json": [TRIAGE, "solve", US, "--json"],
    "triage solve us-states-2020 -c threshold:tau=0.5 --json": [
        TRIAGE, "solve", US, "-c", "threshold:tau=0.5", "--json"],
    "python -c 'import pandas'": [sys.executable, "-c", "import pandas"],
}


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one child process; it must exit 0."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-bytecode", action="store_true",
                        help="leave PYTHONDONTWRITEBYTECODE as the environment sets it")
    args = parser.parse_args()

    load_before = os.getloadavg()
    warm = None if args.no_bytecode else {
        k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for argv in CASES.values():  # warm-up: the page cache and .pyc files
        run_once(argv, warm)
    spec = importlib.util.find_spec("optimiser")  # the tree the children import (PYTHONPATH)
    cached = spec is not None and spec.origin is not None and (
        Path(spec.origin).parent / "__pycache__").is_dir()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    for _ in range(args.rounds):
        for name, argv in CASES.items():
            samples[name].append(run_once(argv))
    load_after = os.getloadavg()

    rows = []
    for name, runs in samples.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        rows.append({"case": name, "wall_median_s": statistics.median(walls),
                     "wall_min_s": min(walls), "cpu_median_s": statistics.median(cpus)})
    print(f"{args.rounds} interleaved rounds; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; Python {platform.python_version()}; the project's "
          f"bytecode {'cached' if cached else 'not cached: compiled in every run'}")
    print(f"{'case':58} {'wall median':>12} {'wall min':>9} {'CPU median':>11}")
    for row in rows:
        print(f"{row['case']:58} {row['wall_median_s']:11.3f}s {row['wall_min_s']:8.3f}s "
              f"{row['cpu_median_s']:10.3f}s")
    if args.json is not None:
        args.json.write_text(json.dumps({"rounds": args.rounds, "load_before": load_before,
                                         "load_after": load_after, "bytecode_cached": cached,
                                         "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
