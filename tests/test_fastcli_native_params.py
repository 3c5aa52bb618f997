"""`triage solve` start-up (issue 12, track fastcli): typer builds only the command named, plain
values are coerced without pydantic (optimiser/cli/native_params.py), OpenBLAS starts no thread
pool for single-period commands; and nothing a user sees changes (answers, errors, help)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

import optimiser.cli as cli
from optimiser.cli import native_params
from optimiser.cli.native_params import OTHER, NativeRuntimeParam

REPO = Path(__file__).resolve().parents[1]
US = str(REPO / "instances" / "us-states-2020")
PUGH = str(REPO / "instances" / "pugh2021")

pytestmark = pytest.mark.skipif(
    native_params.RuntimeParam is None, reason="a typer without pydantic coercion"
)

PROBE = """
import atexit, json, os, sys
sys.argv = ["triage", *{args!r}]
built = []


def report():  # `triage` leaves through os._exit after atexit handlers
    sys.stdout.flush()
    loaded = sorted({{m.split(".")[0] for m in sys.modules}})
    cli = sorted(m for m in sys.modules if m.startswith("optimiser.cli"))
    sys.stderr.write("\\nPROBE " + json.dumps({{"modules": loaded, "built": built,
        "blas": os.environ.get("OPENBLAS_NUM_THREADS"), "modules_cli": cli}}) + "\\n")
    sys.stderr.flush()


atexit.register(report)
import typer.main

real = typer.main.get_command_from_info


def spy(command_info, **kwargs):
    built.append(command_info.name)
    return real(command_info, **kwargs)


typer.main.get_command_from_info = spy
from optimiser.cli import main
main()
"""


def probe(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> dict[str, Any]:
    """Run `triage ARGS` as the program; what it loaded, which commands typer built, and the
    OPENBLAS_NUM_THREADS it ran with."""
    base = {k: v for k, v in __import__("os").environ.items() if k != "OPENBLAS_NUM_THREADS"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True, text=True, timeout=120, cwd=REPO, env={**base, **(env or {})},
    )
    assert (proc.returncode == 0) == ok, proc.stderr[-2000:]
    return dict(json.loads(proc.stderr.rsplit("PROBE ", 1)[1]))


def test_solve_builds_one_command_and_loads_no_pydantic() -> None:
    seen = probe("solve", US, "--json")
    assert seen["built"] == ["solve"]
    assert "pydantic" not in seen["modules"] and "pydantic_core" not in seen["modules"]
    assert {"pandas", "highspy"} <= set(seen["modules"])  # it did solve
    assert seen["blas"] == "1"


def test_the_program_imports_only_the_module_of_its_command() -> None:
    """(PROBE's argv[0] is `triage`: the program's lazy loading, budget_watchdog.is_program.)"""
    seen = probe("solve", US, "--json")["modules_cli"]
    assert seen == ["optimiser.cli", "optimiser.cli.common", "optimiser.cli.native_params",
                    "optimiser.cli.regional", "optimiser.cli.usage"]
    assert {f"optimiser.cli.{m}" for m in cli.COMMAND_MODULES} <= set(
        probe("--help")["modules_cli"])
    assert "optimiser.cli.plan" in probe("sovle", PUGH, ok=False)["modules_cli"]


def test_command_modules_list_where_each_command_is_registered() -> None:
    """COMMANDS_IN names, for each top-level command and group, every module registering it
    or one of its subcommands (a wrong entry would only load everything: app_for)."""
    cli.load_commands()
    registered: dict[str, set[str]] = {}
    for info in cli.app.registered_commands:
        registered.setdefault(str(info.name), set()).add(info.callback.__module__)
    for group in cli.app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        registered[str(group.name)] = {c.callback.__module__ for c in sub.registered_commands}
    assert set(registered) == set(cli.COMMANDS_IN)
    for name, modules in registered.items():
        assert modules <= {f"optimiser.cli.{m}" for m in cli.COMMANDS_IN[name]}, name
    assert set(cli.COMMAND_MODULES) == {m for ms in cli.COMMANDS_IN.values() for m in ms}


def test_help_builds_every_command_and_blas_is_left_alone() -> None:
    seen = probe("--help")
    assert len(seen["built"]) > 20 and "solve" in seen["built"]
    assert seen["blas"] is None
    assert probe("plan", "--help")["blas"] is None  # the planner keeps OpenBLAS's threads
    assert probe("bedside", "--help")["built"] == [
        "validate", "allocate", "replay", "compare", "curve", "generate"
    ]
    # a user's own setting is kept
    assert probe("solve", "--help", env={"OPENBLAS_NUM_THREADS": "2"})["blas"] == "2"


@pytest.mark.parametrize(
    ("args", "only"),
    [(["solve", PUGH], "solve"), (["-v", "-q", "solve", PUGH], "solve"),
     (["--verbose", "compare", "x"], "compare"), (["bedside", "allocate", "x"], "bedside"),
     (["scenarios", "--help"], "scenarios"), (["--", "solve", PUGH], None),
     (["sovle", PUGH], None), ([], None), (["--help"], None), (["--version"], None)],
)
def test_app_for_names_the_command_or_keeps_the_whole_app(
    args: list[str], only: str | None
) -> None:
    app = cli.app_for(args)
    if only is None:
        assert app is cli.app
        return
    names = [i.name for i in app.registered_commands + app.registered_groups]
    assert names == [only]
    assert len(cli.app.registered_commands) > 10  # the whole app is left as it was


def _params() -> list[tuple[Any, Any]]:
    """(command, parameter) for every typer parameter of every command."""
    found: list[tuple[Any, Any]] = []

    def walk(command: Any) -> None:
        for param in command.params:
            if hasattr(param, "type_descriptor"):
                found.append((command, param))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(cli.app))
    return found


VALUES = (
    "0", "-0", "7", "007", "+5", " 5", "5 ", "1_000", "1,000", "1.0", "1.5", "-1.5", "1e3",
    "inf", "nan", "", "x", "0.1", ".5", "5.", "123456789012345678", "1234567890123456789",
    "99999999999999.999999999999999", "\uff11\uff12", "instances/pugh2021", ".", "~", "a b",
    "/", "x/", "-", "no/such/file.csv", "README.md", "é", 3, 2.5, True, None,
)


def test_native_coercion_agrees_with_typers_own_on_every_parameter() -> None:
    """Wherever native coercion answers, typer's pydantic coercion gives the same value and
    type; where typer refuses a value (an error message), native coercion leaves it to typer."""
    from typer._coercion import build_runtime_param

    answered = 0
    for command, param in _params():
        descriptor = param.type_descriptor
        native = NativeRuntimeParam(parameter_info=descriptor.parameter_info,
                                    annotation=descriptor.annotation, descriptor=descriptor)
        own = build_runtime_param(descriptor)
        ctx = command.make_context(command.name or "triage", [], resilient_parsing=True)
        values: list[Any] = list(VALUES)
        if descriptor.is_list:
            values = [("1", "2.5"), ("per_capita_floor:share=0.3",), [], ("x", 3), "7"]
        for value in values:
            got = native.native(value, param, ctx)
            if got is OTHER:
                continue
            answered += 1
            expected = own._coerce_value(value, param=param, ctx=ctx)  # no error
            assert type(got) is type(expected) and repr(got) == repr(expected), (
                command.name, param.name, value)
    assert answered > 500


def _normalised(text: str) -> str:
    try:
        payload = json.loads(text)
    except ValueError:
        return re.sub(r"\d+\.\d+ s\b", "T s", text)

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("seconds", "timings")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return json.dumps(strip(payload), indent=1)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    out = capsys.readouterr()
    return int(stop.value.code or 0), _normalised(out.out), out.err


ARGVS = [
    ["solve", US, "--json"],
    ["solve", PUGH, "--no-price"],
    ["compare", PUGH, "--json"],
    ["validate", US],
    ["solve", PUGH, "--supply", "x"],
    ["solve", PUGH, "--supply", "1,000", "--json"],
    ["solve", PUGH, "--supply", "1.5"],
    ["solve", PUGH, "--supply", "-3"],
    ["solve", PUGH, "--supply", " 120", "--no-price"],
    ["solve", PUGH, "--supply", "0120", "--no-price"],
    ["solve", PUGH, "--time-limit", "abc"],
    ["solve", PUGH, "--time-limit", "0"],
    ["solve", PUGH, "--time-limit", "nan", "--json"],
    ["solve", PUGH, "--time-limit", "1e3", "--no-price"],
    ["solve", PUGH, "--seed", "1e3"],
    ["solve", PUGH, "--policy", "nope"],
    ["solve", PUGH, "-c", "nope:x=1", "-c", "threshold:tau=0.5"],
    ["solve", PUGH, "--out", ""],
    ["solve", PUGH, "--no-such-option"],
    ["solve"],
    ["solve", "--help"],
    ["sovle", PUGH],
    ["--version"],
    ["-q", "solve", PUGH, "--no-price", "--policy", "per_capita"],
    ["plan", PUGH, "--json"],
    ["bedside", "allocate"],
    ["bedside"],
    ["scenarios", "--help"],
    ["-v"],
    ["generate", "x", "--regions", "0"],
    ["evaluate", PUGH, "--allocation", "no/such.csv"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(x.rsplit("/", 1)[-1] for x in a))
def test_same_answers_errors_and_help_as_plain_typer(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _run(argv, capsys)
    monkeypatch.setattr(cli, "app_for", lambda args: cli.app)
    monkeypatch.setattr("optimiser.cli.usage.native_coercion", lambda params: None)
    plain = _run(argv, capsys)
    assert fast == plain
