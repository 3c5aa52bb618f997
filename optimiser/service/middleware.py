"""ASGI middleware: authentication, per-token limits, body size limit, metrics, headers.

Written against raw ASGI (not BaseHTTPMiddleware) so that it adds microseconds, not
milliseconds, to each request. A request is authenticated and admitted by the token's rate and
concurrency limits *before* its body is read, so an unauthenticated client cannot make the
server parse anything.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optimiser.service.auth import Principal
from optimiser.service.errors import ApiError

if TYPE_CHECKING:
    from optimiser.service.core import Service

PUBLIC_PATHS = frozenset({"/v1/health", "/v1/ready"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json"})
DOCS_ASSETS = "/docs/assets/"  # Swagger UI's own files (public code, no data): no token
JSON_TYPES = ("application/json",)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {limit} bytes")


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
        self.public = PUBLIC_PATHS | (DOCS_PATHS if service.settings.public_docs else set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        limit = self.max_body_bytes
        owner: str | None = None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                elapsed = f"app;dur={(time.perf_counter() - start) * 1000:.2f}".encode()
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS,
                                      (b"server-timing", elapsed)]
            await send(message)

        try:
            try:
                path = scope["path"]
                if path not in self.public and not path.startswith(DOCS_ASSETS):
                    owner = self._admit(scope)
                media = _media_type(scope)
                if scope.get("method") in ("POST", "PUT", "PATCH") and media is not None and not (
                    media in JSON_TYPES or media.endswith("+json")
                ):
                    raise ApiError(415, "unsupported_media_type", f"the body must be JSON "
                                   f"(Content-Type: application/json), got {media!r}")
                length = _content_length(scope)
                if length is not None and length > limit:
                    self.metrics.rejected.inc("body_too_large")
                    raise ApiError(413, "body_too_large", f"request body too large: {length} "
                                   f"bytes, the limit is {limit}")
            except ApiError as error:
                await error.response()(scope, receive, send_wrapper)
                return
            received = [0]

            async def receive_limited() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    received[0] += len(message.get("body", b""))
                    if received[0] > limit:
                        self.metrics.rejected.inc("body_too_large")
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, receive_limited, send_wrapper)
        finally:
            if owner is not None:
                self.service.limiter.release(owner)
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or _route_label(scope["path"])
            method = scope.get("method", "")
            self.metrics.requests.inc(method, path, str(status[0]))
            self.metrics.latency.observe(time.perf_counter() - start, method, path)

    def _admit(self, scope: Scope) -> str:
        """The caller's name, counted in by its limits; raises a 401 or 429 ApiError."""
        token, other_scheme = _token(scope)
        principal = self.service.tokens.check(token)
        if principal is None:
            self.metrics.rejected.inc("unauthorized")
            how = "send 'Authorization: Bearer <token>' or 'X-API-Key: <token>'"
            if token:
                message = "invalid API token"
            elif other_scheme:
                message = f"unsupported authorization scheme {other_scheme!r}: {how}"
            else:
                message = f"missing API token: {how}"
            raise ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})
        try:
            self.service.limiter.admit(principal.name)
        except ApiError as exc:
            self.metrics.rejected.inc(exc.code)
            raise
        scope.setdefault("state", {})["principal"] = principal
        return principal.name


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
