"""`triage --help` and `--version` start fast: the CLI imports only typer and the standard library
before a command runs (each command imports its engine), and `import optimiser` is lazy (PEP 562).
Checked by the modules a fresh interpreter has loaded (deterministic, unlike a stopwatch under
load); BENCHMARKS.md has the times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# pydantic: typer 0.29 coerces option values with it unless optimiser/cli/native_params.py
# does (0.08-0.12 CPU-s of `triage solve`; tests/test_fastcli_native_params.py)
HEAVY = ("pandas", "numpy", "pyomo", "highspy", "scipy", "pyarrow", "matplotlib", "fastapi",
         "sqlalchemy", "dask", "jinja2", "pydantic")

PROBE = """
import atexit, json, sys
sys.argv = ["triage", *{args!r}]


def report():  # at exit: `triage` as a program leaves through os._exit after atexit handlers
    sys.stdout.flush()
    loaded = sorted({{m.split(".")[0] for m in sys.modules}})
    sys.stderr.write("\\nMODULES " + json.dumps(loaded) + "\\n")
    sys.stderr.flush()


atexit.register(report)
from optimiser.cli import main
main()
"""


def loaded_by(*args: str) -> tuple[int, set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    modules = json.loads(proc.stderr.rsplit("MODULES ", 1)[1])
    code = proc.returncode
    return code, set(modules), proc.stdout


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("solve", "--help"), ("plan", "--help"), ("report", "--help"),
     ("serve", "--help"), ("sweep", "--help"), ("backtest", "--help")],
)
def test_help_and_version_import_no_engine(args: tuple[str, ...]) -> None:
    code, modules, out = loaded_by(*args)
    assert code in (0, None), out
    assert out.strip()
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize(
    "args",
    [("solve", "instances/pugh2021"),
     ("solve", "instances/us-states-2020", "--constraint", "per_capita_floor:share=0.3"),
     ("compare", "instances/pugh2021"), ("validate", "instances/pugh2021"),
     ("validate", "instances/us-states-2020")],
)
def test_single_period_commands_load_no_pyomo_or_scipy(args: tuple[str, ...]) -> None:
    """The regional engine builds its matrix as arrays: Pyomo (the reference model, the
    planner) and SciPy are not loaded by a single-period command, nor by asking whether a folder
    is multi-period (optimiser.multiperiod loads its planner on first use)."""
    code, modules, out = loaded_by(*args)
    assert code in (0, None), out
    assert not modules & {"pyomo", "scipy", "fastapi", "pydantic"}, sorted(modules & set(HEAVY))
    # us-states-2020 has coordinates.csv: validate checks it without the report's renderer
    assert not modules & {"matplotlib", "jinja2"}, sorted(modules & set(HEAVY))


def test_multiperiod_package_is_lazy_and_every_name_resolves() -> None:
    probe = (
        "import sys, optimiser.multiperiod as mp\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'pyomo', 'scipy'}\n"
        "names = [getattr(mp, n) for n in mp.__all__]\n"
        "print(sorted(heavy), len(names))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True, cwd=REPO).stdout.split()
    assert out[0] == "[]"
    import optimiser.multiperiod as mp

    assert sorted(mp.__all__) == sorted(mp._EXPORTS)
    with pytest.raises(AttributeError):
        _ = mp.no_such_name  # type: ignore[attr-defined]


def test_version_is_the_package_version() -> None:
    import tomllib

    import optimiser

    code, _, out = loaded_by("--version")
    assert code in (0, None)
    assert out.strip() == f"triage (regional-triage) {optimiser.__version__}"
    # pyproject.toml is where the version is written (optimiser/version.py); the installed
    # metadata of an editable install is as old as its last `pip install -e .`
    with open(REPO / "pyproject.toml", "rb") as file:
        assert optimiser.__version__ == tomllib.load(file)["project"]["version"]


def test_import_optimiser_is_lazy_and_every_name_resolves() -> None:
    probe = (
        "import sys, optimiser\n"
        f"heavy = {{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})\n"
        "names = [getattr(optimiser, n) for n in optimiser.__all__]\n"
        "print(sorted(heavy), len(names))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out[0] == "[]"
    import optimiser

    assert set(optimiser.__all__) <= set(dir(optimiser))
    assert sorted(optimiser.__all__) == sorted(optimiser._EXPORTS)
    with pytest.raises(AttributeError):
        _ = optimiser.no_such_name  # type: ignore[attr-defined]


def test_cli_name_lists_match_the_engine() -> None:
    from optimiser.cli.plan import METHOD_NAMES
    from optimiser.cli.regional import MAX_UNITS, POLICY_NAMES
    from optimiser.instance import MAX_SUPPLY
    from optimiser.multiperiod.engine import METHODS
    from optimiser.policies import POLICIES

    assert tuple(POLICIES) == POLICY_NAMES
    assert tuple(METHODS) == METHOD_NAMES
    assert MAX_UNITS == MAX_SUPPLY


def test_shell_completion_is_offered() -> None:
    out = subprocess.run([sys.executable, "-m", "optimiser", "--help"], capture_output=True,
                         text=True, timeout=120).stdout
    assert "--install-completion" in out and "--show-completion" in out
    env = {"_TRIAGE_COMPLETE": "complete_bash", "COMP_WORDS": "triage so", "COMP_CWORD": "1"}
    import os

    code = "from optimiser.cli import app; app(prog_name='triage')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    assert "solve" in proc.stdout


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """`triage ARGV` in this process (main() exits): exit code, stdout, stderr."""
    from optimiser.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    out = capsys.readouterr()
    return int(stop.value.code or 0), out.out, out.err


def test_json_errors_are_one_json_object_on_stdout(capsys) -> None:
    for args, code, kind in (
        (["solve", "instances/no-such", "--json"], 2, "invalid_input"),
        (["solve", "instances/pugh2021", "--json", "--supply", "x"], 2, "usage"),
        (["compare", "instances/pugh2021", "--json", "-c", "nope:x=1"], 2, "invalid_input"),
        (["plan", "instances/pugh2021", "--json"], 2, "invalid_input"),
        (["solve", "instances/pugh2021", "--json", "--no-such-option"], 2, "usage"),
    ):
        exit_code, out, err = run_main([*args[:1], str(REPO / args[1]), *args[2:]], capsys)
        assert exit_code == code, err
        payload = json.loads(out)
        assert payload["error"]["code"] == kind and payload["error"]["exit_code"] == code
        assert payload["error"]["message"]
        assert err.startswith("error: ")
    # every problem of a bad input is listed in the JSON object
    exit_code, out, err = run_main(["validate", str(REPO / "instances" / "no-such"), "--json"],
                                   capsys)
    assert exit_code == 2 and json.loads(out)["error"]["code"] in ("usage", "invalid_input")


def test_infeasible_is_explained_once(capsys) -> None:
    exit_code, out, err = run_main(
        ["solve", str(REPO / "instances" / "pugh2021"), "-c", "coverage_floor:level=0.9"], capsys
    )
    assert exit_code == 3
    assert (out + err).count("needs 4,430 units") == 1
    assert err.startswith("error: infeasible: coverage_floor(level=0.9)")


def test_verbose_logs_and_quiet_silences_warnings(run_cli) -> None:
    loud = run_cli("-v", "solve", "instances/pugh2021", "--no-price")
    assert loud.returncode == 0 and "INFO: loaded pugh2021" in loud.stderr
    quiet = run_cli("-q", "solve", "instances/pugh2021", "--no-price")
    assert quiet.returncode == 0 and quiet.stderr == ""
