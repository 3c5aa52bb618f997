"""Reading the user's text files (CSV, JSON) so that bad input is a message, never a crash.

One place for what every command reads: a file that is missing, a symbolic-link loop, not a
regular file, too large, binary, not UTF-8, CR-only line endings, a malformed CSV row, JSON
nested too deeply, numbers written loosely. Problems in one file are listed up to
MAX_PROBLEMS_PER_FILE; past that the rest of the file is still read (streamed, so memory and
time stay bounded) and only counted.
"""

from __future__ import annotations

import csv
import difflib
import errno
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimiser.errors import InputError, Problem, counted, plural

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PROBLEMS_PER_FILE = 100  # listed per file; the others are counted (docs/instance-format.md)
MAX_JSON_DEPTH = 200

# A number as the docs define it: ASCII digits, an optional sign, decimal point and exponent.
# float() would also take 9_000_000, Arabic-Indic digits, "0x10"-free hex floats and spaces.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.ASCII | re.IGNORECASE)


def strict_float(text: str) -> float | None:
    """The number `text` spells (surrounding spaces ignored), or None. inf and nan are read
    (so that callers can say "must be finite"); 9_000_000, ٩ or 1,000 are not numbers."""
    text = text.strip()
    if _NUMBER.fullmatch(text) or _SPECIAL.fullmatch(text):
        return float(text)
    return None


# 1,000 / 1'000 / 1 000 / 1_000 (also 1,000.5): digits in groups of three after a separator
_GROUPED = re.compile(r"[+-]?\d{1,3}([,'_ \u00a0\u202f])\d{3}(?:\1\d{3})*(?:\.\d*)?", re.ASCII)


def groups_digits(value: object) -> bool:
    """Whether `value` is a number written with thousands separators (1,000, 1 000, 1'000)."""
    return isinstance(value, str) and _GROUPED.fullmatch(value.strip()) is not None


def not_a_number(value: object) -> str:
    """The message for a cell or an option value that is not a number, one for every reader:
    "not a number: '1,000'", with why when the value groups its digits (1,000, 1 000, 1'000):
    thousands separators are not accepted. No rewrite is offered: 1,500 may be a decimal comma
    (1.5) as well as fifteen hundred, and only the user knows which."""
    if groups_digits(value):
        return (f"not a number: {value!r} (thousands separators are not accepted: write the "
                "digits alone, with '.' as the decimal point)")
    return f"not a number: {value!r}"


def path_problem(path: Path, what: str = "file") -> str | None:
    """Why `path` cannot be read as a `what` ("file" or "folder"), or None."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"symbolic link loop: {path} (a link that points, directly or not, to itself)"
        if exc.errno == errno.ENAMETOOLONG:
            return f"path too long: {path}"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            if os.path.islink(path):
                return f"broken symbolic link: {path} -> {os.readlink(path)}"
            return "file not found" if what == "file" else f"{what} not found"
        return f"cannot read: {exc.strerror or exc}"
    if what == "folder" and not stat.S_ISDIR(st.st_mode):
        return "not a folder"
    if what == "file" and not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    return None


def read_text(path: Path, problems: list[Problem], required: bool = True,
              name: str | None = None) -> str | None:
    """The file's text (UTF-8, a BOM allowed), or None with the problem appended."""
    name = name or path.name
    if not required and not os.path.lexists(path):
        return None
    problem = path_problem(path)
    if problem is not None:
        problems.append(Problem(problem, file=name))
        return None
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(Problem(f"file too large ({size} bytes)", file=name))
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(f"cannot read file: {exc.strerror or exc}", file=name))
        return None
    if b"\x00" in data:
        problems.append(Problem("binary file (contains NUL bytes); expected text", file=name))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(f"not UTF-8 text (byte {exc.start})", file=name))
        return None
    if "\r" in text and "\n" not in text:
        problems.append(Problem(
            "lines end with a carriage return only (an old Mac format); save the file with "
            "LF or CRLF line endings", file=name))
        return None
    return text


def load_json(text: str, name: str) -> Any:
    """json.loads with the file named in every problem (also for data nested too deeply)."""
    depth = _max_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(Problem(
            f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)", file=name))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"malformed JSON: {exc}", file=name)) from None
    except (RecursionError, ValueError) as exc:
        raise InputError(Problem(f"malformed JSON: {json_error_words(exc)}", file=name)) from None


def json_error_words(exc: BaseException) -> str:
    """Why json.loads failed, in a user's words: Python's own for a number too long to convert
    name a setting of Python ("use sys.set_int_max_str_digits()"), not the file."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if "sys.set_int_max_str_digits" in str(exc):
        return f"a whole number has more than {sys.get_int_max_str_digits():,} digits"
    return str(exc)


def json_reason(text: str | bytes) -> tuple[Any, str | None]:
    """(data, None), or (None, why it is not JSON Python can read) for every way json.loads
    fails on a user's file: malformed, nested too deeply, a number too long to convert, bytes
    that are not UTF-8 (callers keep their own wording around the reason)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        return load_json(text, ""), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except InputError as exc:
        return None, exc.problems[0].message.removeprefix("malformed JSON: ")


def _max_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


@dataclass
class Table:
    """A CSV file's header and its well-formed rows, stored by column (no list per row: a
    file of a million rows stays near its own size in memory), with their line numbers."""

    header: list[str]
    columns: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str, ...]]:
        return list(zip(*self.columns, strict=True)) if self.lines else []


class ProblemList:
    """Problems of one file: the first MAX_PROBLEMS_PER_FILE are kept, the others counted."""

    def __init__(self, problems: list[Problem], name: str) -> None:
        self.problems = problems
        self.name = name
        self.kept = 0
        self.dropped = 0

    stopped = False  # the caller stopped checking once full (see `full`)

    @property
    def full(self) -> bool:
        """As many problems as are listed: a caller may stop checking (bounded time)."""
        return self.kept >= MAX_PROBLEMS_PER_FILE

    def add(self, problem: Problem) -> None:
        if self.kept < MAX_PROBLEMS_PER_FILE:
            self.problems.append(problem)
            self.kept += 1
        else:
            self.dropped += 1

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        if self.stopped:
            self.problems.append(Problem(
                f"more problems may follow: checking stopped after the first "
                f"{MAX_PROBLEMS_PER_FILE} (fix these and run again)", file=self.name))
        elif self.dropped:
            self.problems.append(Problem(
                f"{counted(self.dropped, 'more problem')} in this file, not listed (the first "
                f"{MAX_PROBLEMS_PER_FILE} are)", file=self.name))


def read_csv_table(text: str, name: str, problems: list[Problem],
                   expected: Sequence[str] = ()) -> Table | None:
    """Parse CSV text: the header (stripped names) and every row with as many fields as the
    header; other rows are problems. None when the header itself is unusable. `expected`:
    the columns this file may have, for hints about a wrong delimiter or a misspelt name."""
    if not text.strip():
        problems.append(Problem("empty file: no header and no rows", file=name))
        return None
    if _is_json(text):  # `check-plan DIR result.json`: one line, not a problem per JSON line
        problems.append(Problem(
            "a JSON file, not a CSV table (comma-separated columns under a header line)",
            file=name))
        return None
    listed = ProblemList(problems, name)
    reader = csv.reader(_lines(text))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        problems.append(Problem(f"malformed header: {exc}", file=name, line=1))
        return None
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        problems.append(
            Problem(
                f"duplicate {plural(len(dup), 'column')} in header: {', '.join(dup)}", file=name
            )
        )
        return None
    if any(h == "" for h in header):
        problems.append(Problem("empty column name in header", file=name, line=1))
        return None
    if expected and len(header) == 1:
        hint = delimiter_hint(header[0], expected)
        if hint:
            problems.append(Problem(hint, file=name, line=1))
            return None
    table = Table(header, [[] for _ in header])
    width = len(header)
    appends = [column.append for column in table.columns]
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            listed.add(Problem(f"malformed row: {exc}", file=name, line=line))
            continue
        if not row or (not row[0].strip() and not any(cell.strip() for cell in row)):
            continue  # a blank line
        if len(row) != width:  # reported; the other rows are still read
            hint = " (an unclosed quote?)" if '"' in "".join(row) else ""
            listed.add(Problem(f"has {len(row)} fields, header has {width}{hint}",
                               file=name, line=line))
            continue
        if listed.full:
            continue  # the file is refused anyway: count what follows, keep nothing
        for append, cell in zip(appends, row, strict=True):
            append(cell)
        table.lines.append(line)
    listed.close()
    return table


def _is_json(text: str) -> bool:
    """Text that is a JSON object or array (no CSV header starts with { or [)."""
    if text.lstrip()[:1] not in ("{", "["):
        return False
    if _max_depth(text) > MAX_JSON_DEPTH:
        return True
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` with their endings, one at a time (a 50 MB file is not copied)."""
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop + 1
        yield text[start:stop]
        start = stop


def delimiter_hint(only: str, expected: Sequence[str]) -> str | None:
    """A message when a one-column header is really several columns with another delimiter."""
    for delimiter, called in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
        parts = [p.strip() for p in only.split(delimiter)]
        if len(parts) > 1 and any(_normal(p) in {_normal(e) for e in expected} for p in parts):
            return (f"the header is one column, {only!r}: the file seems separated by {called}; "
                    "separate columns with commas")
    return None


def _normal(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for a misspelt or differently written column name, else ''."""
    options = list(choices)
    by_normal = {_normal(c): c for c in options}
    if _normal(name) in by_normal:
        return f" (did you mean '{by_normal[_normal(name)]}'?)"
    close = difflib.get_close_matches(_normal(name), list(by_normal), n=1, cutoff=0.75)
    return f" (did you mean '{by_normal[close[0]]}'?)" if close else ""


def check_out_path(out: Path) -> None:
    """InputError when --out cannot be a path on this system: a component longer than the
    file system allows (255 bytes), a path longer than PATH_MAX, a NUL byte."""
    text = os.fsencode(out)
    if b"\0" in text:
        raise InputError(Problem("--out: the path holds a NUL byte"))
    limit = _name_max(Path(os.path.abspath(out)))
    for part in Path(out).parts:
        size = len(os.fsencode(part))
        if size > limit:
            shown = part if len(part) <= 40 else part[:37] + "..."
            raise InputError(Problem(
                f"--out: the path component '{shown}' is {size} bytes; the file system allows "
                f"{limit} (nothing was written)"))
    if len(os.fsencode(os.path.abspath(out))) >= 4096:
        raise InputError(
            Problem("--out: the path is longer than 4,096 bytes (nothing was written)")
        )


def _name_max(path: Path) -> int:
    """The longest file name the file system of the deepest existing parent allows."""
    for parent in [path, *path.parents]:
        try:
            return int(os.pathconf(parent, "PC_NAME_MAX"))
        except (OSError, ValueError):
            continue
    return 255
