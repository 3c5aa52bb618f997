"""Helpers shared by the command modules: atomic output folders and JSON printing."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from optimiser import budget_watchdog as watchdog
from optimiser.deadline import FINISH_FACTOR, Deadline, process_start
from optimiser.errors import EXIT_INFEASIBLE, EXIT_INTERNAL, InputError, Problem, counted
from optimiser.textfiles import check_out_path

# options several commands share, with one wording
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]
NoDefaults = Annotated[
    bool,
    typer.Option(
        "--no-default-constraints", help="Ignore the constraints listed in instance.toml."
    ),
]
# the single-period commands' (solve, compare, validate, evaluate, sweep, report)
RegionalDir = Annotated[
    Path, typer.Argument(help="Instance folder (instance.toml, regions.csv[, tiers.csv]).")
]
RegionalConstraintOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--constraint", "-c", help="Fairness constraint KIND:param=value[,param=value]; repeatable."
    ),
]
# the commands that fan out over processes or a Dask cluster (sweep, scenarios evaluate and
# saa, bedside compare); `triage serve` has its own (solver processes)
WorkersOpt = Annotated[
    int | None, typer.Option(help="Local worker processes (default: the cores).")
]
DaskSchedulerOpt = Annotated[
    str | None,
    typer.Option("--dask-scheduler", help="Run on an existing Dask cluster: tcp://HOST:PORT."),
]

_origin: float | None = None  # where command budgets start: set by main() for the process


def count_from_process_start() -> float:
    """Budgets of this process's command start when the process did (`triage` run as a
    program: its start-up counts); main([...]) called from Python counts from the command.
    Returns that start (a time.perf_counter() reading)."""
    global _origin
    _origin = process_start()
    return _origin


def end_process(code: object) -> NoReturn:
    """Leave the `triage` program with `code`, as sys.exit(code) would, but without the
    interpreter's teardown (freeing every module: 0.3-0.4 s that --time-limit would count):
    output flushed and atexit handlers run (logging, multiprocessing, temporary folders), but
    not the wait for HiGHS runs abandoned at their deadline (optimiser/guarded_run.py)."""
    watchdog.commit()  # past its deadline the watchdog has answered and ends the process
    if code is None or isinstance(code, int):
        status = code or 0
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
            stream.flush()
    guard = sys.modules.get("optimiser.guarded_run")
    if guard is not None:  # HiGHS runs abandoned at their deadline: os._exit ends them
        guard.forget_abandoned_runs()
    atexit._run_exitfuncs()
    os._exit(status)


def command_deadline(time_limit: float | None) -> Deadline:
    """The budget of a command (`--time-limit`): the whole command, start-up included when it
    runs as the `triage` program (count_from_process_start)."""
    start = _origin if _origin is not None else time.perf_counter()
    watchdog.stage("loading the input")
    return Deadline(time_limit, start=start)


def output_reserve(deadline: Deadline, loading_started: float, floor: float = 0.0) -> Deadline:
    """The deadline for the solves of a command that has just loaded its instance: what is
    left less the time writing the answer will take (FINISH_FACTOR x the time loading took:
    both grow with the instance; or `floor` seconds, the command's estimate from the answer's
    size, when more)."""
    watchdog.stage("solving")
    return deadline.reserved(max(FINISH_FACTOR * (time.perf_counter() - loading_started), floor))


COMMAND_LINE = "the command line"  # where an option's problem is (ProblemsIn's count line)


class ProblemsIn(InputError):
    """Every problem of an input, listed one per line, then "N problems found in WHERE"
    (and, when WHERE is a folder of another kind than the command reads, which command).

    WHERE is where the problems are: a problem of a file among `inputs` (named by its file
    name) is in that file, a problem of an option in the command line, any other in `where`
    (the instance folder); an `error` placed already (ProblemsIn, `located`) keeps its places.
    Problems in several places are counted by place."""

    def __init__(
        self,
        error: InputError,
        where: object,
        inputs: Sequence[Path] = (),
        places: Sequence[str] | None = None,
    ) -> None:
        super().__init__(error.problems)
        if places is None and isinstance(error, ProblemsIn):
            places = error.places
        self.places: list[str] = (
            [_place(p, where, inputs) for p in error.problems] if places is None else list(places)
        )
        hint = _other_kind(where, error.problems) if set(self.places) == {str(where)} else ""
        self.hint = f" ({hint})" if hint else ""

    def count_line(self) -> str:
        """The last line: `1 problem found in WHERE`, or `3 problems found: 2 in A, 1 in B`
        for problems in several places."""
        counts = dict.fromkeys(self.places, 0)
        for place in self.places:
            counts[place] += 1
        found = f"{counted(len(self.problems), 'problem')} found"
        if len(counts) <= 1:
            return f"{found} in {next(iter(counts), COMMAND_LINE)}{self.hint}"
        return f"{found}: " + ", ".join(f"{n} in {place}" for place, n in counts.items())

    @classmethod
    def joined(cls, errors: Sequence[InputError], where: object) -> ProblemsIn:
        """The problems of several errors, each in its own place."""
        placed = [e if isinstance(e, ProblemsIn) else cls(e, where) for e in errors]
        problems = InputError([p for e in placed for p in e.problems])
        return cls(problems, where, places=[place for e in placed for place in e.places])


def _place(problem: Problem, where: object, inputs: Sequence[Path]) -> str:
    if problem.file is None and problem.column_word == "option":
        return COMMAND_LINE
    for path in inputs:
        if problem.file is not None and problem.file == path.name:
            return str(path)
    return str(where)


def located(error: InputError, path: Path) -> ProblemsIn:
    """`error`, raised reading `path` (a file, or a folder of files, given on the command
    line), with each problem in the file that holds it: the file of the problem's name in
    the folder (beside the file), or `path` for a problem naming no file."""
    folder = path if path.is_dir() else path.parent

    def place(problem: Problem) -> str:
        if problem.file is None:
            return COMMAND_LINE if problem.column_word == "option" else str(path)
        return str(folder / problem.file)

    return ProblemsIn(error, path, places=[place(p) for p in error.problems])


# (files that make a folder of this kind, the other files it needs, the kind, the command
# that reads it); multi-period first: its folder also has instance.toml and regions.csv
FOLDER_KINDS = (
    (("demand.csv", "regions.csv"), ("instance.toml",), "a multi-period instance",
     "triage plan"),
    (("instance.toml", "regions.csv"), (), "a single-period instance", "triage solve"),
    (("patients.csv", "policy.toml"), ("units.csv",), "a bedside case",
     "triage bedside allocate"),
)


def _other_kind(where: object, problems: list[Problem]) -> str:
    """A pointer to the right command when the files a command missed are those of one kind
    of folder and the folder is another (`triage validate instances/bedside-snapshot`)."""
    missing = {p.file for p in problems if p.message == "file not found" and p.file}
    folder = Path(str(where))
    if not missing or not folder.is_dir():
        return ""
    expected = {kind for files, more, kind, _ in FOLDER_KINDS if missing & {*files, *more}}
    for files, _, kind, command in FOLDER_KINDS:
        if kind not in expected and all((folder / f).is_file() for f in files):
            return f"it is {kind}, with {' and '.join(files)}: `{command} {folder}`"
    return ""


def with_folder_kind(error: InputError, folder: Path) -> InputError:
    """`error`, and a last problem naming the command for `folder` when it is of another kind
    than the command reads (the commands that list problems without a count line)."""
    hint = _other_kind(folder, error.problems)
    return InputError([*error.problems, Problem(f"{folder}: {hint}")]) if hint else error


def exit_without_answer(status: Any, explanation: str | None, found: bool, what: str) -> None:
    """Exit 3 with the explanation for an infeasible constraint set, exit 4 when no `what`
    (allocation, plan) was found; return when there is an answer (also one stopped at the
    time limit or at the method's own iteration limits: exit 0, its status says so)."""
    if status == "infeasible":  # SolveStatus.INFEASIBLE (a str enum; not imported: start-up)
        typer.echo(f"error: {explanation}", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    if not found:
        hint = ": raise --time-limit" if status == "time_limit" else ""
        if status == "iteration_limit" and explanation:  # which limit stopped it
            hint = f": {explanation}"
        typer.echo(f"error: no {what} found ({status}){hint}", err=True)
        raise typer.Exit(EXIT_INTERNAL)


def echo_json(payload: Any) -> None:
    """One JSON object on stdout (a non-finite number is null: optimiser.json_values)."""
    from optimiser.json_values import json_ready

    typer.echo(json.dumps(json_ready(payload), indent=2, allow_nan=False, default=str))


OUTPUT_MARKER = ".triage-output"  # written into every output folder: safe to replace later


def _fresh_folder(parent: Path, prefix: str) -> Path:
    """A new, empty folder next to the target (created with the user's umask)."""
    for _ in range(100):
        path = parent / f"{prefix}{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise OSError(f"cannot create a temporary folder in {parent}")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out_apart(
    out: Path,
    folders: Mapping[str, Path | None],
    files: Mapping[str, Path | None] | None = None,
) -> None:
    """InputError when --out is one of the input `folders`, inside one or contains one, or
    contains one of the input `files` (writing it would replace or mix with an input).
    Keys are option names; None values (option not given) are skipped."""
    check_out_path(out)
    target = Path(os.path.abspath(out))
    for option, folder in folders.items():
        if folder is None:
            continue
        source = Path(os.path.abspath(folder))
        if target == source:
            relation = f"is the {option} folder"
        elif _inside(target, source):
            relation = f"is inside the {option} folder {folder}"
        elif _inside(source, target):
            relation = f"contains the {option} folder {folder}"
        else:
            continue
        raise InputError(
            Problem(f"--out {out}: {relation}; choose another folder (nothing was written)")
        )
    for option, file in (files or {}).items():
        if file is not None and _inside(Path(os.path.abspath(file)), target):
            raise InputError(
                Problem(
                    f"--out {out}: contains the {option} file {file}; choose another folder "
                    "(nothing was written)"
                )
            )


def write_outputs(out: Path, write: Callable[[Path], None]) -> None:
    """Write into a fresh temporary folder, then move it into place: never half an output.

    An existing `out` is replaced only once the new content is complete, and only if it is empty
    or was written by this function before (it holds OUTPUT_MARKER): a folder of other files is
    never deleted. If the final move fails, the previous content is put back.
    """
    watchdog.commit()  # the answer begins: from here it is written whole, never cut
    out = Path(out)
    check_out_path(out)
    if _inside(Path.cwd(), Path(os.path.abspath(out))):
        raise InputError(
            Problem(
                f"--out {out}: is the current folder or contains it; choose a new folder "
                "(nothing was written)"
            )
        )
    if out.exists() and not out.is_dir():
        raise InputError(Problem(f"--out {out}: exists and is not a folder"))
    if out.is_dir() and any(out.iterdir()) and not (out / OUTPUT_MARKER).exists():
        raise InputError(
            Problem(
                f"--out {out}: folder exists and holds files not written by triage; "
                "choose a new folder (nothing was written)"
            )
        )
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = _fresh_folder(parent, f".{out.name}.tmp-")
    except OSError as exc:
        raise InputError(
            Problem(f"--out {out}: cannot write here ({exc.strerror or exc})")
        ) from exc
    try:
        write(tmp)
        (tmp / OUTPUT_MARKER).write_text("written by triage; safe to replace\n")
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise InputError(
                Problem(f"--out {out}: cannot write ({exc.strerror or exc}); nothing was written")
            ) from exc
        raise
    backup = None
    try:
        if out.exists():
            backup = _fresh_folder(parent, f".{out.name}.old-")
            os.replace(out, backup / "previous")
        os.replace(tmp, out)
    except BaseException as exc:
        if backup is not None and (backup / "previous").exists() and not out.exists():
            os.replace(backup / "previous", out)  # put the previous output back
        shutil.rmtree(tmp, ignore_errors=True)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
        if isinstance(exc, OSError):
            raise InputError(
                Problem(f"--out {out}: cannot replace it ({exc.strerror or exc}); left as it was")
            ) from exc
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
