"""ASGI middleware: authentication, per-token limits, body size and time limits, metrics.

Written against raw ASGI (not BaseHTTPMiddleware) so that it adds microseconds, not
milliseconds, to each request. A request is authenticated and counted by the token's rate
limit *before* its body is read, so an unauthenticated client cannot make the server parse
anything; the body is then read whole, within TRIAGE_BODY_TIMEOUT seconds and
TRIAGE_MAX_BODY_BYTES bytes, and only then does the request take one of the token's
concurrency slots (a client trickling its body holds none).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optimiser.service.auth import Principal
from optimiser.service.errors import ApiError
from optimiser.service.repeats import refuse_repeated_keys, refuse_repeated_parameters

if TYPE_CHECKING:
    from optimiser.service.core import Service

PUBLIC_PATHS = frozenset({"/v1/health", "/v1/ready"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json"})
DOCS_ASSETS = "/docs/assets/"  # Swagger UI's own files (public code, no data): no token
JSON_TYPES = ("application/json",)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLOSE = {"Connection": "close"}  # the rest of the body is not read: end the connection
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


def principal_of(scope_or_request: Any) -> Principal:
    """The authenticated caller of a request (set by ServiceMiddleware)."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    principal: Principal = scope["state"]["principal"]
    return principal


def _token(scope: Scope) -> tuple[str | None, str | None]:
    """(token, scheme of an Authorization header that is not Bearer)."""
    bearer = api_key = other = None
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                bearer = credentials.strip()
            elif scheme.lower() != "bearer":
                other = scheme
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
    return bearer or api_key, other


def _media_type(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return None


class ServiceMiddleware:
    """Authenticate (401), apply the token's limits (429) and the body limit (413); count and
    time every request."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.metrics = service.metrics
        self.max_body_bytes = service.settings.max_body_bytes
        self.body_timeout = service.settings.body_timeout
        self.public = PUBLIC_PATHS | (DOCS_PATHS if service.settings.public_docs else set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        # a request's time budget counts from here (POST /v1/solve: reading and checking the
        # body, waiting for a solver, solving, answering)
        scope.setdefault("state", {})["received"] = start
        status = [500]
        limit = self.max_body_bytes
        owner: str | None = None
        entered = False
        method = scope.get("method", "")
        if method == "HEAD":  # every GET route answers HEAD: the same headers, no body
            scope = {**scope, "method": "GET"}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                elapsed = f"app;dur={(time.perf_counter() - start) * 1000:.2f}".encode()
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS,
                                      (b"server-timing", elapsed)]
            elif message["type"] == "http.response.body" and method == "HEAD":
                message = {**message, "body": b""}
            await send(message)

        try:
            try:
                path = scope["path"]
                if path not in self.public and not path.startswith(DOCS_ASSETS):
                    owner = self._authenticate(scope)
                refuse_repeated_parameters(scope.get("query_string", b""))
                media = _media_type(scope)
                has_body = scope.get("method") in ("POST", "PUT", "PATCH")
                if has_body and media is not None and not (
                    media in JSON_TYPES or media.endswith("+json")
                ):
                    raise ApiError(415, "unsupported_media_type", f"the body must be JSON "
                                   f"(Content-Type: application/json), got {media!r}")
                length = _content_length(scope)
                if length is not None and length > limit:
                    self.metrics.rejected.labels("body_too_large").inc()
                    raise ApiError(413, "body_too_large", f"request body too large: {length} "
                                   f"bytes, the limit is {limit}", headers=CLOSE)
                body = await self._read_body(receive, limit) if has_body else None
                scope["state"]["body"] = body  # for the words of a parse error (errors.py)
                if body:
                    _refuse_bytes_not_utf8(body)
                if body is not None and _SURROGATE_ESCAPE.search(body):
                    _refuse_lone_surrogates(body)
                if body:
                    refuse_repeated_keys(body)
                if owner is not None:  # a slot only once the body is complete
                    self._enter(owner)
                    entered = True
            except ApiError as error:
                await error.response()(scope, receive, send_wrapper)
                return
            except _Disconnected:
                status[0] = 499  # the client went away before its body was complete
                return
            await self.app(scope, receive if body is None else _replay(body, receive),
                           send_wrapper)
        finally:
            if entered and owner is not None:
                self.service.limiter.release(owner)
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or _route_label(scope["path"])
            verb = method if method in HTTP_METHODS else "other"  # labels bounded: any token
            self.metrics.requests.labels(verb, path, str(status[0])).inc()  # is a method to h11
            self.metrics.latency.labels(verb, path).observe(time.perf_counter() - start)

    async def _read_body(self, receive: Receive, limit: int) -> bytes:
        """The whole body within TRIAGE_BODY_TIMEOUT seconds (408 otherwise) and at most
        `limit` bytes (413), also when streamed without a Content-Length."""
        loop = asyncio.get_running_loop()
        timeout = self.body_timeout
        deadline = loop.time() + timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                self.metrics.rejected.labels("body_timeout").inc()
                raise ApiError(408, "body_timeout", f"request body not received within "
                               f"{timeout:g} s (TRIAGE_BODY_TIMEOUT)", headers=CLOSE) from None
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                self.metrics.rejected.labels("body_too_large").inc()
                raise ApiError(413, "body_too_large",
                               f"request body too large: the limit is {limit} bytes",
                               headers=CLOSE)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _authenticate(self, scope: Scope) -> str:
        """The caller's name, counted by its rate limit; raises a 401 or 429 ApiError."""
        token, other_scheme = _token(scope)
        principal = self.service.tokens.check(token)
        if principal is None:
            self.metrics.rejected.labels("unauthorized").inc()
            how = "send 'Authorization: Bearer <token>' or 'X-API-Key: <token>'"
            if token:
                message = "invalid API token"
            elif other_scheme:
                message = f"unsupported authorization scheme {other_scheme!r}: {how}"
            else:
                message = f"missing API token: {how}"
            raise ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})
        try:
            self.service.limiter.take(principal.name)
        except ApiError as exc:
            self.metrics.rejected.labels(exc.code).inc()
            raise
        scope.setdefault("state", {})["principal"] = principal
        return principal.name

    def _enter(self, owner: str) -> None:
        try:
            self.service.limiter.enter(owner)
        except ApiError as exc:
            self.metrics.rejected.labels(exc.code).inc()
            raise


def _refuse_bytes_not_utf8(body: bytes) -> None:
    """400 naming the first byte of a body that is neither UTF-8 nor UTF-16/32 JSON (Latin-1
    text from a spreadsheet, say): FastAPI only said "There was an error parsing the body"."""
    encoding = json.detect_encoding(body)
    if encoding not in ("utf-8", "utf-8-sig"):
        return  # UTF-16 or UTF-32, which json.loads reads
    skip = 3 if encoding == "utf-8-sig" else 0  # the byte order mark
    try:
        body[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = skip + exc.start
        raise ApiError(400, "malformed_json", f"malformed JSON in the request body: it is not "
                       f"UTF-8 text (byte 0x{body[at]:02x} at position {at}; send JSON encoded "
                       "as UTF-8)") from None


# a JSON escape of a UTF-16 surrogate (\\ud800-\\udfff); rare, so only then is the body walked
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(body: bytes) -> None:
    """422 naming every string (or key) of the body that holds a lone UTF-16 surrogate: such
    text cannot be stored or encoded as UTF-8. Malformed JSON is left to the route (400)."""
    try:
        data = json.loads(body)
    except ValueError:
        return
    fields = list(_surrogate_paths(data, ""))
    if fields:
        problems = [{"field": f or None, "message": f"{f or 'body'}: a lone UTF-16 surrogate "
                     "(\\ud800-\\udfff without its pair) is not text"} for f in fields[:20]]
        raise ApiError(422, "invalid_input", str(problems[0]["message"]) + (
            f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""), problems=problems)


def _surrogate_paths(value: Any, path: str) -> Iterator[str]:
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                yield where
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                child_path = f"{where}.{key}" if where else str(key)
                if _has_lone_surrogate(key):
                    yield f"{where}.<key>" if where else "<key>"
                stack.append((child, child_path))
        elif isinstance(item, list):
            for i in range(len(item) - 1, -1, -1):
                stack.append((item[i], f"{where}[{i}]"))


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _Disconnected(Exception):
    """The client closed the connection before its body was complete."""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that gives the body already read, then waits for the disconnect."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


KNOWN_PATHS = frozenset({"/v1/solve", "/v1/jobs", "/v1/health", "/v1/ready", "/metrics",
                         *DOCS_PATHS})


def _route_label(path: str) -> str:
    """The metrics label of a request refused before routing (401, 413, 415, 429): its route
    template when it names one, so refusals count against the route they were aimed at; a
    bounded set of labels whatever clients send."""
    if path in KNOWN_PATHS:
        return path
    if path.startswith("/v1/jobs/") and "/" not in path[len("/v1/jobs/"):]:
        return "/v1/jobs/{job_id}"
    return "unmatched"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
