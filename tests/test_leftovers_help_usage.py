"""Leftovers 4: every command's --help shows its arguments as plain metavars, the way most
programs do: `Usage: triage check-plan [OPTIONS] INSTANCE_DIR PLAN_FILE`. Before, typer 0.29
wrote `{instance_dir} {plan_file}` (and `instance_dir <path>` under Arguments, "Missing
argument 'instance_dir'")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest


def _commands() -> Iterator[tuple[tuple[str, ...], list[tuple[str, bool]]]]:
    """(path of each command, [(argument name, required)])."""
    import typer.main

    from optimiser.cli import app

    def walk(command, path):  # type: ignore[no-untyped-def]
        subs = getattr(command, "commands", {})
        if not subs:
            arguments = [(p.name, p.required) for p in command.params
                         if p.param_type_name == "argument"]
            yield path, arguments
        for name, sub in sorted(subs.items()):
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


COMMANDS = list(_commands())


def _help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    from optimiser.cli import main

    with pytest.raises(SystemExit) as stop:
        main([*path, "--help"])
    assert stop.value.code in (0, None)
    return capsys.readouterr().out


def test_every_command_with_arguments_is_checked() -> None:
    with_arguments = {" ".join(p) for p, arguments in COMMANDS if arguments}
    assert {"solve", "check-plan", "bedside replay", "scenarios evaluate"} <= with_arguments


@pytest.mark.parametrize(("path", "arguments"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_the_usage_line_shows_plain_metavars(
    path: tuple[str, ...], arguments: list[tuple[str, bool]], capsys: pytest.CaptureFixture[str]
) -> None:
    page = _help(path, capsys)
    usage = page.splitlines()[0]
    assert usage.startswith(f"Usage: triage {' '.join(path)} [OPTIONS]"), usage
    assert not re.search(r"[{}<>]", usage), usage
    shown = [name.upper() if required else f"[{name.upper()}]" for name, required in arguments]
    assert [s.removesuffix("...") for s in usage.split("[OPTIONS]", 1)[1].split()] == shown, usage
    for name, _ in arguments:  # the Arguments section names them as the usage line does
        assert re.search(rf"^  {name.upper()}\b", page, re.M), page
        assert not re.search(rf"^  {name}\b", page, re.M), page


def test_a_missing_argument_is_named_as_in_the_usage_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from optimiser.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["check-plan"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert "Missing argument 'INSTANCE_DIR'" in err, err
    assert "Usage: triage check-plan [OPTIONS] INSTANCE_DIR PLAN_FILE" in err, err
