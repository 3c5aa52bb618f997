"""Helpers shared by the command modules: atomic output folders and JSON printing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from optimiser.errors import InputError, Problem


def echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, allow_nan=False, default=str))


def write_outputs(out: Path, write: Callable[[Path], None]) -> None:
    """Write into a fresh temporary folder, then move it into place: never half an output.

    An existing `out` is replaced only once the new content is complete.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(Problem(f"--out {out}: exists and is not a folder"))
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise InputError(
            Problem(f"--out {out}: cannot write here ({exc.strerror or exc})")
        ) from exc
    try:
        write(tmp)
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.replace(out, backup / "old")
            os.replace(tmp, out)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
