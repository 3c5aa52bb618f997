"""The job store cannot be lost silently: damage, disappearance and a full disk are reported.

- At start-up a SQLite store is checked before anything touches it (`check_sqlite_file`): a
  damaged file (PRAGMA quick_check) or a file that is not a database stops the server with a
  message saying what is damaged and how to recover; nothing is changed.
- A marker beside the store (`jobs.sqlite3.marker`) holds the store's id (also kept inside
  the store). A store that is missing where the marker says one existed, or a file of another
  store in its place, stops the server: it is never silently recreated empty.
- While the server runs, `SqliteIdentity` notices the store file (or its write-ahead log)
  deleted or replaced under it: readiness fails and new jobs are refused (503), rather than
  recorded into a file that no longer exists.
- Any store error while serving is a 503 with Retry-After (`StoreUnavailable`), never a 500:
  a job is accepted only once it is committed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER_SUFFIX = ".marker"
RETRY_AFTER = "5"
MIN_FREE_BYTES = 1 << 20  # readiness fails below this much free space beside the store
_TREE = re.compile(r"\bTree (\d+)\b")


class StoreUnavailable(Exception):
    """The job store cannot read or durably record right now (full disk, deleted file,
    damage, database down). `damaged`: it will not get better by waiting."""

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """(a short reason, damaged?) for a database error."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    lowered = text.lower()
    if "disk is full" in lowered or "no space" in lowered:
        return "the disk holding the job store is full", False
    if "malformed" in lowered or "not a database" in lowered:
        return f"the job store is damaged ({text})", True
    if "readonly" in lowered or "read-only" in lowered:
        return "the job store is read-only", False
    if "disk i/o" in lowered:
        return f"the job store cannot be written ({text})", False
    if "locked" in lowered:
        return "the job store is busy (locked)", False
    return f"the job store failed ({type(exc).__name__}: {text})", False


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + MARKER_SUFFIX)


def read_marker(path: Path) -> dict[str, Any] | None:
    marker = marker_path(path)
    try:
        data = json.loads(marker.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"store_id": None, "unreadable": True}
    return data if isinstance(data, dict) else {"store_id": None, "unreadable": True}


def write_marker(path: Path, store_id: str, created_at: float) -> None:
    marker = marker_path(path)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({
        "store_id": store_id,
        "store": path.name,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created_at)),
        "note": "written by triage serve: the job store beside it exists. If the store is "
                "missing, restore it from a backup; delete this file only to start afresh.",
    }, indent=2) + "\n")
    os.replace(tmp, marker)


def _recover_hint(path: Path) -> str:
    return (
        f"nothing was changed. To recover: stop here, copy {path.name} somewhere safe, then "
        f"`sqlite3 {path} .recover | sqlite3 {path.with_name('jobs-recovered.sqlite3')}` and "
        f"move jobs-recovered.sqlite3 to {path.name} (its marker {marker_path(path).name} "
        "stays); or, to start with an empty store, move the damaged file and its -wal/-shm "
        f"files aside and delete {marker_path(path).name}"
    )


def check_sqlite_file(path: Path) -> str | None:
    """Before the server opens a SQLite store: None if it may start, else why not (the
    damaged file, the missing store, another store in its place), with how to recover."""
    marker = read_marker(path)
    if not path.exists():
        if marker is None:
            return None  # a new store
        return (
            f"the job store {path} is missing, but {marker_path(path).name} beside it says "
            f"one was created there ({marker.get('created_at', 'at an unknown time')}, store "
            f"{marker.get('store_id')}): its jobs would be lost. Restore {path.name} (and its "
            f"-wal file, if any) from a backup; or, to start afresh with an empty store, "
            f"delete {marker_path(path)}"
        )
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(20)").fetchall()]
            if rows == ["ok"]:
                store_id = _stored_id(conn)
                if marker is not None and not marker.get("unreadable") and store_id and \
                        marker.get("store_id") not in (None, store_id):
                    return (
                        f"{path} holds another job store (store {store_id}) than the one "
                        f"{marker_path(path).name} names (store {marker.get('store_id')}, "
                        f"created {marker.get('created_at')}). Put the right file back; or, to "
                        f"use this one, delete {marker_path(path)}"
                    )
                return None
            names = _tree_names(conn)
    except sqlite3.DatabaseError as exc:
        return f"the job store {path} is damaged ({exc}); {_recover_hint(path)}"
    damaged = []
    for row in rows[:5]:
        match = _TREE.search(row)
        where = names.get(int(match.group(1))) if match else None
        damaged.append(f"{row} [{where}]" if where else row)
    more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    return (
        f"the job store {path} is damaged: {'; '.join(damaged)}{more}; {_recover_hint(path)}"
    )


def _stored_id(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT value FROM store_meta WHERE key = 'store_id'").fetchone()
    except sqlite3.DatabaseError:
        return None  # a store of an earlier version: no id yet
    return None if row is None else str(row[0])


def _tree_names(conn: sqlite3.Connection) -> dict[int, str]:
    """Root page -> 'table jobs' / 'index ix_jobs_owner_seq', where the schema is readable."""
    try:
        rows = conn.execute("SELECT type, name, rootpage FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError:
        return {}
    return {int(root): f"{kind} {name}" for kind, name, root in rows if root}


@dataclass(frozen=True)
class _Id:
    device: int
    inode: int


def _identity(path: Path) -> _Id | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return _Id(st.st_dev, st.st_ino)


class SqliteIdentity:
    """The store file as it was opened. A sentinel connection stays open for the store's
    lifetime, so SQLite never removes the write-ahead log itself: a missing -wal file was
    removed by someone else."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wal = path.with_name(path.name + "-wal")
        self._sentinel = sqlite3.connect(str(path), check_same_thread=False)
        self._sentinel.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self.opened = _identity(path)

    def problem(self) -> str | None:
        now = _identity(self.path)
        if now is None:
            return (f"the job store file {self.path} was deleted while the server was "
                    "running: new jobs are refused; restore it from a backup and restart")
        if now != self.opened:
            return (f"the job store file {self.path} was replaced while the server was "
                    "running: new jobs are refused; restart the server to use the new file")
        if not self.wal.exists():
            return (f"the job store's write-ahead log {self.wal} was deleted while the server "
                    "was running: recent jobs may be lost; new jobs are refused; restart")
        if not os.access(self.path, os.R_OK | os.W_OK):
            return f"the job store file {self.path} is not readable and writable by the server"
        try:
            disk = os.statvfs(self.path.parent)
        except OSError:
            return None
        free = disk.f_bavail * disk.f_frsize
        if free < MIN_FREE_BYTES:
            return (f"the disk holding the job store is full ({free:,} bytes free): new jobs "
                    "may not be recorded")
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._sentinel.close()
