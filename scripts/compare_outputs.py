"""Run the `triage` CLI in two source trees on every shipped instance and diff what it writes.

The check that a refactor changed no behaviour (issue 11, "behaviour unchanged"): for every
shipped instance under instances/ (and two instances made by `triage generate`), each tree runs
`solve --json` (several constraint sets, policies and supplies, plus `--out` and its text
report), `evaluate` of the allocation it wrote, `compare` (JSON and text), `validate`, `plan
--json --out` (several option sets; its folder's CSVs and text), `check-plan` on the plan it
made (JSON and text), `sweep` on small variants (its folder: manifest, variants and regions
tables, CSV and Parquet), `report` (HTML, tables, charts, provenance; from a sweep and from a
plan too) and `bedside validate` / `bedside allocate --json`. Every stdout, stderr, exit code
and output file is kept, then normalised and compared.

What is ignored, and why (nothing else is; every other byte and number must be equal):
- timings: JSON keys `timings`, `seconds`, `seconds_last_run`, `solver.seconds`, the
  `seconds` column of the sweep and frontier tables, and "N.NNN s" in text: wall-clock time
  differs from run to run of the same tree.
- timestamps: JSON keys `generated_at`, `created`, `completed`, the "Generated <time>" line of
  report.html, <dc:date> in SVG: the clock.
- paths: the folder a run works in, which differs between the two runs, is replaced by
  `<work>` (the commands themselves use relative paths, so `command` fields compare as is).
- the report's `engine_commit` (provenance.json): the git commit each tree is checked out at,
  which is what differs between the trees by construction.
- SVG element ids (clip paths `#p1a2b...`, markers `#m...`, hatches `#h...`, images `image...`,
  path collections `C0_0_...`): matplotlib salts them with the time; they are renumbered in
  order of appearance. SVG charts embedded in report.html as base64 are decoded and normalised
  the same way, and the provenance JSON embedded in it (HTML-escaped) loses the same keys as
  provenance.json.
Versions are not ignored: both trees run on the same interpreter and packages (the `engine`
version is the project's, equal in both).

PYTHONPATH is set to each tree, so one virtual environment serves both; both run on the same
copy of the instances (this tree's instances/ unless --instances says otherwise):

    git worktree add --detach /tmp/before 2aa0077
    .venv/bin/python scripts/compare_outputs.py run /tmp/before /tmp/out-before
    .venv/bin/python scripts/compare_outputs.py run . /tmp/out-after
    .venv/bin/python scripts/compare_outputs.py diff /tmp/out-before /tmp/out-after

Exit 0 when every output is identical after normalisation, 1 otherwise (the differences are
listed, one line each, with the first differing lines).
"""

from __future__ import annotations

import argparse
import base64
import difflib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SINGLE = ["pugh2021", "us-states-2020", "bedside-synthetic-regional"]
MULTI = [
    "italy-2020-wave1",
    "us-states-apr2020",
    "backtest-italy-apr2020",
    "backtest-us-icu-apr2020",
    "backtest-us-vent-apr2020",
]
BEDSIDE = ["bedside-snapshot", "bedside-synthetic"]
GENERATED = {
    "gen-a": ["--regions", "12", "--days", "20", "--seed", "3"],
    "gen-b": [
        "--regions",
        "8",
        "--days",
        "15",
        "--seed",
        "7",
        "--neighbours",
        "2",
        "--demand-kind",
        "new_patients",
    ],
}
SOLVE_CONSTRAINTS: list[list[str]] = [
    [],
    ["per_capita_floor:share=0.3"],
    ["coverage_floor:level=0.6", "max_coverage_gap:gap=0.5"],
    ["threshold:tau=0"],
    ["prioritarian"],
    ["min_units:units=5"],
    ["excess_per_capita_floor:share=0.5"],
    ["coverage_floor:level=1"],
]
SOLVE_POLICIES = ["rai", "excess", "per_capita", "lottery"]
PLAN_OPTIONS: dict[str, list[str]] = {
    "default": [],
    "no-transfers": ["--no-transfers"],
    "floor": ["-c", "per_capita_floor:share=0.3"],
    "patients": ["--patient-transfers"],
}
SWEEPS: dict[str, list[str]] = {
    "supply": [
        "--vary",
        "supply=200:1000:200",
        "--price-of-fairness",
        "-c",
        "per_capita_floor:share=0.3",
    ],
    "share": ["--vary", "per_capita_floor.share=0:0.6:0.2", "--price-of-fairness"],
    "capacity": [
        "--vary",
        "capacity*=0.8:1.2:0.2",
        "--vary",
        "supply=300:900:300",
        "--samples",
        "4",
        "--seed",
        "1",
    ],
    "rebuild": ["--vary", "supply=250:750:250", "--rebuild", "--tie-break"],
}
TIME_KEYS = {"timings", "seconds", "seconds_last_run", "generated_at", "created", "completed"}
VERSION_KEYS = {"engine_commit"}
# SHA-256 of a file that itself holds timings (a plan's result.json): differs with them
HASHED_WITH_TIMINGS = {"result.json"}
TIME_COLUMNS = {"seconds"}


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    folder: str | None = None  # an output folder to collect (relative to the work folder)


def cases() -> list[Case]:
    out: list[Case] = []
    for name, options in GENERATED.items():
        out.append(
            Case(f"generate-{name}", ["generate", f"../gen/{name}", *options], f"../gen/{name}")
        )
    for inst in SINGLE + MULTI + list(GENERATED):
        out.append(Case(f"validate-{inst}", ["validate", path(inst)]))
    for inst in SINGLE:
        for i, constraints in enumerate(SOLVE_CONSTRAINTS):
            c = [a for spec in constraints for a in ("-c", spec)]
            out.append(Case(f"solve-{inst}-c{i}", ["solve", path(inst), "--json", *c]))
            out.append(
                Case(
                    f"solve-{inst}-c{i}-supply",
                    ["solve", path(inst), "--json", "--supply", "500", *c],
                )
            )
        for policy in SOLVE_POLICIES:
            out.append(
                Case(
                    f"solve-{inst}-{policy}",
                    [
                        "solve",
                        path(inst),
                        "--json",
                        "--policy",
                        policy,
                        "-c",
                        "per_capita_floor:share=0.3",
                    ],
                )
            )
        out.append(
            Case(
                f"solve-{inst}-out",
                ["solve", path(inst), "--out", f"s-{inst}", "-c", "per_capita_floor:share=0.3"],
                f"s-{inst}",
            )
        )
        out.append(
            Case(f"evaluate-{inst}", ["evaluate", path(inst), f"s-{inst}/allocation.csv", "--json"])
        )
        out.append(
            Case(f"evaluate-{inst}-result", ["evaluate", path(inst), f"s-{inst}/result.json"])
        )
        out.append(Case(f"compare-{inst}", ["compare", path(inst), "--json"]))
        out.append(
            Case(
                f"compare-{inst}-floor", ["compare", path(inst), "-c", "per_capita_floor:share=0.3"]
            )
        )
        for sweep, options in SWEEPS.items():
            out.append(
                Case(
                    f"sweep-{inst}-{sweep}",
                    [
                        "sweep",
                        path(inst),
                        "--out",
                        f"sw-{inst}-{sweep}",
                        "--no-progress",
                        "--json",
                        *options,
                    ],
                    f"sw-{inst}-{sweep}",
                )
            )
        out.append(
            Case(
                f"report-{inst}",
                ["report", path(inst), "--out", f"r-{inst}", "--json"],
                f"r-{inst}",
            )
        )
        out.append(
            Case(
                f"report-{inst}-floor",
                [
                    "report",
                    path(inst),
                    "--out",
                    f"rf-{inst}",
                    "-c",
                    "per_capita_floor:share=0.3",
                    "--from-sweep",
                    f"sw-{inst}-supply",
                ],
                f"rf-{inst}",
            )
        )
    for inst in MULTI + list(GENERATED):
        out.append(Case(f"solve-{inst}", ["solve", path(inst), "--json"]))
        for label, options in PLAN_OPTIONS.items():
            folder = f"p-{inst}-{label}"
            out.append(
                Case(
                    f"plan-{inst}-{label}",
                    ["plan", path(inst), "--json", "--out", folder, *options],
                    folder,
                )
            )
            out.append(Case(f"plan-{inst}-{label}-text", ["plan", path(inst), *options]))
            out.append(
                Case(
                    f"check-plan-{inst}-{label}",
                    ["check-plan", path(inst), f"{folder}/plan.csv", "--json"],
                )
            )
            out.append(
                Case(
                    f"check-plan-{inst}-{label}-manifest",
                    ["check-plan", path(inst), f"{folder}/manifest.csv"],
                )
            )
        out.append(
            Case(
                f"report-{inst}-plan",
                ["report", path(inst), "--from-plan", f"p-{inst}-default", "--out", f"rp-{inst}"],
                f"rp-{inst}",
            )
        )
    for inst in BEDSIDE:
        out.append(Case(f"bedside-validate-{inst}", ["bedside", "validate", path(inst)]))
        out.append(Case(f"bedside-allocate-{inst}", ["bedside", "allocate", path(inst), "--json"]))
    return out


def path(instance: str) -> str:
    return f"../gen/{instance}" if instance in GENERATED else f"../instances/{instance}"


# ---------------------------------------------------------------------------------------------
# Running


def run_tree(tree: Path, work: Path, instances: Path, pattern: str = "") -> None:
    """Every case in `tree`, writing work/<case>/{argv,exit,stdout,stderr} and the folders."""
    if work.exists():
        shutil.rmtree(work)
    (work / "run").mkdir(parents=True)
    shutil.copytree(instances, work / "instances")
    (work / "gen").mkdir()
    env = dict(os.environ, PYTHONPATH=str(tree), COLUMNS="100", TZ="UTC", NO_COLOR="1")
    env.pop("TRIAGE_TOKENS", None)
    all_cases = [c for c in cases() if re.search(pattern, c.name)]
    for n, case in enumerate(all_cases, 1):
        record = work / "cases" / case.name
        record.mkdir(parents=True)
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from optimiser.cli import main; sys.exit(main())",
                *case.argv,
            ],
            cwd=work / "run",
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        (record / "argv").write_text(" ".join(case.argv) + "\n")
        (record / "exit").write_text(f"{done.returncode}\n")
        (record / "stdout").write_text(done.stdout)
        (record / "stderr").write_text(done.stderr)
        if case.folder is not None and (work / "run" / case.folder).is_dir():
            shutil.copytree(work / "run" / case.folder, record / "folder")
        print(
            f"[{n}/{len(all_cases)}] {case.name}: exit {done.returncode}",
            file=sys.stderr,
            flush=True,
        )


# ---------------------------------------------------------------------------------------------
# Normalising


def _svg(text: str) -> str:
    text = re.sub(r"<dc:date>[^<]*</dc:date>", "<dc:date/>", text)
    ids: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return ids.setdefault(match.group(0), f"{match.group(1)}{len(ids):04d}")

    return re.sub(r"\b(m|p|h|image|C\d+_\d+_)[0-9a-f]{10}\b", rename, text)


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                "<ignored>"
                if k in TIME_KEYS | VERSION_KEYS
                or (k in HASHED_WITH_TIMINGS and isinstance(v, str) and len(v) == 64)
                else _json(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _text(text: str, work: Path) -> str:
    text = text.replace(str(work.resolve()), "<work>").replace(str(work), "<work>")
    return re.sub(r"\b\d+(\.\d+)? ?(s|seconds)\b", "<t> s", text)


def _csv(text: str) -> str:
    import pandas as pd

    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    frame = frame.drop(columns=[c for c in frame.columns if c in TIME_COLUMNS])
    return str(frame.to_csv(index=False))


def _html(text: str, work: Path) -> str:
    text = re.sub(r"Generated [0-9T:+\-]+", "Generated <time>", text)
    text = re.sub(
        r"<th>Generated</th><td>[0-9T:+\-]+</td>", "<th>Generated</th><td><time></td>", text
    )
    text = re.sub(r"commit <code>[0-9a-f]{40}</code>", "commit <code><commit></code>", text)
    text = re.sub(
        r"result\.json: <code>[0-9a-f]{64}</code>", "result.json: <code><sha></code>", text
    )
    for key in sorted(TIME_KEYS | VERSION_KEYS | HASHED_WITH_TIMINGS):  # the embedded provenance
        quoted = re.escape(f"&#34;{key}&#34;: ")
        text = re.sub(
            quoted + r"(&#34;[^&]*&#34;|[0-9.eE+\-]+)", f"&#34;{key}&#34;: <ignored>", text
        )

    def embedded(match: re.Match[str]) -> str:
        svg = base64.b64decode(match.group(1)).decode()
        return "data:image/svg+xml;utf8," + _svg(svg)

    text = re.sub(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", embedded, text)
    return _svg(_text(text, work))


def normalised(file: Path, work: Path) -> str:
    """A file's text with only the fields named in the module docstring ignored."""
    name = file.name
    if name.endswith(".parquet"):
        import pandas as pd

        frame = pd.read_parquet(file)
        frame = frame.drop(columns=[c for c in frame.columns if c in TIME_COLUMNS])
        return f"{list(zip(frame.columns, map(str, frame.dtypes), strict=True))}\n" + str(
            frame.to_csv(index=False)
        )
    if name.endswith(".png"):
        import hashlib

        return hashlib.sha256(file.read_bytes()).hexdigest()
    text = file.read_text()
    if name.endswith(".svg"):
        return _svg(text)
    if name.endswith(".html"):
        return _html(text, work)
    if name.endswith(".csv"):
        return _csv(_text(text, work))
    if name in ("stdout", "stderr") or name.endswith(".json"):
        stripped = text.strip()
        if stripped.startswith(("{", "[")):
            try:
                return json.dumps(
                    _json(json.loads(_text(stripped, work))), indent=1, sort_keys=True
                )
            except json.JSONDecodeError:
                pass
    return _text(text, work)


# ---------------------------------------------------------------------------------------------
# Comparing


def compare(before: Path, after: Path) -> tuple[int, list[str]]:
    """(files identical after normalisation, one line per difference)."""
    same, differences = 0, []
    for case in sorted(p.name for p in (before / "cases").iterdir()):
        a, b = before / "cases" / case, after / "cases" / case
        files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
        files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()} if b.exists() else set()
        for rel in sorted(files_a ^ files_b):
            differences.append(f"{case}/{rel}: only in {'before' if rel in files_a else 'after'}")
        for rel in sorted(files_a & files_b):
            x, y = normalised(a / rel, before), normalised(b / rel, after)
            if x == y:
                same += 1
                continue
            diff = list(difflib.unified_diff(x.splitlines(), y.splitlines(), lineterm="", n=0))
            shown = [line[:160] for line in diff[2:8]]
            differences.append(f"{case}/{rel}: differs\n    " + "\n    ".join(shown))
    return same, differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every case in one source tree")
    run.add_argument("tree", type=Path, help="source tree (e.g. a git worktree)")
    run.add_argument("out", type=Path, help="folder for its outputs (replaced)")
    run.add_argument(
        "--instances",
        type=Path,
        default=None,
        help="instances to run on (default: this script's tree's instances/)",
    )
    run.add_argument("--cases", default="", help="only the cases whose name matches this regex")
    diff = sub.add_parser("diff", help="compare the outputs of two runs")
    diff.add_argument("before", type=Path)
    diff.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        instances = args.instances or Path(__file__).resolve().parents[1] / "instances"
        run_tree(args.tree.resolve(), args.out, instances, args.cases)
        return 0
    same, differences = compare(args.before, args.after)
    n_cases = len(list((args.before / "cases").iterdir()))
    print(
        f"{n_cases} commands, {same} outputs identical after normalisation, "
        f"{len(differences)} differ"
    )
    for line in differences:
        print(line)
    return 0 if not differences else 1


if __name__ == "__main__":
    sys.exit(main())
