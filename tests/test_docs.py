"""Docs that run: every command and Python block of README.md and docs/*.md is executed here,
so the docs cannot drift from the code. A new page in docs/ is picked up by itself.

What runs, in a fresh temporary folder per block (with `instances/`, `scripts/`, `notebooks/`
and `.venv` linked in, the package's `triage` first on PATH):
- ```python blocks: written to a file and run as a script (as a reader would paste it), so a
  sweep that spawns workers without a `__main__` guard fails here too;
- ```sh / ```bash / ```shell blocks: every command, in one bash session (`set -e`);
- ```console blocks: the `$ ` lines (with their continuation lines) in one bash session; the
  other lines are the output shown to the reader, not compared.
Other blocks (toml, csv, json, text...) are data, not commands.

An HTML comment on the line before a block (invisible on the rendered page) changes that:
- `<!-- docs: not-runnable REASON -->`: not run; the reason is required and is reported;
- `<!-- docs: slow -->`: run only with the slow tests (`-m slow`, as `make test` and CI do);
- `<!-- docs: server -->`: run against a real `triage serve` started for the block (with the
  slow tests: starting a server takes a while); the example address `127.0.0.1:8000` becomes
  the server's and the example token `3vQ...Xk` a real one (also in $TOKEN).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUNNABLE = {"python", "sh", "bash", "shell", "console"}
EXAMPLE_TOKEN = "3vQ...Xk"
EXAMPLE_ADDRESS = "127.0.0.1:8000"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```",
                   re.S | re.M)
MARKER = re.compile(r"<!--\s*docs:\s*(?P<what>not-runnable|slow|server)\b(?P<rest>.*?)-->",
                    re.S)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    body: str
    markers: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip().rsplit("\n", 3)[-3:]
        markers = {}
        for m in MARKER.finditer("\n".join(before)):
            markers[m.group("what")] = m.group("rest").strip()
        found.append(Block(page, line, match.group("lang").lower(), match.group("body"), markers))
    return found


ALL = [b for page in PAGES for b in blocks_of(page)]
RUN = [b for b in ALL if b.lang in RUNNABLE]


def commands_of(block: Block) -> list[str]:
    """Whole shell commands: continuation lines (a trailing backslash, an open quote) joined."""
    lines = block.body.splitlines()
    if block.lang == "console":
        out, current = [], None
        for line in lines:
            if current is None:
                if line.startswith("$ "):
                    current = line[2:]
                else:
                    continue
            else:
                current += "\n" + line
            if complete(current):
                out.append(current)
                current = None
        assert current is None, f"{block.name}: unfinished command {current!r}"
        return out
    out, current = [], ""
    for line in lines:
        current = f"{current}\n{line}" if current else line
        if complete(current):
            if current.strip() and not current.strip().startswith("#"):
                out.append(current)
            current = ""
    assert not current, f"{block.name}: unfinished command {current!r}"
    return out


def complete(command: str) -> bool:
    if command.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote: the command goes on
        return False
    return True


def test_every_block_is_run_or_says_why_not() -> None:
    assert len(RUN) >= 10  # the parser still finds the docs' examples
    for block in RUN:
        if "not-runnable" in block.markers:
            assert len(block.markers["not-runnable"]) >= 10, f"{block.name}: give the reason"
    unknown = {b.lang for b in ALL} - RUNNABLE - {
        "", "toml", "csv", "json", "text", "ini", "yaml", "http", "sql", "html", "jsonc",
    }
    assert not unknown, f"fenced blocks of an unknown language: {unknown}"
    for block in ALL:  # a bare ``` block must be data or say it is not runnable
        if block.lang == "" and block.body.lstrip().startswith(("triage ", "$ ", "make ")):
            assert "not-runnable" in block.markers, f"{block.name}: a command block without a "
            "language; mark it ```sh or say why it is not runnable"


def workspace(tmp: Path) -> Path:
    for name in ("instances", "scripts", "notebooks"):
        if (REPO / name).exists():
            (tmp / name).symlink_to(REPO / name)
    (tmp / ".venv").symlink_to(Path(sys.prefix))
    return tmp


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)  # the code under test, whatever the current folder
    env["MPLBACKEND"] = "Agg"
    env.update(extra or {})
    return env


def run_block(block: Block, folder: Path, server: object | None = None) -> None:
    extra: dict[str, str] = {}
    body = block.body
    if server is not None:
        body = body.replace(EXAMPLE_ADDRESS, server.url.split("//", 1)[1])  # type: ignore[attr-defined]
        body = body.replace(EXAMPLE_TOKEN, SERVER_TOKEN)
        extra["TOKEN"] = SERVER_TOKEN
    if block.lang == "python":
        script = folder / "example.py"
        script.write_text(body, encoding="utf-8")
        proc = subprocess.run([sys.executable, str(script)], cwd=folder, env=environment(extra),
                              capture_output=True, text=True, timeout=900)
    else:
        commands = commands_of(Block(block.page, block.line, block.lang, body, block.markers))
        script = "set -e\n" + "\n".join(commands) + "\n"
        proc = subprocess.run(["bash", "-c", script], cwd=folder, env=environment(extra),
                              capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (
        f"{block.name} failed (exit {proc.returncode}):\n{body}\n--- stdout\n"
        f"{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    )
    assert "Traceback" not in proc.stderr, f"{block.name}:\n{proc.stderr[-3000:]}"


SERVER_TOKEN = "docs-example-token-0123456789"


def params(slow: bool) -> list[object]:
    out = []
    for block in RUN:
        if "not-runnable" in block.markers:
            continue
        if ("slow" in block.markers or "server" in block.markers) != slow:
            continue
        marks = [pytest.mark.slow] if slow else []
        out.append(pytest.param(block, id=block.name, marks=marks))
    return out


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `triage serve` for the blocks marked server (started when one needs it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "service_conftest", REPO / "tests" / "service" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    service = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(service)  # the service tests' real-server helpers
    ServerProcess, server_env = service.ServerProcess, service.server_env

    tmp = tmp_path_factory.mktemp("docs-server")
    server = ServerProcess(
        tmp / "data",
        server_env(tmp, TRIAGE_TOKENS=f"docs:{SERVER_TOKEN}"),
        ["--workers", "1"],
    ).start()
    yield server
    server.stop()


@pytest.mark.parametrize("block", params(slow=False))
def test_docs_block(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue("docs_server") if "server" in block.markers else None
    run_block(block, workspace(tmp_path), server)


@pytest.mark.parametrize("block", params(slow=True))
def test_docs_block_slow(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue("docs_server") if "server" in block.markers else None
    run_block(block, workspace(tmp_path), server)


def test_the_parser_joins_continuations_and_skips_output() -> None:
    block = Block(REPO / "README.md", 1, "console",
                  "$ echo 'a\nb' \\\n  | cat\na\nb\n$ true\n", {})
    assert commands_of(block) == ["echo 'a\nb' \\\n  | cat", "true"]
    sh = Block(REPO / "README.md", 1, "sh", "# a comment\nfalse \\\n  || true  # x\n", {})
    assert commands_of(sh) == ["false \\\n  || true  # x"]


@pytest.mark.slow
def test_make_run_is_the_main_job() -> None:
    """The README's first command, with this environment's packages (already installed)."""
    proc = subprocess.run(
        ["make", "-s", "run", f"VENV={sys.prefix}"], cwd=REPO, env=environment(),
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "== 1/4" in out and "== 4/4" in out
    assert "Why: " in out and "lives/unit" in out
    assert "Every policy saves 1,000.0 expected lives here" in out
    assert max(len(line) for line in out.splitlines()) <= 120  # no 700-character lines
    assert "Traceback" not in proc.stderr and "setuptools" not in proc.stderr
