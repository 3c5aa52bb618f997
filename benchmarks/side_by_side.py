"""Two source trees side by side, row by row of BENCHMARKS.md (issue 12: "nothing gets slower").

Every job is a fresh child process run from the tree's own folder with PYTHONPATH set to that
tree (the same interpreter and environment for both), timed from outside: wall time, CPU
seconds (user + system of the child and every descendant it waited for, from wait4) and peak
RSS (the largest of those processes). Jobs are interleaved: for each repeat, for each row,
the baseline then today's tree, each pair under `flock` of the bench lock (pairs run back to
back while the lock has been held less than --hold seconds, then it is released so the other
tracks' benchmarks can run). The 1-minute load average is recorded at each job.

    PYTHONPATH=. .venv/bin/python benchmarks/side_by_side.py --base /work/wt/base \
        [--rows regional_solve,cli_solve ...] [--repeats 3] [--out /tmp/sbs]
    .venv/bin/python benchmarks/side_by_side.py --summary /tmp/sbs/jobs.jsonl

Rows (ROWS below) use the public API, the CLI (`python -m optimiser`, what `triage` runs) or a
benchmark script present in both trees (sweep_bench.py and service_load.py are unchanged since
2026-11-30; multiperiod_bench.py's child mode is run from each tree's own copy). Generated
instances are made once by this tree's generators and shared, so both trees read the same
files. `--job NAME` is the child side of the in-process rows (not for direct use).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TODAY = HERE.parent
WORK = Path("/tmp/side-by-side")
US3 = ["per_capita_floor:share=0.3", "coverage_floor:level=0.6", "max_coverage_gap:gap=0.5"]
MP_CASES = ("M", "MW", "MP", "MWP", "MF", "MG", "MT", "MTr", "A", "B")
POLICY = [
    "supply=500:5000",
    "per_capita_floor.share=0:0.5",
    "survival_with*=0.8:1.2",
    "los_days*=0.8:1.2@NY",
]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "optimiser", *args]


def _vary(design: list[str]) -> list[str]:
    out: list[str] = []
    for text in design:
        out += ["--vary", text]
    return out


def rows() -> dict[str, dict[str, Any]]:
    """name -> argv (placeholders: {tree}, {out}), repeats, what it is."""
    r: dict[str, dict[str, Any]] = {
        "regional_solve": dict(
            argv=[sys.executable, str(HERE / "side_by_side.py"), "--job", "regional_solve"],
            repeats=3,
            what="optimiser.solve in process: us-states-2020 + 3 constraints "
            "(default, and tie_break=False), pugh2021 defaults; 60 calls each",
        ),
        "regional_2k": dict(
            argv=_cli("solve", str(WORK / "gen2k"), "--json"),
            repeats=3,
            what="triage solve, 2,000 generated regions (seed 1), no constraint",
        ),
        "regional_2k_floors": dict(
            argv=_cli(
                "solve",
                str(WORK / "gen2k"),
                "--json",
                "-c",
                "per_capita_floor:share=0.3",
                "-c",
                "min_units:units=5",
            ),
            repeats=3,
            what="triage solve, 2,000 regions, per_capita_floor + min_units",
        ),
        "cli_help": dict(argv=_cli("--help"), repeats=5, what="triage --help"),
        "cli_solve": dict(
            argv=_cli("solve", "instances/us-states-2020", "--json"),
            repeats=5,
            what="triage solve instances/us-states-2020 --json",
        ),
        "cli_solve_pugh": dict(
            argv=_cli("solve", "instances/pugh2021", "--no-price"),
            repeats=3,
            what="triage solve instances/pugh2021 --no-price",
        ),
        "sweep_bench": dict(
            argv=[
                sys.executable,
                "benchmarks/sweep_bench.py",
                "--variants",
                "400",
                "--rebuild",
                "20",
                "--big",
                "0",
                "--no-cli",
                "--repeats",
                "3",
                "--json",
                "{out}",
            ],
            repeats=3,
            what="sweep_bench.py --variants 400 --rebuild 20 --big 0 --no-cli",
        ),
        "sweep_cli": dict(
            argv=_cli(
                "sweep",
                "instances/us-states-2020",
                "--no-progress",
                "--json",
                "--no-default-constraints",
                "--samples",
                "10000",
                "--seed",
                "0",
                "--out",
                "{out}.d",
                *_vary(POLICY),
            ),
            repeats=3,
            what="triage sweep, policy design, 10,000 variants --out (2 workers)",
        ),
        "service_load": dict(
            argv=[
                sys.executable,
                "benchmarks/service_load.py",
                "--requests",
                "60",
                "--cached-requests",
                "100",
                "--paired-runs",
                "30",
                "--out",
                "{out}",
            ],
            repeats=2,
            what="service_load.py --requests 60 --cached-requests 100 "
            "--paired-runs 30 (server, its solvers and the client)",
        ),
        "plan_us": dict(
            argv=_cli("plan", "instances/us-states-apr2020", "--json"),
            repeats=3,
            what="triage plan instances/us-states-apr2020 --json",
        ),
        "plan_italy": dict(
            argv=_cli("plan", "instances/italy-2020-wave1", "--json"),
            repeats=3,
            what="triage plan instances/italy-2020-wave1 --json",
        ),
        "plan_us_thr": dict(
            argv=_cli("plan", "instances/us-states-apr2020", "--json", "-c", "threshold:tau=0"),
            repeats=3,
            what="triage plan us-states-apr2020 -c threshold:tau=0",
        ),
        "plan_italy_thr": dict(
            argv=_cli("plan", "instances/italy-2020-wave1", "--json", "-c", "threshold:tau=0"),
            repeats=3,
            what="triage plan italy-2020-wave1 -c threshold:tau=0",
        ),
    }
    # rows whose feature is younger than the baseline: run with --base at a later tree
    job = [sys.executable, str(HERE / "side_by_side.py"), "--job"]
    r.update(
        bedside=dict(
            argv=[
                sys.executable,
                "benchmarks/bedside_bench.py",
                "--only",
                "snapshot,horizon",
                "--repeats",
                "3",
                "--json",
                "{out}",
            ],
            repeats=3,
            what="bedside_bench.py --only snapshot,horizon --repeats 3",
            young=True,
        ),
        bedside_compare=dict(
            argv=[
                sys.executable,
                "benchmarks/bedside_bench.py",
                "--only",
                "compare",
                "--replications",
                "100",
                "--workers",
                "2",
                "--json",
                "{out}",
            ],
            repeats=2,
            what="bedside_bench.py --only compare --replications 100 --workers 2",
            young=True,
        ),
        scenarios_eval=dict(
            argv=[*job, "scenarios_eval"],
            repeats=3,
            what="US 50 x 47 plan, 200 log-normal scenarios, evaluate(workers=1)",
            young=True,
        ),
        saa=dict(
            argv=[*job, "saa"],
            repeats=2,
            what="saa(workers=1), synthetic 10 x 21 (seed 3), M=3 N=2, select on 6, "
            "score on 40, gap 0.1%",
            young=True,
        ),
        stochastic_small=dict(
            argv=[*job, "stochastic_small"],
            repeats=2,
            what="plan_under_uncertainty, synthetic 10 x 21 (seed 3), 4 log-normal "
            "scenarios, commit 7 days, gap 0.1%",
            young=True,
        ),
    )
    for case in MP_CASES:
        r[f"mp_{case}"] = dict(
            argv=[
                sys.executable,
                "benchmarks/multiperiod_bench.py",
                "--child",
                case,
                "engine",
                "--base",
                str(WORK / "mp"),
            ],
            repeats=2 if case in ("A", "B") else 3,
            what=f"multiperiod_bench.py case {case} (engine, in its own process)",
        )
    return r


# ------------------------------------------------------------------------------------------
# child side of the in-process rows


def job_regional_solve() -> dict[str, Any]:
    import optimiser

    out: dict[str, Any] = {}
    cases: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("us3_default", "instances/us-states-2020", US3, {}),
        ("us3_no_tie_break", "instances/us-states-2020", US3, {"tie_break": False}),
        ("pugh_default", "instances/pugh2021", None, {}),
    ]
    for name, folder, cons, kw in cases:
        inst = optimiser.load_instance(folder)
        first = optimiser.solve(inst, cons, **kw)  # warm-up
        cpu = []
        for _ in range(60):
            c0 = time.process_time()
            optimiser.solve(inst, cons, **kw)
            cpu.append(time.process_time() - c0)
        out[name + "_cpu_ms"] = 1000 * statistics.median(cpu)
        out[name + "_lives"] = first.lives_saved
    return out


def _synthetic_10x21() -> Any:
    import tempfile

    from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod

    folder = Path(tempfile.mkdtemp()) / "saa"
    return load_multiperiod(generate(GeneratorSpec(regions=10, days=21, seed=3), folder))


def job_scenarios_eval() -> dict[str, Any]:
    from optimiser.multiperiod import load_multiperiod, plan
    from optimiser.scenarios import LognormalSpec, evaluate, lognormal_scenarios

    inst = load_multiperiod("instances/us-states-apr2020")
    c0 = time.process_time()
    result = plan(inst, price_of_fairness=False)
    c1 = time.process_time()
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=200, seed=1))
    c2 = time.process_time()
    evaluate(inst, result.manifest, scenarios, workers=1)
    c3 = time.process_time()
    return {
        "plan_cpu_s": c1 - c0,
        "generate_cpu_s": c2 - c1,
        "evaluate_cpu_s": c3 - c2,
        "lives": result.lives_saved,
    }


def job_saa() -> dict[str, Any]:
    from optimiser.scenarios.table import GeneratorRequest
    from optimiser.stochastic.replications import saa

    inst = _synthetic_10x21()
    source = GeneratorRequest(method="lognormal", parameters={})
    c0 = time.process_time()
    result = saa(
        inst,
        source,
        workers=1,
        replications=3,
        sample_size=2,
        selection_size=6,
        evaluation_size=40,
        seed=1,
        commit_days=7,
        mip_gap=0.001,
    )
    out = {"saa_cpu_s": time.process_time() - c0}
    with contextlib.suppress(Exception):
        out["answer"] = {k: v for k, v in result.to_dict().items() if isinstance(v, float)}
    return out


def job_stochastic_small() -> dict[str, Any]:
    from optimiser.scenarios import LognormalSpec, lognormal_scenarios
    from optimiser.stochastic import plan_under_uncertainty

    inst = _synthetic_10x21()
    scenarios = lognormal_scenarios(inst, LognormalSpec(scenarios=4, seed=1))
    c0 = time.process_time()
    result = plan_under_uncertainty(inst, scenarios, commit_days=7, mip_gap=0.001)
    out: dict[str, Any] = {"plan_cpu_s": time.process_time() - c0}
    for key in ("expected_lives", "status"):
        with contextlib.suppress(Exception):
            out[key] = str(getattr(result, key))
    return out


JOBS = {
    "regional_solve": job_regional_solve,
    "scenarios_eval": job_scenarios_eval,
    "saa": job_saa,
    "stochastic_small": job_stochastic_small,
}


# ------------------------------------------------------------------------------------------
# driver


def prepare() -> None:
    """Generated instances, made once with this tree's generators (both trees read them), in a
    child process: the driver stays a bare interpreter, because a child's peak RSS (wait4)
    starts from its parent's at fork and survives exec."""
    WORK.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import multiperiod_bench as mb\n"
        "from pathlib import Path\n"
        "for case in sys.argv[3:]: mb.instance_folder(case, Path(sys.argv[2]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TODAY)}
    subprocess.run(
        [sys.executable, "-c", code, str(HERE), str(WORK / "mp"), *MP_CASES],
        cwd=TODAY,
        check=True,
        env=env,
    )
    if not (WORK / "gen2k" / "regions.csv").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "optimiser.generator",
                str(WORK / "gen2k"),
                "--regions",
                "2000",
                "--seed",
                "1",
            ],
            cwd=TODAY,
            check=True,
            capture_output=True,
            env=env,
        )


def run_job(row: str, argv: list[str], tree: Path, out: Path) -> dict[str, Any]:
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [a.replace("{out}", str(out)) for a in argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env["PYTHONPATH"] = str(tree)
    if "--job" in argv:
        argv = [*argv, "--tree", str(tree)]
    load = os.getloadavg()[0]
    with open(str(out) + ".stdout", "wb") as so, open(str(out) + ".stderr", "wb") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=tree, env=env, stdout=so, stderr=se)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    rec: dict[str, Any] = {
        "row": row,
        "tree": str(tree),
        "rc": proc.returncode,
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "user": ru.ru_utime,
        "sys": ru.ru_stime,
        "rss_mb": ru.ru_maxrss / 1024.0,
        "load1": load,
        "time": time.strftime("%H:%M:%S"),
    }
    text = Path(str(out) + ".stdout").read_text(errors="replace")
    for line in text.splitlines():
        if line.startswith("RESULT "):
            rec["result"] = json.loads(line[len("RESULT ") :])
    if out.exists() and out.suffix == ".json":
        with contextlib.suppress(ValueError):
            rec["result"] = json.loads(out.read_text())
    return rec


def drive(args: argparse.Namespace) -> None:
    table = rows()
    names = args.rows.split(",") if args.rows else [n for n in table if not table[n].get("young")]
    trees = [("base", Path(args.base).resolve()), ("today", Path(args.today).resolve())]
    prepare()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "jobs.jsonl"
    most = max(args.repeats or table[n]["repeats"] for n in names)
    plan = [
        (rep, name)
        for rep in range(most)
        for name in names
        if rep < (args.repeats or table[name]["repeats"])
    ]
    lock = open(args.lock, "a")  # noqa: SIM115 (held across pairs, released every --hold s)
    held_since: float | None = None
    for rep, name in plan:
        if held_since is not None and time.perf_counter() - held_since > args.hold:
            fcntl.flock(lock, fcntl.LOCK_UN)  # let the other tracks' jobs in
            held_since = None
            time.sleep(2)
        waited = 0.0
        if held_since is None:
            t_wait = time.perf_counter()
            fcntl.flock(lock, fcntl.LOCK_EX)
            held_since = time.perf_counter()
            waited = held_since - t_wait
        for label, tree in trees:  # one interleaved pair: the baseline, then today
            out = out_dir / f"{name}.{label}.{rep}.json"
            rec = run_job(name, table[name]["argv"], tree, out)
            rec.update(label=label, repeat=rep, lock_wait=waited)
            with log.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(
                f"{rec['time']} {name:20s} {label:5s} rc={rec['rc']} "
                f"cpu={rec['cpu']:.2f} wall={rec['wall']:.2f} "
                f"rss={rec['rss_mb']:.0f} load={rec['load1']:.2f}",
                flush=True,
            )
    if held_since is not None:
        fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
    summary(log)


def summary(log: Path) -> None:
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in recs:
        by.setdefault((rec["row"], rec["label"]), []).append(rec)
    print(
        "| row | n | base CPU s | today CPU s | CPU ratio | base wall | today wall | "
        "base RSS MB | today RSS MB | RSS ratio | load | rc |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in dict.fromkeys(rec["row"] for rec in recs):
        b, t = by.get((row, "base"), []), by.get((row, "today"), [])
        if not b or not t:
            continue

        def med(rs: list[dict[str, Any]], key: str) -> float:
            return statistics.median(r[key] for r in rs)

        loads = [r["load1"] for r in b + t]
        rcs = sorted({r["rc"] for r in b + t})
        print(
            f"| {row} | {len(b)}/{len(t)} | {med(b, 'cpu'):.2f} | {med(t, 'cpu'):.2f} | "
            f"{med(t, 'cpu') / med(b, 'cpu'):.2f}x | {med(b, 'wall'):.2f} | "
            f"{med(t, 'wall'):.2f} | {med(b, 'rss_mb'):.0f} | {med(t, 'rss_mb'):.0f} | "
            f"{med(t, 'rss_mb') / med(b, 'rss_mb'):.2f}x | {min(loads):.1f}-{max(loads):.1f} | "
            f"{rcs} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="/work/wt/base", help="the baseline tree")
    parser.add_argument("--today", default=str(TODAY), help="today's tree (default: this one)")
    parser.add_argument("--rows", default=None, help="comma-separated (default: every row)")
    parser.add_argument("--repeats", type=int, default=None, help="override each row's own")
    parser.add_argument("--out", default=str(WORK / "runs"))
    parser.add_argument("--lock", default="/work/wt/.bench.lock")
    parser.add_argument(
        "--hold", type=float, default=120.0, help="release the lock after this many seconds"
    )
    parser.add_argument("--summary", type=Path, default=None, help="summarise a jobs.jsonl")
    parser.add_argument("--list", action="store_true", help="list the rows")
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        sys.path.insert(0, args.tree)
        result = JOBS[args.job]()
        result["cpu_s"] = time.process_time()
        print("RESULT " + json.dumps(result))
        return
    if args.summary:
        summary(args.summary)
        return
    if args.list:
        for name, spec in rows().items():
            print(f"{name:20s} x{spec['repeats']}  {spec['what']}")
        return
    drive(args)


if __name__ == "__main__":
    main()
