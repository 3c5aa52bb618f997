"""The `triage` command line. Each command group lives in its own module and registers on `app`.

Exit codes: 0 success; 2 invalid input or usage; 3 infeasible constraint set; 4 internal error.
Errors are one message on stderr (one line per problem); no traceback reaches a user (set
TRIAGE_DEBUG=1 to see one).
With `--json`, an error is also one JSON object on stdout:
`{"error": {"code", "exit_code", "message", "problems": [{"message", "file", "line", ...}]}}`.

Start-up is kept short (`triage --help` and `--version` well under 0.3 s): this package and the
command modules import only typer and the standard library at module level; each command
imports its engine (pandas, Pyomo, HiGHS, matplotlib...) inside its function.
tests/test_cli_startup.py checks that no heavy module is imported before a command runs.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import types
from collections.abc import Sequence
from typing import Annotated, Any

# first of the project's modules: it starts --time-limit's watchdog for the `triage` program
# (a process named triage, or `python -m optimiser`) before typer is imported
from optimiser import budget_watchdog as _watchdog  # isort: skip

import typer

from optimiser.cli.common import ProblemsIn
from optimiser.errors import (
    EXIT_INFEASIBLE,
    EXIT_INPUT,
    EXIT_INTERNAL,
    InputError,
    Problem,
    TriageError,
    counted,
    option_flag,
)

_click: types.ModuleType
try:  # typer >= 0.29 raises exceptions of its vendored click copy
    from typer._click import exceptions as _click
except ImportError:  # pragma: no cover - older typer uses click itself
    import click.exceptions as _click

USAGE_ERRORS: tuple[type[BaseException], ...] = (_click.UsageError,)
CLICK_ERRORS: tuple[type[BaseException], ...] = (_click.ClickException,)
ABORTS: tuple[type[BaseException], ...] = (typer.Abort,)
EXITS: tuple[type[BaseException], ...] = (typer.Exit,)
if "click" in sys.modules and _click.__name__ != "click.exceptions":  # pragma: no cover
    import click.exceptions as _plain  # a library that raises plain click's exceptions

    USAGE_ERRORS += (_plain.UsageError,)
    CLICK_ERRORS += (_plain.ClickException,)
    ABORTS += (_plain.Abort,)
    EXITS += (_plain.Exit,)

log = logging.getLogger("optimiser")


class Verbosity:
    """What -v/-q asked for, read by commands that show progress bars or warnings."""

    level = 0  # -1: quiet, 0: warnings, 1: info, 2: debug

    @classmethod
    def quiet(cls) -> bool:
        return cls.level < 0


def _version(value: bool) -> None:
    if value:
        from optimiser import __version__  # read on first use: pyproject.toml (version.py)

        typer.echo(f"triage (regional-triage) {__version__}")
        raise typer.Exit()


# Help is plain text, not Rich markup: Rich took `[multiperiod]` or `[uncertainty]` for a style
# tag and dropped it, and cut a word wider than its column ("KIND:param=value[,param=valu…").
# Every Typer of the CLI passes HELP_STYLE (tests/test_probe4_cli_help.py).
HELP_STYLE: dict[str, Any] = {"rich_markup_mode": None}

app = typer.Typer(
    name="triage",
    help="Regional triage: allocate a scarce life-saving resource across health regions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    **HELP_STYLE,
)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="Log what happens on stderr (-vv: debug)."
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only errors on stderr: no warnings, no progress."),
    ] = False,
) -> None:
    """Regional triage: allocate a scarce life-saving resource across health regions.

    Exit codes: 0 success; 1 check-plan found broken rules; 2 invalid input or usage;
    3 infeasible constraint set; 4 internal error or no answer found.
    """
    Verbosity.level = -1 if quiet else min(verbose, 2)
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("optimiser")
    root.handlers[:] = [handler]
    root.setLevel(level[Verbosity.level])
    root.propagate = False
    logging.getLogger("models").handlers[:] = [handler]
    logging.getLogger("models").setLevel(level[Verbosity.level])


def warn(message: str) -> None:
    """A warning on stderr ("warning: ..."), silenced by -q."""
    if not Verbosity.quiet():
        typer.echo(f"warning: {message}", err=True)


# Command modules register themselves on `app` when imported; they import only typer and the
# standard library at module level (their engines load inside each command).
COMMAND_MODULES = ("regional", "plan", "scenarios", "saa", "backtest", "service", "sweep",
                   "bedside")
#: the modules registering each top-level command or group (tests/test_fastcli_native_params.py
#: checks them): the `triage` program imports only these for the command it runs (the others
#: cost 0.03 CPU-s of `triage solve` when Python compiles them: no bytecode cached)
COMMANDS_IN = {
    **dict.fromkeys(("solve", "compare", "validate", "evaluate"), ("regional",)),
    **dict.fromkeys(("plan", "check-plan", "generate"), ("plan",)),
    "scenarios": ("scenarios", "saa"),
    "backtest": ("backtest",),
    **dict.fromkeys(("serve", "token"), ("service",)),
    **dict.fromkeys(("sweep", "report"), ("sweep",)),
    "bedside": ("bedside",),
}


def load_commands(modules: Sequence[str] = COMMAND_MODULES) -> None:
    """Import command modules (each registers its commands on `app`), in COMMAND_MODULES's
    order; a module not present is skipped (a command group left out of a build)."""
    from optimiser.cli.usage import plain_usage

    for name in sorted(modules, key=COMMAND_MODULES.index):
        try:
            __import__(f"optimiser.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"optimiser.cli.{name}":
                raise
    plain_usage(app)  # INSTANCE_DIR in every command's usage line, not {instance_dir}


if not _watchdog.is_program():  # the `triage` program loads the command it runs: main()
    load_commands()


MAX_SHOWN = 50  # problems printed for one error (triage validate lists them all)


def _problem_dict(problem: Any) -> dict[str, Any]:
    fields = ("message", "file", "line", "column", "region")
    entry = {k: getattr(problem, k) for k in fields if getattr(problem, k, None) is not None}
    if getattr(problem, "column_word", None) == "option" and problem.column:
        entry["option"] = option_flag(problem.column)  # as typed: "--time-limit"
    return entry


def _text(problem: Any) -> str:
    """A problem as the command line says it: options as typed (Problem.for_command_line)."""
    return problem.for_command_line() if isinstance(problem, Problem) else str(problem)


def _json_error(code: str, exit_code: int, message: str, problems: Sequence[Any] = ()) -> None:
    payload = {
        "error": {
            "code": code,
            "exit_code": exit_code,
            "message": message,
            "problems": [_problem_dict(p) for p in problems],
        }
    }
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    sys.stdout.flush()


def fail(
    message: str,
    code: int,
    *,
    as_json: bool = False,
    kind: str = "error",
    problems: Sequence[Any] = (),
) -> None:
    """`error: MESSAGE` on stderr (and the JSON error object on stdout with --json); exit."""
    sys.stderr.write(f"error: {message}\n")
    if as_json:
        _json_error(kind, code, message, problems)
    sys.exit(code)


def _grouped_number(error: Any, args: list[str]) -> str | None:
    """`--supply: not a number: '1,000' (thousands separators are not accepted ...)` for an
    option whose value was refused and groups its digits (the parser's own message names
    neither the value nor why); None for any other refusal."""
    from optimiser.textfiles import groups_digits, not_a_number

    opts = [o for o in getattr(getattr(error, "param", None), "opts", []) if o.startswith("-")]
    for i, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name in opts:
            given = value if equals else (args[i + 1] if i + 1 < len(args) else "")
            if groups_digits(given):
                return f"{name}: {not_a_number(given)}"  # the option as the user typed it
    return None


def app_for(args: Sequence[str]) -> typer.Typer:
    """`app` with only the command `args` name, its module loaded (`triage solve ...`: typer
    builds the click command of every registered command and group each run, 23 of them:
    0.03 CPU-s spent for one), or the whole `app`, every module loaded, when the command is not
    plain to see (no command, an unknown one, `--`): help, errors and suggestions then read as
    they always do. The group's own options (--version, -v, -q, the completion ones, --help)
    take no value, so the first argument that is not an option names the command."""
    words = _watchdog.command_path(args)
    name = words[0] if words and "--" not in args[: args.index(words[0])] else None
    load_commands(COMMANDS_IN.get(name or "", COMMAND_MODULES))
    commands = [info for info in app.registered_commands if info.name == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if len(commands) + len(groups) != 1:
        load_commands()  # help, errors and suggestions see every command
        return app
    only = copy.copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _wants_json(argv: list[str] | None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return "--json" in args


#: commands whose numpy work is on vectors (HiGHS solves with threads of its own): OpenBLAS's
#: thread pool never runs for them, and starting it cost 0.03 CPU-s and 0.06 s of the 0.5 s
#: `triage solve` (BENCHMARKS.md, "fastcli"); a user's own OPENBLAS_NUM_THREADS is kept
SINGLE_PERIOD = {("solve",), ("compare",), ("validate",), ("evaluate",)}


def main(argv: list[str] | None = None) -> None:
    if argv is None:  # the `triage` program: a --time-limit counts its start-up and its exit
        from optimiser.cli.common import count_from_process_start, end_process

        # the budget holds from the process's start to its last byte (budget_watchdog.py)
        _watchdog.arm(sys.argv[1:], count_from_process_start())
        if _watchdog.command_path(sys.argv[1:])[:1] in SINGLE_PERIOD:  # before numpy loads
            os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        try:
            _main(None)
        except SystemExit as stop:
            end_process(stop.code)
        end_process(0)
    _main(argv)


def _main(argv: list[str] | None) -> None:
    as_json = _wants_json(argv)
    try:
        args = sys.argv[1:] if argv is None else argv
        code = app_for(args)(args=argv, prog_name="triage", standalone_mode=False)
    except SystemExit as stop:
        if stop.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(0)  # typer's exit 1 on a closed pipe (`triage solve ... | head`), as below
        raise
    except USAGE_ERRORS as usage:
        exc: Any = usage
        if type(exc).__name__ == "NoArgsIsHelpError":  # `triage`, `triage bedside`: the help
            sys.stdout.write(exc.format_message() + "\n")
            sys.exit(EXIT_INPUT)
        message = _grouped_number(exc, sys.argv[1:] if argv is None else argv)
        message = message or exc.format_message()
        if exc.ctx is not None and not as_json:
            message += f"\n{exc.ctx.get_usage()}"
        fail(message, EXIT_INPUT, as_json=as_json, kind="usage")
    except ABORTS:
        fail("aborted", 130, as_json=as_json, kind="aborted")
    except EXITS as stop:
        sys.exit(getattr(stop, "exit_code", 0))
    except CLICK_ERRORS as error:
        message = getattr(error, "format_message", error.__str__)()
        fail(message, EXIT_INPUT, as_json=as_json, kind="usage")
    except ProblemsIn as exc:
        count = exc.count_line()
        for problem in exc.problems:
            sys.stderr.write(f"error: {_text(problem)}\n")
        sys.stderr.write(count + "\n")
        if as_json:
            _json_error("invalid_input", EXIT_INPUT, count, exc.problems)
        sys.exit(EXIT_INPUT)
    except TriageError as exc:
        kind = {EXIT_INPUT: "invalid_input", EXIT_INFEASIBLE: "infeasible"}.get(
            exc.exit_code, "internal"
        )
        problems: Sequence[Any] = exc.problems if isinstance(exc, InputError) else ()
        message = exc.summary(command_line=True) if isinstance(exc, InputError) else str(exc)
        if len(problems) > 1:  # every problem, one per line (at most MAX_SHOWN)
            for problem in problems[:MAX_SHOWN]:
                sys.stderr.write(f"error: {_text(problem)}\n")
            if len(problems) > MAX_SHOWN:
                more = counted(len(problems) - MAX_SHOWN, "more problem")
                sys.stderr.write(f"error: ... and {more}\n")
            if as_json:
                _json_error(kind, exc.exit_code, message, problems)
            sys.exit(exc.exit_code)
        fail(message, exc.exit_code, as_json=as_json, kind=kind, problems=problems)
    except KeyboardInterrupt:
        fail("interrupted", 130, as_json=as_json, kind="interrupted")
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        fail(
            f"internal error: {type(exc).__name__}: {exc} (set TRIAGE_DEBUG=1 for details)",
            EXIT_INTERNAL,
            as_json=as_json,
            kind="internal",
        )
    sys.exit(code if isinstance(code, int) else 0)
