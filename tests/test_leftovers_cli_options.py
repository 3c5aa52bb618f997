"""Leftovers 1: every `triage` error names an option as the user types it, one style across
commands (`--time-limit: MESSAGE`). Before, the same kind of mistake read
"option 'time_limit': ..." (`solve`), "seed: ..." (`solve --policy lottery`) or
"--time-limit must be ..." (`plan`). Python keeps the argument's name ("option 'time_limit'")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from optimiser.errors import InputError, Problem, option_flag, option_problem

REPO = Path(__file__).resolve().parents[1]
US = str(REPO / "instances" / "us-states-2020")
APR = str(REPO / "instances" / "us-states-apr2020")
PUGH = str(REPO / "instances" / "pugh2021")


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from optimiser.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    out = capsys.readouterr()
    return int(stop.value.code or 0), out.out, out.err


CASES = [
    (["solve", US, "--time-limit", "-1"], "--time-limit"),
    (["solve", PUGH, "--policy", "lottery", "--seed", "-1"], "--seed"),
    (["plan", APR, "--time-limit", "0"], "--time-limit"),
    (["plan", APR, "--today", "1000"], "--today"),
    (["plan", APR, "--gap", "2"], "--gap"),  # the engine's argument is mip_gap
    (["plan", APR, "--max-wait", "-1"], "--max-wait"),  # the setting is max_wait_days
    (["plan", APR, "--donor-share", "2"], "--donor-share"),  # donor_keep_share
    (["plan", APR, "--batch-size", "0"], "--batch-size"),
    (["solve", US, "--supply", "-5"], "--supply"),  # was "supply: must be >= 0"
    (["sweep", PUGH, "--vary", "supply=1:10", "--samples", "0"], "--samples"),
    (["sweep", PUGH, "--vary", "supply=1:10", "--samples", "3", "--seed", "-1"], "--seed"),
    (["sweep", PUGH, "--vary", "supply=1:10:1", "--workers", "0"], "--workers"),
]


@pytest.mark.parametrize(("argv", "flag"), CASES, ids=[" ".join(c[0][-2:]) for c in CASES])
def test_an_option_is_named_as_typed(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if argv[0] == "sweep":
        argv = [*argv, "--out", str(tmp_path / "sweep")]
    code, out, err = run_main(argv, capsys)
    assert code == 2, err
    first = err.splitlines()[0]
    assert first.startswith(f"error: {flag}: "), err
    assert "option '" not in err and "_" not in first.split(": ")[1], err
    # with --json: the same message, and the option as typed beside the engine's name
    code, out, err = run_main([*argv, "--json"], capsys)
    error = json.loads(out)["error"]
    assert error["problems"][0]["option"] == flag, error
    assert error["message"].startswith((f"{flag}: ", "1 problem found in ")), error


def test_every_option_problem_names_a_real_option() -> None:
    """The renaming rule (`_` to `-`, OPTION_FLAGS for engine arguments named otherwise) gives
    options `triage` has, for every option problem the engine builds under optimiser/."""
    import typer.main

    from optimiser.cli import app

    flags: set[str] = set()

    def walk(command: object) -> None:
        for param in getattr(command, "params", []):
            flags.update(o for o in param.opts if o.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    named = set()
    pattern = re.compile(r"""column=["']([\w-]+)["'][^()]*column_word=["']option["']""", re.S)
    builder = re.compile(r"""option_problem\(\s*["']([\w-]+)["']""")
    python_only = {"horizon_days"}  # instance_from_frames: no command takes it
    for path in (REPO / "optimiser").rglob("*.py"):
        text = path.read_text()
        named.update(pattern.findall(text))
        named.update(builder.findall(text))
    from dataclasses import fields

    from optimiser.multiperiod.instance import PlanSettings

    named.update(f.name for f in fields(PlanSettings))  # PlanSettings.replace's options
    assert {"time_limit", "seed", "today", "mip_gap", "time-limit"} <= named
    unknown = {n for n in named - python_only if option_flag(n) not in flags}
    assert not unknown, unknown


def test_python_keeps_the_argument_name() -> None:
    problem = option_problem("time_limit", "must be > 0")
    assert str(problem) == "option 'time_limit': must be > 0"
    assert problem.for_command_line() == "--time-limit: must be > 0"
    assert option_flag("mip_gap") == "--gap" and option_flag("--forecast") == "--forecast"
    located = Problem("bad", file="f.csv", line=3, column="as_of", column_word="option")
    assert located.for_command_line() == "f.csv, line 3, --as-of: bad"
    plain = Problem("bad", file="f.csv", line=3, column="supply")
    assert plain.for_command_line() == str(plain) == "f.csv, line 3, column 'supply': bad"
    error = InputError([problem, plain])
    assert error.summary(command_line=True) == "--time-limit: must be > 0 (and 1 more problem)"
