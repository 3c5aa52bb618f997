"""Leftovers 5: the version is written in one place, pyproject.toml, and every place that says it
agrees: `triage --version`, `optimiser.__version__`, the service (/v1/health, OpenAPI), a bedside
decision log's header and its replay notice. Before, `__version__ = "0.1.0"` stood in the code
whatever CHANGELOG.md said had changed since 0.1.0, and a replay notice read "written by
regional-triage 0.1.0 (this is regional-triage 0.1.0)" for a log written before those changes.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import optimiser

REPO = Path(__file__).resolve().parents[1]


def pyproject_version() -> str:
    with open(REPO / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    assert "version" not in project.get("dynamic", []), "the version is written, not computed"
    return str(project["version"])


def release(text: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    assert match, text
    return tuple(int(n) for n in match.groups())


def test_the_package_and_the_command_say_pyprojects_version() -> None:
    version = pyproject_version()
    assert optimiser.__version__ == version
    run = subprocess.run([sys.executable, "-m", "optimiser", "--version"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip() == f"triage (regional-triage) {version}"


def test_the_version_follows_the_changelog() -> None:
    """After the last released version, and a development version of the next one while
    CHANGELOG.md has an [Unreleased] section (Keep a Changelog); equal to the top section once
    it is released."""
    version = pyproject_version()
    sections = re.findall(r"^## \[([^\]]+)\]", (REPO / "CHANGELOG.md").read_text(), re.M)
    released = [s for s in sections if s != "Unreleased"]
    assert released, sections
    if sections[0] == "Unreleased":
        assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|(a|b|rc)\d+)", version), version
        assert release(version) > release(released[0]), (version, released[0])
    else:
        assert version == released[0], (version, released[0])


def test_the_service_says_the_same_version(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from optimiser.service.app import create_app
    from optimiser.service.routers.system import health
    from optimiser.service.settings import Settings

    version = pyproject_version()
    settings = Settings(data_dir=tmp_path, tokens="alice:alice-token-0123456789abcdef")
    assert create_app(settings).version == version
    response = asyncio.run(health())
    assert json.loads(bytes(response.body))["version"] == version


def test_a_decision_log_and_its_replay_notice_say_the_same_version() -> None:
    from optimiser.bedside.log import reworded_notice

    version = pyproject_version()
    notice = reworded_notice([(2, "P1", "old words", "new words")],
                             {"engine": "regional-triage 0.1.0"})
    assert f"written by regional-triage 0.1.0 (this is regional-triage {version})" in notice[0]
    assert version != "0.1.0"  # the log of the last release is told apart from this code


def test_the_version_comes_from_the_metadata_without_a_source_tree(tmp_path: Path) -> None:
    """A copy of the package with no pyproject.toml beside it (an installed wheel) reads the
    installed distribution's metadata, or says it does not know."""
    import shutil

    shutil.copytree(REPO / "optimiser", tmp_path / "optimiser",
                    ignore=shutil.ignore_patterns("__pycache__"))
    probe = "import optimiser.version as v; print(v.version())"
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=True, env={"PYTHONPATH": str(tmp_path)})
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        expected = installed("regional-triage")
    except PackageNotFoundError:
        expected = "0+unknown"
    assert run.stdout.strip() == expected
