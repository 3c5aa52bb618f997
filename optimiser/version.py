"""The version of regional-triage, written in one place: pyproject.toml's `[project] version`.

A checkout (or an editable install: `pip install -e .`) reads it from the pyproject.toml beside
the package, so `triage --version`, the service's /health and OpenAPI page, decision logs and
report provenance say the version of the code that runs, even when the installed metadata
predates the last bump (pip records an editable install's version when it installs it). An
installed wheel has no pyproject.toml beside it: its metadata, built from the same field, says
it. tests/test_leftovers_version.py checks every place against pyproject.toml.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

DISTRIBUTION = "regional-triage"
UNKNOWN = "0+unknown"  # neither a source tree nor an installed distribution (a copied folder)


@functools.cache
def version() -> str:
    """pyproject.toml's version when this package runs from its source tree, else the installed
    distribution's, else UNKNOWN."""
    try:
        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as file:
            project = tomllib.load(file).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    if project.get("name") == DISTRIBUTION and isinstance(project.get("version"), str):
        return str(project["version"])
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN
