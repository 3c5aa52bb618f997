"""The decision log (JSON lines) and its replay; the officer's overrides.

Every `allocate` writes one: a header (hashes of every input, the policy with who approved it
and when, the seed, the options), one line per patient (score components, rank, category,
lottery draw, decision, reason, and any override with its justification), and a summary with
a hash of the decision lines. `replay` checks the inputs against the header's hashes, runs the
same decision again and compares every decision: every field of every line but the reason's
wording, which is reported apart (a notice naming the version that wrote the log, not a failed
replay). A log is a record: `write_log` never replaces one unless asked (`overwrite`).
docs/bedside.md, "Record".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimiser import __version__
from optimiser.bedside.patients import blank
from optimiser.bedside.results import BedsideResult, rows
from optimiser.errors import InputError, Problem, counted, listed
from optimiser.instance import _read_csv
from optimiser.json_values import json_number
from optimiser.textfiles import json_error_words

LOG_VERSION = 1
OVERRIDE_COLUMNS = ("patient", "decision", "justification", "officer")
DECISIONS = ("unit", "no_unit")


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def decision_lines(result: BedsideResult) -> list[str]:
    """One canonical JSON line per patient (what replay compares)."""
    lines = []
    frame = result.patients
    columns = list(frame.columns)
    for pid, values in zip(frame.index, rows(frame), strict=True):  # as iterrows gives them
        row = dict(zip(columns, values, strict=True))
        override = None
        if row.get("override"):
            override = {"text": str(row["override"]), "final": str(row["final"])}
        record = {
            "type": "decision",
            "patient": str(pid),
            "site": str(row["site"]),
            "day": int(row["day"]),
            "candidate": bool(row["candidate"]),
            "benefit": json_number(row["benefit"]),
            "score": {k: json_number(v) for k, v in dict(row.get("components") or {}).items()},
            "rank": json_number(row["rank"]),
            "batch_rank": json_number(row["batch_rank"]),
            "lottery_draw": json_number(row["lottery_draw"]),
            "category": str(row["category"]),
            "decision": str(row["decision"]),
            "withdrawn": bool(row["withdrawn"]),
            "reason": str(row["reason"]),
            "override": override,
            "final": str(row["final"]),
        }
        lines.append(canonical(record))
    return lines


def header(result: BedsideResult, options: dict[str, Any],
           overrides: str | None = None) -> dict[str, Any]:
    return {
        "type": "header",
        "log_version": LOG_VERSION,
        "engine": f"regional-triage {__version__}",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": result.mode,
        "objective": result.objective,
        "policy": result.policy,
        "seed": result.policy.get("seed"),
        "approved_by": result.policy.get("approved_by"),
        "approval_date": result.policy.get("approval_date"),
        "inputs": result.inputs,
        "options": options,
        "overrides": None if overrides is None else {
            "file": overrides, "sha256": _sha(Path(overrides))},
        "solver": result.solver,
        "rule_fallback": rule_fallback(result),
    }


def rule_fallback(result: BedsideResult) -> list[list[Any]]:
    """[site, day] of each decision the policy's rule took because the program was stopped
    by the time limit: replay decides those by the rule, and proves every other optimum
    again without a time limit (so a replay never depends on the machine's speed)."""
    if result.policy.get("method") != "optimal":
        return []
    return sorted([str(c["site"]), int(c["day"])] for c in result.certificates
                  if c.get("method") == "rule")


# header fields a replay recomputes and compares (not the time, paths, versions)
UNCHECKED_HEADER = frozenset({"created", "inputs", "engine", "solver", "options"})


def check_log_path(path: Path) -> None:
    """A log is a regular file in an existing folder: refuse anything else before any work
    (a device such as /dev/null must never be replaced by a file)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError(Problem(f"--log {path}: exists and is not a regular file; choose a "
                                 "file path (nothing was written)"))
    if path.is_symlink():
        raise InputError(Problem(f"--log {path}: is a symbolic link; choose a file path "
                                 "(nothing was written)"))
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(Problem(f"--log {path}: {parent} is not a folder"))


def refuse_existing_logs(paths: Iterable[Path], hint: str = "pass overwrite=True") -> None:
    """A decision log records a decision taken: one that exists is never replaced silently
    (InputError, exit 2, naming each file; nothing is written). `hint`: how to replace it."""
    problems = [Problem(f"decision log {p} already exists: it is the record of an earlier "
                        f"decision and is never replaced silently (nothing was written); choose "
                        f"another path, or {hint} to replace it")
                for p in dict.fromkeys(Path(x) for x in paths) if os.path.lexists(p)]
    if problems:
        raise InputError(problems)


def write_log(path: Path, result: BedsideResult, options: dict[str, Any],
              overrides: str | None = None, *, overwrite: bool = False) -> None:
    """Write the log next to its final name, then move it into place (never half a log).
    An existing log is refused (InputError, nothing written) unless `overwrite`."""
    check_log_path(path)
    if not overwrite:
        refuse_existing_logs([path])
    lines = decision_lines(result)
    summary = {
        "type": "summary",
        "patients": len(lines),
        "units": sum(1 for v in result.patients["decision"] if v == "unit"),
        "overrides": int((result.patients["override"] != "").sum()),
        "objective_value": json_number(result.summary.get("objective_value")),
        "decisions_sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
    }
    text = "\n".join([canonical(header(result, options, overrides)), *lines,
                      canonical(summary)]) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_new(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _move_new(tmp: Path, path: Path) -> None:
    """Move tmp to path only if path does not exist, atomically where the file system links
    (a log written meanwhile by another run is refused, not replaced)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        refuse_existing_logs([path])
    except OSError:  # no hard links here: check, then move
        refuse_existing_logs([path])
        os.replace(tmp, path)
        return
    tmp.unlink()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


@dataclass(frozen=True)
class Replay:
    """`identical`: every decision as logged (who receives a unit, the ranks, the scores, the
    lottery draws, the categories, the overrides; the header's policy, seed and approval) --
    the reasons' wording aside. `differences`: what differs (a failed replay, exit 4).
    `reworded`: (line, patient, logged reason, replayed reason) of each decision that is the
    same but whose reason is worded differently, as a version other than the log's words it;
    `notices` says so, naming the version that wrote the log (its header's `engine`)."""

    identical: bool
    decisions: int
    differences: tuple[str, ...]
    header: dict[str, Any]
    reworded: tuple[tuple[int, str, str, str], ...] = ()
    notices: tuple[str, ...] = ()


def read_log(path: Path) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    name = Path(path).name
    try:  # a BOM: the log saved again by an editor (the decision lines are unchanged)
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(f"cannot read the log: {exc}", file=name)) from None
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for number, line in enumerate(lines, start=1):
        try:  # NaN, Infinity or 1e400 (an edited log) are not JSON the log was written with
            parsed.append(json.loads(line, parse_constant=_not_finite, parse_float=_finite))
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            raise InputError(Problem(f"not JSON: {json_error_words(exc)}", file=name,
                                     line=number)) from None
        if not isinstance(parsed[-1], dict):
            raise InputError(Problem("not a JSON object", file=name, line=number))
    if not parsed or parsed[0].get("type") != "header" or parsed[-1].get("type") != "summary":
        raise InputError(Problem("not a decision log (header line and summary line expected)",
                                 file=name))
    if parsed[0].get("log_version") != LOG_VERSION:
        raise InputError(Problem(f"log version {parsed[0].get('log_version')!r} not supported "
                                 f"(expected {LOG_VERSION})", file=name, line=1))
    _check_header(parsed[0], name)
    return parsed[0], lines[1:-1], parsed[-1]


def _not_finite(word: str) -> float:
    raise ValueError(f"{word} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the range of a number")
    return value


def _check_header(head: dict[str, Any], name: str) -> None:
    """The header's fields replay relies on have their types (an edited header is exit 2)."""
    problems = []

    def bad(column: str, rule: str) -> None:
        problems.append(Problem(rule, file=name, line=1, column=column, column_word="field"))

    inputs = head.get("inputs")
    if not isinstance(inputs, dict) or not all(
            isinstance(inputs.get(k), dict) for k in ("files", "sha256")):
        bad("inputs", "must be an object with files and sha256 objects")
    elif not all(isinstance(v, str) for part in ("files", "sha256")
                 for v in inputs[part].values()):
        bad("inputs", "file names and hashes must be strings")
    overrides = head.get("overrides")
    if overrides is not None and not (isinstance(overrides, dict) and all(
            isinstance(overrides.get(k), str) for k in ("file", "sha256"))):
        bad("overrides", "must be null or an object with file and sha256 strings")
    fallback = head.get("rule_fallback")
    if not isinstance(fallback, list) or not all(
            isinstance(x, list) and len(x) == 2 and isinstance(x[0], str)
            and isinstance(x[1], int) and not isinstance(x[1], bool) for x in fallback):
        bad("rule_fallback", "must be a list of [site, day] pairs")
    if not isinstance(head.get("policy"), dict):
        bad("policy", "must be an object")
    if problems:
        raise InputError(problems)


def replay(path: str | Path, folder: str | Path | None = None) -> Replay:
    """Re-run the logged decision and compare every decision line. The inputs are found from
    the header (or in `folder`) and must have the logged hashes, else InputError (exit 2)."""
    from optimiser.bedside.api import allocate
    from optimiser.bedside.io import load_inputs

    log_header, lines, summary = read_log(Path(path))
    files = dict(log_header.get("inputs", {}).get("files", {}))
    hashes = dict(log_header.get("inputs", {}).get("sha256", {}))
    if folder is not None:
        files = {role: str(Path(folder) / Path(f).name) for role, f in files.items()}
    problems = []
    for role in ("patients", "policy", "units"):
        given = files.get(role)
        if given is None:
            problems.append(Problem(f"the log names no {role} file", file=Path(path).name,
                                    line=1))
            continue
        if not Path(given).exists():
            problems.append(Problem(f"{role} file of the log not found: {given}",
                                    file=Path(path).name, line=1))
            continue
        actual = _unit_hash(Path(given), files.get("existing")) if role == "units" else _sha(
            Path(given))
        if actual != hashes.get(role):
            problems.append(Problem(f"the log does not match its inputs: {Path(given).name} has "
                                    f"sha256 {actual[:12]}..., the log recorded "
                                    f"{str(hashes.get(role))[:12]}...", file=Path(path).name,
                                    line=1))
    logged_overrides = log_header.get("overrides")
    if logged_overrides and _sha(Path(logged_overrides["file"])) != logged_overrides["sha256"]:
        problems.append(Problem("the log does not match its inputs: the overrides file "
                                f"{logged_overrides['file']} changed or is missing",
                                file=Path(path).name, line=1))
    if problems:
        raise InputError(problems)
    inputs = load_inputs(Path(files["patients"]).parent, units=files["units"],
                         policy=files["policy"], existing=files.get("existing"))
    overrides = None
    if logged_overrides:
        known = set(inputs.cohort.patients.index)
        overrides = read_overrides(Path(logged_overrides["file"]), known)
    result = allocate(inputs, price=False, protocols=False, overrides=overrides,
                      rule_batches=[(str(s), int(d)) for s, d in log_header["rule_fallback"]])
    again = decision_lines(result)
    differences = []
    rebuilt = header(result, {}, None if not logged_overrides else logged_overrides["file"])
    for key in sorted((set(rebuilt) | set(log_header)) - UNCHECKED_HEADER):
        if canonical(rebuilt.get(key)) != canonical(log_header.get(key)):
            differences.append(f"line 1, header field {key!r}: logged "
                               f"{canonical(log_header.get(key))[:120]} ... replayed "
                               f"{canonical(rebuilt.get(key))[:120]}")
    reworded: list[tuple[int, str, str, str]] = []
    for number, (old, new) in enumerate(zip(lines, again, strict=False), start=2):
        if old != new:
            found = compare_decision(old, new)
            if isinstance(found, str):
                differences.append(f"line {number}: {found}")
            else:
                reworded.append((number, found[0], found[1], found[2]))
    if len(lines) != len(again):
        differences.append(f"the log has {len(lines)} decision lines, the replay {len(again)}")
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    if digest != summary.get("decisions_sha256"):
        differences.append("the decision lines do not match the log's own summary hash "
                           "(the log was edited)")
    return Replay(not differences, len(lines), tuple(differences), log_header,
                  tuple(reworded), reworded_notice(reworded, log_header))


def compare_decision(logged: str, replayed: str) -> str | tuple[str, str, str]:
    """Two decision lines that differ: the difference in words (the decision changed), or
    (patient, logged reason, replayed reason) when only the reason's wording did."""
    try:
        old, new = json.loads(logged), json.loads(replayed)
    except ValueError:
        old = new = None
    if not isinstance(old, dict) or not isinstance(new, dict):
        return f"logged {logged[:160]} ... replayed {replayed[:160]}"
    fields = [k for k in sorted(set(old) | set(new))
              if k != "reason" and canonical(old.get(k)) != canonical(new.get(k))]
    patient = canonical(old.get("patient"))
    if fields:
        said = "; ".join(f"{k} logged {canonical(old.get(k))[:80]}, replayed "
                         f"{canonical(new.get(k))[:80]}" for k in fields[:6])
        return f"patient {patient}: {said}"
    if not isinstance(old.get("reason"), str):
        return f"patient {patient}: reason logged {canonical(old.get('reason'))[:80]}"
    return str(old.get("patient")), str(old["reason"]), str(new.get("reason"))


def reworded_notice(reworded: list[tuple[int, str, str, str]],
                    log_header: dict[str, Any]) -> tuple[str, ...]:
    """The notice of reasons worded differently (none when every reason is as logged): how
    many, the version that wrote the log and this one, the first three in both wordings."""
    if not reworded:
        return ()
    logged_by = log_header.get("engine") or "a version that did not record itself"
    first = [f"line {n} (patient {pid}): logged {old!r}; this version words it {new!r}"
             for n, pid, old, new in reworded[:3]]
    more = len(reworded) - len(first)
    return (f"the reasons of {counted(len(reworded), 'decision')} are worded differently from the "
            f"log, which was written by {logged_by} (this is regional-triage {__version__}); "
            "the decisions themselves are the same, and the logged reason is the one recorded "
            "at the time", *first, *([f"... and {more} more"] if more > 0 else []))


def _unit_hash(path: Path, existing: str | None) -> str:
    from optimiser.bedside.io import load_units

    try:
        return load_units(path, existing).sha256
    except InputError:
        return ""


def read_overrides(path: Path, known: Iterable[str]) -> pd.DataFrame:
    """overrides.csv: patient, decision (unit | no_unit), justification, officer."""
    problems: list[Problem] = []
    raw = _read_csv(Path(path), problems, required=True)
    if raw is None:
        raise InputError(problems)
    return validate_overrides(raw, set(known), Path(path).name)


def validate_overrides(raw: pd.DataFrame, known: set[str], file: str,
                       line_word: str = "line") -> pd.DataFrame:
    """The overrides table checked; `raw.attrs["lines"]` numbers its rows (CSV: line 2 is the
    first row; JSON: row 1 is the first, with line_word "row")."""
    problems: list[Problem] = []
    missing = [c for c in OVERRIDE_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(Problem(f"missing required {listed('column', missing)}", file=file))
    extra = [c for c in raw.columns if c not in OVERRIDE_COLUMNS]
    if extra:
        problems.append(Problem(f"unknown {listed('column', extra)} (columns: "
                                f"{', '.join(OVERRIDE_COLUMNS)})", file=file))
    lines = raw.attrs.get("lines", list(range(2, len(raw) + 2)))
    seen: dict[str, int] = {}
    rows = []
    for line, (_, row) in zip(lines, raw.iterrows(), strict=True):
        pid = str(row["patient"]).strip()
        where = {"file": file, "line": line, "line_word": line_word}
        if pid not in known:
            problems.append(Problem(f"unknown patient {pid!r}", column="patient", **where))
        elif pid in seen:
            problems.append(Problem(f"patient {pid!r} overridden twice (first on {line_word} "
                                    f"{seen[pid]})", column="patient", **where))
        seen.setdefault(pid, line)
        decision = str(row["decision"]).strip()
        if decision not in DECISIONS:
            problems.append(Problem(f"must be unit or no_unit, got {decision!r}",
                                    column="decision", **where))
        for column in ("justification", "officer"):
            if blank(str(row[column])):
                problems.append(Problem("required: an override is recorded with who decided it "
                                        "and why", column=column, **where))
        rows.append({"patient": pid, "decision": decision,
                     "justification": str(row["justification"]).strip(),
                     "officer": str(row["officer"]).strip()})
    if problems:
        raise InputError(problems)
    table = pd.DataFrame(rows, columns=list(OVERRIDE_COLUMNS)).set_index("patient")
    table.attrs.update(file=file, lines=dict(seen), line_word=line_word)
    return table
