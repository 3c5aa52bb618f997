"""Where a time-limited `triage plan` spends the end of its budget (track budget2).

Runs `triage plan DIR --time-limit S --json --out TMP` as the `triage` program (its watchdog
armed) in a child process, traced: the child records (perf_counter from the process's start)
when the solves' deadline fell, when the planner returned, when the output began and ended,
the planner's reserves and timings. Prints one JSON line per run: wall, child CPU seconds
(wait4), exit code, status, the trace. Not part of the suite.

    python benchmarks/post_solve_trace.py DIR S [S ...] [-- extra plan options]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import atexit, json, os, sys, time
MAIN = os.path.join(os.getcwd(), "optimiser", "__main__.py")
sys.argv = [MAIN, *json.loads(os.environ["TRACE_ARGS"])]
import optimiser.cli  # arms the watchdog
from optimiser.deadline import process_start
import optimiser.cli.common as common
import optimiser.multiperiod.planner as planner
origin = process_start()
trace = {}
def at(): return round(time.perf_counter() - origin, 3)
sized = planner.Reserves.sized.__func__
def traced_sized(cls, *a, **k):
    r = sized(cls, *a, **k)
    trace["reserves"] = {k2: round(v, 3) for k2, v in r.__dict__.items()}
    trace["reserves_set_at"] = at()
    return r
planner.Reserves.sized = classmethod(traced_sized)
real_plan = planner.plan
def traced_plan(*a, **k):
    d = k.get("deadline")
    trace["plan_called_at"] = at()
    if d is not None and d.limit is not None:
        trace["plan_deadline_at"] = round(d.start + d.limit - origin, 3)
    r = real_plan(*a, **k)
    trace["plan_returned_at"] = at()
    trace["timings"] = {k2: round(v, 3) for k2, v in r.timings.items()}
    trace["sizes"] = r.sizes
    trace["status"] = str(r.status.value)
    trace["plan_rows"] = len(r.plan)
    return r
planner.plan = traced_plan
real_write = common.write_outputs
def traced_write(out, write):
    trace["write_began_at"] = at()
    real_write(out, write)
    trace["write_ended_at"] = at()
import optimiser.cli.plan as cliplan
cliplan.write_outputs = traced_write
def dump():
    trace["exit_at"] = at()
    os.write(2, ("TRACE " + json.dumps(trace) + "\n").encode())
atexit.register(dump)
from optimiser.cli import main
main()
"""


def run(instance: str, limit: float, extra: list[str]) -> dict:
    out = tempfile.mkdtemp(prefix="budget2-") + "/out"
    args = ["plan", instance, "--time-limit", str(limit), "--json", "--out", out, *extra]
    env = dict(os.environ, TRACE_ARGS=json.dumps(args))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    cpu = None  # main() fills it in from os.times()
    trace = {}
    for line in stderr.decode().splitlines():
        if line.startswith("TRACE "):
            trace = json.loads(line[6:])
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    return {
        "instance": os.path.basename(instance.rstrip("/")),
        "limit": limit,
        "wall": round(wall, 3),
        "exit": proc.returncode,
        "files": len(files),
        "load": os.getloadavg()[0],
        "trace": trace,
        "stderr_tail": stderr.decode()[-200:] if proc.returncode else "",
        "cpu": cpu,
    }


def main() -> None:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    instance, limits = argv[0], [float(x) for x in argv[1:]]
    for limit in limits:
        before = os.times()
        row = run(instance, limit, extra)
        after = os.times()
        row["cpu"] = round(
            after.children_user + after.children_system
            - before.children_user - before.children_system, 3
        )
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
