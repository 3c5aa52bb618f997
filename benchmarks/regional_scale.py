"""The single-period engine at national scale: `triage solve` end to end on seeded synthetic
instances (optimiser/generator.py) of 10,000 to 100,000 regions, and how model building grows.

Each case is a fresh process (`python -m optimiser solve FOLDER --json`, output to a file): wall
time and peak memory, as a user waits for them. Building (regional_data + build_regional +
loading into HiGHS, `RegionalEngine`) is timed in process for 10,000 to 100,000 regions with
every family the cases use, best of three, to show it grows linearly.

    .venv/bin/python benchmarks/regional_scale.py [--regions 100000] [--seed 1] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimiser.generator import RegionalSpec, generate_regional  # noqa: E402

CASES: dict[str, list[str]] = {
    "no constraint": [],
    "--time-limit 10": ["--time-limit", "10"],
    "-c threshold:tau=0.2 --time-limit 10": ["-c", "threshold:tau=0.2", "--time-limit", "10"],
    "-c per_capita_floor:share=0.3 -c min_units:units=5": [
        "-c",
        "per_capita_floor:share=0.3",
        "-c",
        "min_units:units=5",
    ],
}


def end_to_end(folder: Path, args: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryFile() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "optimiser", "solve", str(folder), "--json", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        result = json.loads(out.read() or b"null")
    return {
        "exit": proc.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb_children": round(after.ru_maxrss / 1024, 0),
        "status": None if result is None else result["status"],
        "lives_saved": None if result is None else result["lives_saved"],
        "timings": None if result is None else result["timings"],
        "stderr": proc.stderr.decode()[-300:],
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
    }


def build_times(sizes: list[int], seed: int) -> dict[int, float]:
    import optimiser
    from optimiser.engine import RegionalEngine, active_constraints
    from optimiser.generator import regional_frame

    out = {}
    for n in sizes:
        frame, supply = regional_frame(RegionalSpec(regions=n, seed=seed))
        inst = optimiser.instance_from_frames(frame, supply, horizon_days=30.0)
        active = active_constraints(
            inst,
            ["threshold:tau=0.2", "per_capita_floor:share=0.3", "min_units:units=5"],
            default_constraints=False,
        )
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            RegionalEngine(inst, active)
            best = min(best, time.perf_counter() - t0)
        out[n] = round(best, 3)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = generate_regional(
            RegionalSpec(regions=args.regions, seed=args.seed), Path(tmp) / "instance"
        )
        report["end_to_end"] = {}
        for name, extra in CASES.items():
            row = end_to_end(folder, extra)
            report["end_to_end"][name] = row
            print(
                f"{args.regions} regions, triage solve --json {name}: {row['wall_s']} s wall, "
                f"{row['cpu_s']} s CPU, exit {row['exit']}, status {row['status']}, "
                f"timings {row['timings']}",
                flush=True,
            )
    sizes = [10_000, 20_000, 50_000, 100_000]
    report["build_seconds"] = build_times(sizes, args.seed)
    print("RegionalEngine build (threshold, per_capita_floor, min_units built), best of 3:")
    for n, sec in report["build_seconds"].items():
        print(f"  {n:>7,} regions: {sec:.3f} s ({sec / n * 1e6:.1f} us per region)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
