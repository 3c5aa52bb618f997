"""Every bad input of the issue: one clear error naming the file, line and column at fault,
exit code 2 through the CLI, never a traceback; `triage validate` lists every problem found.

Bad instances are generated in tmp_path from a copy of instances/pugh2021.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import optimiser
from optimiser.errors import EXIT_INPUT

PUGH_DIR = Path(__file__).resolve().parents[1] / "instances" / "pugh2021"
HEADER = "region,name,population,capacity,peak_demand"
GOOD_ROWS = ["A,Capital,9000000,1000,2000", "B,Urban,10500000,700,2500"]


def regions(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def toml(supply: str = "1000", extra: str = "") -> str:
    return f'name = "bad"\nresource = "ventilator"\nsupply = {supply}\n{extra}'


@dataclass(frozen=True)
class Case:
    """A bad instance: files to (over)write (None deletes) and what the message must name."""

    id: str
    files: dict[str, str | bytes | None]
    expect: tuple[str, ...]
    target: str = ""  # path to pass, relative to the instance folder ("" = the folder)


CASES = [
    Case(
        "missing folder",
        {},
        ("instance folder not found", "no-such-folder"),
        target="no-such-folder",
    ),
    Case("not a folder", {}, ("not a folder",), target="regions.csv"),
    Case("missing instance.toml", {"instance.toml": None}, ("instance.toml", "file not found")),
    Case("missing regions.csv", {"regions.csv": None}, ("regions.csv", "file not found")),
    Case(
        "regions.csv is a folder", {"regions.csv": "<dir>"}, ("regions.csv", "not a regular file")
    ),
    Case(
        "binary regions.csv",
        {"regions.csv": b"region,pop\x00\x01\x02\xff"},
        ("regions.csv", "binary"),
    ),
    Case(
        "binary instance.toml", {"instance.toml": b"\x00\x00\x89PNG"}, ("instance.toml", "binary")
    ),
    Case(
        "not UTF-8",
        {"regions.csv": regions("\xe9t\xe9,x,1,1,1").encode("latin-1")},
        ("regions.csv", "UTF-8"),
    ),
    Case(
        "malformed TOML",
        {"instance.toml": 'name = "x"\nsupply = = 3\n'},
        ("instance.toml", "malformed TOML", "line 2"),
    ),
    Case(
        "missing required column",
        {"regions.csv": regions("A,1,1", header="region,population,capacity")},
        ("regions.csv", "missing required column", "peak_demand"),
    ),
    Case(
        "duplicate region ids",
        {"regions.csv": regions(*GOOD_ROWS, "A,Again,5,1,1")},
        ("regions.csv", "line 4", "column 'region'", "duplicate region id 'A'", "line 2"),
    ),
    Case("empty table", {"regions.csv": regions()}, ("regions.csv", "empty")),
    Case("empty file", {"regions.csv": ""}, ("regions.csv", "empty")),
    Case(
        "non-numeric value",
        {"regions.csv": regions(GOOD_ROWS[0], "B,Urban,lots,700,2500")},
        ("regions.csv", "line 3", "column 'population'", "not a number", "lots"),
    ),
    Case(
        "NaN value",
        {"regions.csv": regions(GOOD_ROWS[0], "B,Urban,10500000,NaN,2500")},
        ("regions.csv", "line 3", "column 'capacity'", "finite"),
    ),
    Case(
        "infinite value",
        {"regions.csv": regions("A,Capital,9000000,1000,inf")},
        ("regions.csv", "line 2", "column 'peak_demand'", "finite"),
    ),
    Case(
        "negative capacity",
        {"regions.csv": regions("A,Capital,9000000,-5,2000")},
        ("regions.csv", "line 2", "column 'capacity'", ">= 0", "-5"),
    ),
    Case(
        "zero population",
        {"regions.csv": regions("A,Capital,0,1000,2000")},
        ("regions.csv", "line 2", "column 'population'", "> 0"),
    ),
    Case(
        "negative peak demand",
        {"regions.csv": regions("A,Capital,9000000,1000,-1")},
        ("regions.csv", "column 'peak_demand'", ">= 0"),
    ),
    Case(
        "missing required value",
        {"regions.csv": regions("A,Capital,,1000,2000")},
        ("regions.csv", "line 2", "column 'population'", "missing value"),
    ),
    Case(
        "probability above 1",
        {
            "regions.csv": regions(
                "A,Capital,9000000,1000,2000,1.2", header=HEADER + ",survival_with"
            )
        },
        ("regions.csv", "line 2", "column 'survival_with'", "[0, 1]", "1.2"),
    ),
    Case(
        "probability below 0",
        {
            "regions.csv": regions(
                "A,Capital,9000000,1000,2000,-0.1", header=HEADER + ",survival_without"
            )
        },
        ("regions.csv", "column 'survival_without'", "[0, 1]"),
    ),
    Case(
        "survival_without above survival_with",
        {
            "regions.csv": regions(
                "A,Capital,9000000,1000,2000,0.4,0.6",
                header=HEADER + ",survival_with,survival_without",
            )
        },
        ("regions.csv", "line 2", "column 'survival_without'", "0.6", "0.4"),
    ),
    Case(
        "staff_cap not whole",
        {"regions.csv": regions("A,Capital,9000000,1000,2000,2.5", header=HEADER + ",staff_cap")},
        ("regions.csv", "column 'staff_cap'", "whole number"),
    ),
    Case(
        "negative staff_cap",
        {"regions.csv": regions("A,Capital,9000000,1000,2000,-3", header=HEADER + ",staff_cap")},
        ("regions.csv", "column 'staff_cap'", ">= 0"),
    ),
    Case(
        "pressure zero",
        {"regions.csv": regions("A,Capital,9000000,1000,2000,0", header=HEADER + ",pressure")},
        ("regions.csv", "column 'pressure'", "(0, 1]"),
    ),
    Case(
        "los_days zero",
        {"regions.csv": regions("A,Capital,9000000,1000,2000,0", header=HEADER + ",los_days")},
        ("regions.csv", "column 'los_days'", "> 0"),
    ),
    Case(
        "negative weight",
        {"regions.csv": regions("A,Capital,9000000,1000,2000,-2", header=HEADER + ",weight")},
        ("regions.csv", "column 'weight'", ">= 0"),
    ),
    Case(
        "row with too few fields",
        {"regions.csv": regions(GOOD_ROWS[0], "B,Urban,1")},
        ("regions.csv", "line 3", "fields"),
    ),
    Case(
        "unknown column",
        {"regions.csv": regions("A,Capital,9000000,1000,2000,3", header=HEADER + ",survival")},
        ("regions.csv", "unknown column", "survival"),
    ),
    Case(
        "tier shares not summing to 1",
        {"tiers.csv": "region,share,survival_with\nA,0.5,0.9\nA,0.4,0.5\nB,1,0.8\n"},
        ("tiers.csv", "column 'share'", "region 'A'", "sum to 0.9", "lines 2, 3"),
    ),
    Case(
        "tier of an unknown region",
        {"tiers.csv": "region,share,survival_with\nZ,1,0.9\n"},
        ("tiers.csv", "line 2", "column 'region'", "unknown region 'Z'"),
    ),
    Case(
        "tier probability above 1",
        {"tiers.csv": "region,share,survival_with\nA,1,1.5\n"},
        ("tiers.csv", "line 2", "column 'survival_with'", "[0, 1]"),
    ),
    Case(
        "tier survival below survival_without",
        {
            "regions.csv": regions(
                "A,Capital,9000000,1000,2000,0.3", header=HEADER + ",survival_without"
            ),
            "tiers.csv": "region,share,survival_with\nA,1,0.2\n",
        },
        ("tiers.csv", "line 2", "column 'survival_with'", "survival_without"),
    ),
    Case(
        "negative supply", {"instance.toml": toml("-5")}, ("instance.toml", "supply", ">= 0", "-5")
    ),
    Case(
        "non-integer supply",
        {"instance.toml": toml("10.5")},
        ("instance.toml", "supply", "whole number", "10.5"),
    ),
    Case(
        "supply as text",
        {"instance.toml": toml('"10"')},
        ("instance.toml", "supply", "whole number"),
    ),
    Case("supply NaN", {"instance.toml": toml("nan")}, ("instance.toml", "supply")),
    Case("absurd supply", {"instance.toml": toml("1e300")}, ("instance.toml", "supply", "at most")),
    Case(
        "missing supply",
        {"instance.toml": 'name = "x"\n'},
        ("instance.toml", "supply", "missing"),
    ),
    Case(
        "horizon_days zero",
        {"instance.toml": toml(extra="horizon_days = 0\n")},
        ("instance.toml", "horizon_days", "> 0"),
    ),
    Case(
        "unknown top-level key",
        {"instance.toml": toml(extra="suply = 3\n")},
        ("instance.toml", "suply", "unknown key"),
    ),
    Case(
        "default out of range",
        {"instance.toml": toml(extra="[defaults]\nsurvival_with = 2\n")},
        ("instance.toml", "defaults.survival_with", "[0, 1]"),
    ),
    Case(
        "unknown constraint kind",
        {"instance.toml": toml(extra='[[constraints]]\nkind = "fair_share"\n')},
        (
            "instance.toml",
            "constraints[0]",
            "unknown constraint kind 'fair_share'",
            "coverage_floor",
        ),
    ),
    Case(
        "unknown constraint parameter",
        {
            "instance.toml": toml(
                extra='[[constraints]]\nkind = "coverage_floor"\nlevel = 0.5\nlevle = 0.6\n'
            )
        },
        ("instance.toml", "constraints[0]", "unknown parameter 'levle'", "level"),
    ),
    Case(
        "parameter out of range",
        {"instance.toml": toml(extra='[[constraints]]\nkind = "coverage_floor"\nlevel = 1.5\n')},
        ("instance.toml", "constraints[0]", "parameter 'level'", "<= 1", "1.5"),
    ),
    Case(
        "missing constraint parameter",
        {"instance.toml": toml(extra='[[constraints]]\nkind = "min_units"\n')},
        ("instance.toml", "constraints[0]", "missing parameter 'units'"),
    ),
    Case(
        "parameter of the wrong type",
        {
            "instance.toml": toml(
                extra='[[constraints]]\nkind = "per_capita_floor"\nshare = "half"\n'
            )
        },
        ("instance.toml", "constraints[0]", "parameter 'share'", "number"),
    ),
    Case(
        "prioritarian weight of an unknown region",
        {
            "instance.toml": toml(
                extra='[[constraints]]\nkind = "prioritarian"\nweights = {A = 2, Q = 1}\n'
            )
        },
        ("instance.toml", "prioritarian", "weights", "unknown region 'Q'"),
    ),
    Case(
        "same constraint twice",
        {"instance.toml": toml(extra='[[constraints]]\nkind = "min_units"\nunits = 5\n' * 2)},
        ("instance.toml", "min_units(units=5)", "twice"),
    ),
]


# One case per kind of failure, also run as real `python -m optimiser` subprocesses.
SUBPROCESS = {
    "missing folder",
    "binary regions.csv",
    "malformed TOML",
    "duplicate region ids",
    "NaN value",
    "survival_without above survival_with",
    "tier shares not summing to 1",
    "non-integer supply",
    "parameter out of range",
}


def build(case: Case, folder: Path) -> Path:
    """Write the bad instance into `folder` (a copy of pugh2021); return the path to load."""
    for name, content in case.files.items():
        path = folder / name
        if content is None:
            path.unlink()
        elif content == "<dir>":
            path.unlink()
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder / case.target if case.target else folder


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_clear_error(case: Case, instance_dir: Path) -> None:
    path = build(case, instance_dir)
    with pytest.raises(optimiser.InputError) as info:
        optimiser.load_instance(path)
    message = str(info.value)
    for fragment in case.expect:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert info.value.exit_code == EXIT_INPUT
    assert "Traceback" not in message


# ---- the same bad inputs through the CLI: every case in-process (the same typer app and error
# mapping as `triage`), a representative subset in real subprocesses run two at a time.


def run_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from optimiser.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_through_the_cli_entry_point(
    case: Case, instance_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = build(case, instance_dir)
    for command in ("solve", "validate"):
        code, out, err = run_in_process([command, str(path)], capsys)
        assert code == EXIT_INPUT, err
        assert err.startswith("error: ") and "Traceback" not in err
        for fragment in case.expect:
            assert fragment in err
        assert out == ""


@pytest.fixture(scope="module")
def cli_runs(
    tmp_path_factory: pytest.TempPathFactory, repo: Path
) -> dict[str, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("bad")
    jobs = {}
    for i, case in enumerate(c for c in CASES if c.id in SUBPROCESS):
        folder = base / f"case{i}"
        shutil.copytree(repo / "instances" / "pugh2021", folder)
        jobs[case.id] = build(case, folder)

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "optimiser", "solve", str(path)],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=180,
            env={k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"},
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(run, jobs.values()), strict=True))
    return results


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS], ids=lambda c: c.id)
def test_bad_input_through_the_cli_subprocess(
    case: Case, cli_runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    run = cli_runs[case.id]
    assert run.returncode == EXIT_INPUT, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("error: ")
    for fragment in case.expect:
        assert fragment in run.stderr
    assert run.stdout == ""


def test_unreadable_file_is_reported(instance_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Permissions do not stop root, so simulate the OS refusing to read the file.
    original = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self.name == "regions.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(
        optimiser.InputError, match=r"regions\.csv: cannot read file: Permission denied"
    ):
        optimiser.load_instance(instance_dir)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_through_the_cli(instance_dir: Path, run_cli) -> None:
    (instance_dir / "regions.csv").chmod(0)
    run = run_cli("validate", instance_dir)
    assert run.returncode == EXIT_INPUT
    assert "regions.csv" in run.stderr and "Traceback" not in run.stderr


def test_validate_lists_every_problem(instance_dir: Path, run_cli) -> None:
    (instance_dir / "regions.csv").write_text(
        regions(
            "A,Capital,many,1000,2000,0.5",  # line 2: population not a number
            "B,Urban,10500000,-700,2500,1.5",  # line 3: negative capacity, probability > 1
            "A,Again,5500000,300,2200,0.9",  # line 4: duplicate id
            header=HEADER + ",survival_with",
        )
    )
    (instance_dir / "instance.toml").write_text(toml("-1"))  # negative supply
    with pytest.raises(optimiser.InputError) as info:
        optimiser.load_instance(instance_dir)
    found = [str(p) for p in info.value.problems]
    expected = [
        ("line 2", "'population'"),
        ("line 3", "'capacity'"),
        ("line 3", "'survival_with'"),
        ("line 4", "duplicate region id 'A'"),
        ("instance.toml", "supply"),
    ]
    for parts in expected:
        assert any(all(p in line for p in parts) for line in found), (parts, found)
    assert len(found) == len(expected)

    run = run_cli("validate", instance_dir)
    assert run.returncode == EXIT_INPUT
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(expected)
    for parts in expected:
        assert any(all(p in line for p in parts) for line in errors), (parts, errors)
    assert f"{len(expected)} problem{'s' if len(expected) > 1 else ''} found" in run.stderr
    assert "Traceback" not in run.stderr


def test_validate_accepts_the_shipped_instances(run_cli, repo: Path) -> None:
    run = run_cli("validate", repo / "instances" / "pugh2021")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok: pugh2021: 4 regions")


@pytest.mark.parametrize(
    ("column", "value"),
    [("peak_demand", "8e305"), ("population", "1e12"), ("los_days", "1e-9"), ("capacity", "2e9")],
)
def test_absurd_magnitudes_are_refused_not_overflowed(tmp_path, column: str, value: str) -> None:
    """Schema-valid but absurd numbers once overflowed inside the tie-break (exit 4)."""
    folder = tmp_path / "inst"
    folder.mkdir()
    (folder / "instance.toml").write_text('name = "x"\nsupply = 10\n')
    row = {"region": "A", "population": "100", "capacity": "1", "peak_demand": "5", "los_days": "5"}
    row[column] = value
    lines = [",".join(row), ",".join(row.values()), "B,100,1,5,5"]
    (folder / "regions.csv").write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "optimiser", "solve", str(folder)], capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr
    assert f"column '{column}'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # a broken instance.toml does not hide the problems of regions.csv
            {"instance.toml": 'name = "x"\nsupply = = 3\n', "regions.csv": regions(
                "A,Capital,nine,1000,2000", GOOD_ROWS[1])},
            [("instance.toml", "malformed TOML"), ("line 2", "'population'", "'nine'")],
        ),
        (  # nor does a ragged row hide a bad value on another row
            {"regions.csv": regions("A,Capital,9000000", "B,Urban,x,700,2500")},
            [("line 2", "has 3 fields", "header has 5"), ("line 3", "'population'")],
        ),
        (  # nor do problems in regions.csv hide those of tiers.csv
            {"regions.csv": regions("A,Capital,nine,1000,2000", GOOD_ROWS[1]),
             "tiers.csv": "region,share,survival_with\nZ,1,0.9\nB,0.5,0.9\n"},
            [("line 2", "'population'"), ("tiers.csv", "line 2", "unknown region 'Z'"),
             ("tiers.csv", "region 'B' sum to 0.5")],
        ),
    ],
)
def test_validate_reports_every_file(instance_dir: Path, files, expected) -> None:
    for name, text in files.items():
        (instance_dir / name).write_text(text)
    with pytest.raises(optimiser.InputError) as info:
        optimiser.load_instance(instance_dir)
    found = [str(p) for p in info.value.problems]
    for parts in expected:
        assert any(all(p in line for p in parts) for line in found), (parts, found)
    assert len(found) == len(expected), found


def test_tiers_refuse_unknown_columns_and_defaults_may_name_regions(instance_dir: Path) -> None:
    (instance_dir / "tiers.csv").write_text("region,share,survival_with,colour\nA,1,0.9,red\n")
    with pytest.raises(optimiser.InputError, match=r"tiers\.csv: unknown column: colour"):
        optimiser.load_instance(instance_dir)
    (instance_dir / "tiers.csv").unlink()
    (instance_dir / "regions.csv").write_text(
        "region,name,population,capacity,peak_demand\nA,,9000000,1000,2000\nB,Urban,10,0,5\n"
    )
    (instance_dir / "instance.toml").write_text(toml(extra='[defaults]\nname = "unnamed"\n'))
    names = optimiser.load_instance(instance_dir).regions["name"].to_dict()
    assert names == {"A": "unnamed", "B": "Urban"}


def test_seed_and_repeated_parameters_are_usage_errors(pugh: optimiser.Instance, run_cli) -> None:
    with pytest.raises(optimiser.InputError, match="seed"):
        optimiser.solve(pugh, policy="lottery", seed=-1)
    with pytest.raises(optimiser.InputError, match="seed"):
        optimiser.compare(pugh, seed=-1)
    run = run_cli("compare", PUGH_DIR, "--seed", "-1")
    assert run.returncode == EXIT_INPUT and "seed" in run.stderr and "Traceback" not in run.stderr
    run = run_cli("solve", PUGH_DIR, "-c", "coverage_floor:level=0.5,level=0.1")
    assert run.returncode == EXIT_INPUT and "'level' is given twice" in run.stderr
