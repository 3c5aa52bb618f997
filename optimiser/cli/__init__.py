"""The `triage` command line. Each command group lives in its own module and registers on `app`.

Exit codes: 0 success; 2 invalid input or usage; 3 infeasible constraint set; 4 internal error.
Errors are one message on stderr; no traceback reaches a user (set TRIAGE_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

import click
import typer

_typer_click: types.ModuleType
try:  # typer >= 0.29 raises exceptions of its vendored click copy
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - older typer uses click itself
    _typer_click = click.exceptions


def _both(name: str) -> tuple[type[BaseException], ...]:
    """The exception class of that name in click and in typer's vendored copy, where present."""
    found = [getattr(module, name, None) for module in (click.exceptions, _typer_click)]
    return tuple(dict.fromkeys(c for c in found if isinstance(c, type)))


USAGE_ERRORS = _both("UsageError")
ABORTS = _both("Abort")
EXITS = _both("Exit")
CLICK_ERRORS = _both("ClickException")

from optimiser.errors import EXIT_INPUT, EXIT_INTERNAL, TriageError  # noqa: E402

app = typer.Typer(
    name="triage",
    help="Regional triage: allocate a scarce life-saving resource across health regions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules register themselves on `app` when imported.
from optimiser.cli import regional  # noqa: E402,F401

for _optional in ("plan", "scenarios", "service", "sweep", "bedside"):
    try:
        __import__(f"optimiser.cli.{_optional}")
    except ModuleNotFoundError as exc:  # a command group whose module is not present
        if exc.name != f"optimiser.cli.{_optional}":
            raise


MAX_SHOWN = 50  # problems printed for one error (triage validate lists them all)


def fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        code = app(args=argv, prog_name="triage", standalone_mode=False)
    except USAGE_ERRORS as usage:
        exc: Any = usage
        message = exc.format_message()
        if exc.ctx is not None:
            message += f"\n{exc.ctx.get_usage()}"
        fail(message, EXIT_INPUT)
    except ABORTS:
        fail("aborted", 130)
    except EXITS as stop:
        sys.exit(getattr(stop, "exit_code", 0))
    except CLICK_ERRORS as error:
        fail(getattr(error, "format_message", error.__str__)(), EXIT_INPUT)
    except TriageError as exc:
        problems = getattr(exc, "problems", None)
        if problems and len(problems) > 1:  # every problem, one per line (at most MAX_SHOWN)
            for problem in problems[:MAX_SHOWN]:
                click.echo(f"error: {problem}", err=True)
            if len(problems) > MAX_SHOWN:
                click.echo(f"error: ... and {len(problems) - MAX_SHOWN} more problems", err=True)
            sys.exit(exc.exit_code)
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        fail(
            f"internal error: {type(exc).__name__}: {exc} (set TRIAGE_DEBUG=1 for details)",
            EXIT_INTERNAL,
        )
    sys.exit(code if isinstance(code, int) else 0)
