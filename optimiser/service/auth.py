"""API tokens: read from TRIAGE_TOKENS and/or a tokens file, kept only as SHA-256 digests.

Format (both sources): entries `name:token` (comma-separated in the variable, one per line in
the file; `#` starts a comment). A file may hold `name:sha256:<64 hex digits>` instead, so the
plain token need not be stored on the server at all (`triage token NAME` prints both forms).
A presented token is hashed and compared with every stored digest by hmac.compare_digest,
without an early exit. Jobs belong to the token's *name*: two tokens with the same name (for
rotation) share jobs; different names never see each other's jobs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from optimiser.errors import InputError, Problem

MIN_TOKEN_LENGTH = 16
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (owner of its jobs)."""

    name: str


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenRegistry:
    """Name -> SHA-256 digests; `check(token)` returns the Principal or None."""

    def __init__(self, entries: list[tuple[str, bytes]]) -> None:
        self._entries = list(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, token: str | None) -> Principal | None:
        if not token:
            return None
        presented = digest(token)
        found: str | None = None
        for name, stored in self._entries:  # no early exit: time does not depend on position
            if hmac.compare_digest(presented, stored) and found is None:
                found = name
        return None if found is None else Principal(found)

    @classmethod
    def load(cls, tokens: str | None, tokens_file: Path | None) -> TokenRegistry:
        problems: list[Problem] = []
        entries: list[tuple[str, bytes]] = []
        if tokens:
            for i, item in enumerate(t for t in tokens.split(",") if t.strip()):
                entry = _parse(item.strip(), f"TRIAGE_TOKENS entry {i + 1}", problems)
                if entry:
                    entries.append(entry)
        if tokens_file is not None:
            path = Path(tokens_file)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(Problem(f"tokens file {path}: cannot read it ({exc})")) from None
            for line_no, line in enumerate(text.splitlines(), start=1):
                line = line.split("#", 1)[0].strip()
                if line:
                    entry = _parse(line, f"tokens file {path}, line {line_no}", problems)
                    if entry:
                        entries.append(entry)
        if problems:
            raise InputError(problems)
        if not entries:
            raise InputError(
                Problem(
                    "no API tokens: set TRIAGE_TOKENS='name:token' or TRIAGE_TOKENS_FILE "
                    "(`triage token NAME` makes one)"
                )
            )
        return cls(entries)


def _parse(item: str, where: str, problems: list[Problem]) -> tuple[str, bytes] | None:
    name, sep, secret = item.partition(":")
    name = name.strip()
    secret = secret.strip()
    if not sep or not secret:
        problems.append(Problem(f"{where}: expected name:token"))
        return None
    if not _NAME.match(name):
        problems.append(Problem(f"{where}: name {name!r} must be 1-64 of A-Z a-z 0-9 _ . @ -"))
        return None
    if secret.startswith("sha256:"):
        hexdigest = secret.removeprefix("sha256:").strip().lower()
        if not _HEX64.match(hexdigest):
            problems.append(Problem(f"{where}: sha256: must be followed by 64 hex digits"))
            return None
        return name, bytes.fromhex(hexdigest)
    if len(secret) < MIN_TOKEN_LENGTH:
        problems.append(
            Problem(f"{where}: token of '{name}' is too short (at least {MIN_TOKEN_LENGTH} chars)")
        )
        return None
    return name, digest(secret)
