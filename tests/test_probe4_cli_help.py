"""Probe 4: what `triage ... --help` shows a new user. Failed on main 4dd34f7.

- The help was rendered as Rich markup: a word in square brackets was taken for a style tag
  and vanished (`triage validate --help` said "lead times, capacity and  settings are checked
  too", its `[multiperiod]` gone; `triage scenarios saa --help` said "of instance.toml's  table"
  for `[uncertainty] table`).
- In a terminal of 80 columns (and whenever the output is not a terminal) a word longer than
  the help column was cut with an ellipsis: `--constraint` read "KIND:param=value[,param=valu…",
  `plan --risk` "cvar:alpha=0.1,la…", so the syntax an option takes could not be read.

- `triage` (or `triage bedside`) alone printed its help and then "error: " with nothing after
  it, and the usage line again, on stderr.

Every word of every command's and option's help text must be in its --help page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _commands() -> Iterator[tuple[tuple[str, ...], str, list[str]]]:
    """(path of the command, its help text, the help texts of its parameters)."""
    import typer

    from optimiser.cli import app

    def walk(command, path):
        texts = [p.help for p in command.params if getattr(p, "help", None)]
        yield path, command.help or "", texts
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


COMMANDS = list(_commands())


def _help_page(path: tuple[str, ...]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    env["COLUMNS"] = "80"  # the width of a terminal of its own, and of a pipe
    run = subprocess.run([sys.executable, "-m", "optimiser", *path, "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _missing_words(texts: list[str], page: str) -> list[str]:
    page = re.sub(r"-\n\s*", "-", page)  # a line may break after a hyphen ("check-" "plan")
    flat = re.sub(r"[\s│╭╮╰╯─]+", " ", page)
    words = {w for text in texts for w in text.split()}
    return sorted(w for w in words if w not in flat)


def test_words_in_square_brackets_are_not_swallowed_by_the_help():
    validate = _help_page(("validate",))
    assert "[multiperiod]" in validate, validate
    saa = _help_page(("scenarios", "saa"))
    assert "[uncertainty]" in re.sub(r"[\s│]+", " ", saa), saa


@pytest.mark.parametrize("path", [c[0] for c in COMMANDS if c[0]],
                         ids=lambda p: " ".join(p))
def test_help_pages_at_80_columns_show_every_word_uncut(path):
    help_text, params = next((h, p) for c, h, p in COMMANDS if c == path)
    page = _help_page(path)
    assert "…" not in page, page
    first_paragraph = help_text.split("\n\n")[0]
    assert not _missing_words([first_paragraph, *params], page), page


@pytest.mark.parametrize("group", [(), ("bedside",), ("scenarios",)])
def test_a_group_alone_prints_its_help_and_no_empty_error(group):
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    run = subprocess.run([sys.executable, "-m", "optimiser", *group], cwd=REPO,
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 2
    assert run.stdout.startswith(f"Usage: triage {' '.join((*group, ''))}"), run.stdout
    assert "error:" not in run.stderr, run.stderr
