"""Provenance: what is needed to reproduce and audit a report (every input file hashed, the
engine's commit, the solver and library versions, the options)."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from optimiser.instance import Instance
from optimiser.solver import solver_versions

#: Every file an instance folder may hold (single-period and multi-period); all are hashed.
INSTANCE_FILES = (
    "instance.toml",
    "regions.csv",
    "tiers.csv",
    "demand.csv",
    "deliveries.csv",
    "lead_times.csv",
    "capacity.csv",
    "coordinates.csv",
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def _git_commit() -> str | None:
    """The engine's source commit (read-only git), with '+dirty' when files differ; None outside "
    "git."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def provenance(
    instance: Instance, options: Mapping[str, Any], *, command: Sequence[str] | None = None
) -> dict[str, Any]:
    """What is needed to reproduce and audit a report (every instance file is hashed)."""
    import matplotlib
    import numpy

    import optimiser

    files = {}
    if instance.path is not None:
        for name in INSTANCE_FILES:
            path = Path(instance.path) / name
            if path.is_file():
                files[name] = _sha256(path)
    versions = solver_versions()
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": None if command is None else " ".join(command),
        "instance": {
            "name": instance.name,
            "path": None if instance.path is None else str(instance.path),
            "fingerprint": instance.fingerprint(),
            "files_sha256": files,
            "resource": instance.resource,
            "supply": instance.supply,
        },
        "options": dict(options),
        "versions": {
            "engine": getattr(optimiser, "__version__", "unknown"),
            "engine_commit": _git_commit(),
            "highs": versions["highs"],
            "highspy": versions["highspy"],
            "pyomo": versions["pyomo"],
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "pandas": pd.__version__,
            "matplotlib": matplotlib.__version__,
            "platform": platform.platform(),
        },
    }


