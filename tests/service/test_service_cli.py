"""`triage serve` refuses bad configuration with one clear message and exit code 2;
`triage token` makes tokens the server accepts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from optimiser.service.auth import TokenRegistry

pytestmark = pytest.mark.slow  # fault tests of server start-up (each starts a server)

REPO = Path(__file__).resolve().parents[2]


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "optimiser", "serve", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True, text=True, cwd=REPO, env=base, timeout=60,
    )


def assert_clean_failure(run: subprocess.CompletedProcess[str], *words: str) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    assert run.stderr.startswith("error: ")
    for word in words:
        assert word in run.stderr, run.stderr


def test_serve_without_tokens_refuses_to_start(tmp_path):
    assert_clean_failure(serve(tmp_path, "--port", "0"), "no API tokens", "TRIAGE_TOKENS")


def test_a_bad_setting_is_named(tmp_path):
    run = serve(tmp_path, "--port", "0", TRIAGE_TOKENS="alice:alice-token-0123456789",
                TRIAGE_RATE_LIMIT="-1")
    assert_clean_failure(run, "TRIAGE_RATE_LIMIT", "greater than 0")


@pytest.mark.parametrize("env,words", [
    ({"TRIAGE_RATE_LIMIT": "-1"}, ["TRIAGE_RATE_LIMIT", "greater than 0"]),
    ({"TRIAGE_WORKERS": "many"}, ["TRIAGE_WORKERS", "valid integer"]),
    ({"TRIAGE_TOKENS": "alice:short"}, ["too short"]),
    ({"TRIAGE_TOKENS": "no-colon-here-0123456789"}, ["expected name:token"]),
    ({"TRIAGE_TOKENS": "bad name!:0123456789abcdefgh"}, ["name 'bad name!'"]),
    ({"TRIAGE_TOKENS_FILE": "/nonexistent/tokens"}, ["tokens file", "cannot read"]),
    ({"TRIAGE_TOKENS": "a:sha256:1234"}, ["64 hex digits"]),
    ({"TRIAGE_TOKENS": ""}, ["no API tokens"]),
])
def test_bad_settings_are_named_in_process(tmp_path, env, words, monkeypatch):
    """The same checks as above, without a process each (Settings and TokenRegistry)."""
    from optimiser.errors import InputError
    from optimiser.service.settings import Settings

    for name in [n for n in os.environ if n.startswith("TRIAGE_")]:
        monkeypatch.delenv(name)
    for name, value in {"TRIAGE_TOKENS": "alice:alice-token-0123456789", **env}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InputError) as caught:
        settings = Settings.from_env(data_dir=tmp_path)
        TokenRegistry.load(settings.tokens, settings.tokens_file)
    message = "; ".join(str(p) for p in caught.value.problems)
    for word in words:
        assert word in message, message
    assert "0123456789abcdefgh" not in message  # a token is never echoed back


def test_bad_option_is_named_in_process(tmp_path, monkeypatch):
    from optimiser.errors import InputError
    from optimiser.service.settings import Settings

    monkeypatch.setenv("TRIAGE_WORKERS", "3")  # the option wins over the variable
    with pytest.raises(InputError) as caught:
        Settings.from_env(data_dir=tmp_path, workers=0)
    assert str(caught.value).startswith("--workers: ")


def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = serve(tmp_path, "--port", str(port), TRIAGE_TOKENS="alice:alice-token-0123456789")
    assert_clean_failure(run, f"127.0.0.1:{port}")


def test_one_server_per_sqlite_data_dir(server):
    run = serve(server.data_dir.parent, "--port", "0",
                TRIAGE_TOKENS="alice:alice-token-0123456789")
    assert_clean_failure(run, "another triage server is using it")
    assert server.proc.poll() is None  # the running one is untouched


def test_token_command_prints_a_token_and_its_hash_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "optimiser", "token", "dashboard"],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    token = lines[0].rsplit(" ", 1)[1]
    file_line = lines[1].rsplit(" ", 1)[1]
    assert file_line.startswith("dashboard:sha256:") and token not in file_line
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(file_line + "\n")
    registry = TokenRegistry.load(None, tokens_file)
    principal = registry.check(token)
    assert principal is not None and principal.name == "dashboard"
    assert registry.check(token + "x") is None and registry.check("") is None
    bad = subprocess.run([sys.executable, "-m", "optimiser", "token", "bad name!"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
