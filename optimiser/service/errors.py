"""JSON errors: every failure is {"error": {...}} naming the field at fault, never a traceback.

Input problems carry the engine's own messages (the CLI prints the same text) plus `field`, a
pointer into the request body such as `regions[2].population` or `options.constraints[0]`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from optimiser.errors import InputError, Problem, counted

log = logging.getLogger("optimiser.service")

_FIELD_PREFIX = re.compile(r"^field '([^']+)': ")
_CONSTRAINT_PREFIX = re.compile(r"^(constraints\[\d+\]): (?:parameter '([^']+)')?")
# Row tables of a request, by the file name the engine reports: a problem at row N (1-based)
# points to <table>[N-1].
_ROW_TABLES = {
    "regions": "regions",
    "tiers": "tiers",
    "demand.csv": "demand",
    "deliveries.csv": "deliveries",
    "lead_times.csv": "lead_times",
    "capacity.csv": "capacity",
}
_JOB_KINDS = (
    "solve", "plan", "bedside", "bedside_compare", "stochastic_plan", "backtest", "saa",
)


class ApiError(Exception):
    """An answer other than 2xx, as JSON: status, code, message and optional problems."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        problems: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems or []
        self.headers = dict(headers or {})

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.problems:
            body["problems"] = self.problems
        return {"error": body}

    def response(self) -> JSONResponse:
        return JSONResponse(self.payload(), status_code=self.status, headers=self.headers)


# A job id is 32 hex digits (store.py); a path may carry anything up to the server's request
# line limit: an error message quotes at most this many characters of it
MAX_ID_SHOWN = 64


def no_job(job_id: str) -> ApiError:
    """The 404 of a job id that is not the caller's: the id quoted (repr: control characters
    escaped), a long one cut to MAX_ID_SHOWN characters and its length said."""
    shown = repr(job_id[:MAX_ID_SHOWN])
    if len(job_id) > MAX_ID_SHOWN:
        shown += f"... ({len(job_id):,} characters)"
    return ApiError(404, "not_found", f"no job {shown} for this token")


def problem_field(problem: Problem, prefix: str = "") -> str | None:
    """Where in the request body a Problem points (a JSON path), or None if nowhere."""
    field: str | None = None
    match = _FIELD_PREFIX.match(problem.message)
    constraint = _CONSTRAINT_PREFIX.match(problem.message)
    if problem.file in _ROW_TABLES:
        field = _ROW_TABLES[problem.file]
        if problem.line is not None:
            field += f"[{problem.line - 1}]"
        if problem.column:
            field += f".{problem.column}"
    elif match:
        field = match.group(1)
    elif constraint:
        field = constraint.group(1)
        if constraint.group(2):
            field += f".{constraint.group(2)}"
    elif problem.column:
        field = problem.column
    if field is not None and prefix:
        field = f"{prefix}.{field}" if not field.startswith("[") else prefix + field
    return field


# Location words of the CLI's messages, stripped from the service's (the JSON path says where)
_LEADS = (
    re.compile(r"^field '[^']+': "),
    re.compile(r"^(?:options\.)?constraints\[\d+\]: (?:parameter '(?P<param>[^']+)' )?"),
    re.compile(r"^(?:--constraint|constraint) '[^']*': (?:parameter '(?P<param>[^']+)' )?"),
    re.compile(r"^(?:demand|deliveries|lead_times|capacity|regions|tiers)(?:\.csv)?: "),
)
_FILE_WORDS = (
    (re.compile(r"\b(regions|tiers|demand|deliveries|lead_times|capacity)\.csv\b"), r"\1"),
    (re.compile(r"\binstance\.toml\b"), "the instance"),
    (re.compile(r"\bcolumns\b"), "keys"),
    (re.compile(r"\bcolumn\b"), "key"),
    (re.compile(r"\bline (\d+)\b"), "row \\1"),
)


_FIRST_ON = re.compile(r"\(first on (?:line|row) (\d+)\)")
_ROW_PATH = re.compile(r"^(.*)\[\d+\]")


def first_at(text: str, field: str | None) -> str:
    """A duplicate's "(first on row 3)" (1-based, the CLI's words) as the JSON path of the
    first, "(first at regions[2])", beside a field that counts from 0 (`regions[3].region`)."""
    row = _ROW_PATH.match(field or "")
    if row is None:
        return text
    return _FIRST_ON.sub(lambda m: f"(first at {row.group(1)}[{int(m.group(1)) - 1}])", text)


def json_message(problem: Problem, field: str | None) -> tuple[str | None, str]:
    """(JSON path, message) of a Problem as the service says it: the path first, then what is
    wrong, without the CLI's file, line, column or flag words."""
    text = problem.message
    for lead in _LEADS:
        found = lead.match(text)
        if found:
            text = text[found.end():]
            param = found.groupdict().get("param")
            if param and field is not None and not field.endswith(f".{param}"):
                field = f"{field}.{param}"
            if param:
                text = text[0].lower() + text[1:] if text else text
            break
    text = first_at(text, field)
    for pattern, words in _FILE_WORDS:
        text = pattern.sub(words, text)
    if problem.region is not None and problem.region not in (field or "") and \
            f"'{problem.region}'" not in text:
        text += f" (region '{problem.region}')"
    return field, (f"{field}: {text}" if field else text)


def json_problem(problem: Problem, field: str | None) -> dict[str, Any]:
    """{"field", "message"[, "region"]} for a Problem at `field`."""
    field, message = json_message(problem, field)
    item: dict[str, Any] = {"field": field, "message": message}
    if problem.region is not None:
        item["region"] = problem.region
    return item


def problems_json(problems: Iterable[Problem], prefix: str = "", field: str | None = None) -> list[
    dict[str, Any]
]:
    """[{"field": ..., "message": ...}, ...]; `field` overrides the pointer."""
    return [json_problem(p, field if field is not None else problem_field(p, prefix))
            for p in problems]


def summary_of(items: list[dict[str, Any]]) -> str:
    first = str(items[0]["message"]) if items else "invalid input"
    more = len(items) - 1
    return first if more <= 0 else f"{first} (and {counted(more, 'more problem')})"


def input_error(exc: InputError, prefix: str = "", field: str | None = None) -> ApiError:
    items = problems_json(exc.problems, prefix, field)
    return ApiError(422, "invalid_input", summary_of(items), problems=items)


def _loc_to_field(loc: Iterable[Any]) -> str:
    items = list(loc)
    if len(items) > 2 and items[0] == "body" and items[1] in _JOB_KINDS:
        del items[1]  # the tag pydantic adds for the job kind
    parts = [p for p in items if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def validation_error(exc: RequestValidationError) -> ApiError:
    """FastAPI/pydantic errors in our format; malformed JSON is a 400."""
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            loc = list(err.get("loc", ()))
            pos = loc[1] if len(loc) > 1 else "?"
            reason = ctx.get("error", "invalid JSON")
            return ApiError(
                400,
                "malformed_json",
                f"malformed JSON in the request body: {reason} (at character {pos})",
            )
    problems = []
    for err in errors:
        loc = list(err.get("loc", ()))
        field = _loc_to_field(loc)
        message = str(err.get("msg", "invalid"))
        if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            field = "kind"
            message = f"must be one of: {', '.join(_JOB_KINDS)}"
        elif err.get("type") == "missing" and loc == ["body"]:
            message = "a JSON object is required as the request body"
        elif err.get("type") in ("model_attributes_type", "dict_type") and loc == ["body"]:
            message = "the request body must be a JSON object (Content-Type: application/json)"
        problems.append({"field": field or None, "message": f"{field or 'body'}: {message}"})
    summary = str(problems[0]["message"]) if problems else "invalid request"
    if len(problems) > 1:
        more = len(problems) - 1
        summary += f" (and {counted(more, 'more problem')})"
    return ApiError(422, "invalid_input", summary, problems=problems)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def _leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The routes with methods, inside included routers too (routers are included without a
    prefix here, so a leaf route matches the request's path as it is)."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner is not None:
            yield from _leaf_routes(inner)
        else:
            yield route


def allowed_methods(request: Request) -> list[str]:
    """The methods of all routes whose path matches the request's (HEAD wherever GET is)."""

    methods: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)  # PARTIAL: the path matches, not the method
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def unparsable_body(request: Request) -> str:
    """Why json.loads failed on a body without a JSONDecodeError: nested too deeply for it, or
    a whole number longer than Python converts (sys.get_int_max_str_digits())."""
    import json
    import sys

    body = request.scope.get("state", {}).get("body")
    reason = "it could not be parsed"
    try:
        json.loads(body) if isinstance(body, bytes) else None
    except RecursionError:
        reason = "it is nested too deeply"
    except ValueError as exc:
        if "digits" in str(exc):
            reason = f"a whole number has more than {sys.get_int_max_str_digits():,} digits"
    return f"malformed JSON in the request body: {reason}"


def install_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on `app`."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error(exc).response()

    async def on_input(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InputError)
        return input_error(exc).response()

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        headers = dict(exc.headers or {})
        if status == 404 and detail == "Not Found":
            detail = "no such endpoint (see /docs)"
        if status == 405:  # every method of every route at this path, not just the first's
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"method {request.method} not allowed here; allowed: {', '.join(allowed)}"
        code = _HTTP_CODES.get(status, "error")
        if status == 400 and detail == "There was an error parsing the body":
            # FastAPI's words when json.loads itself fails, not with a JSONDecodeError
            code, detail = "malformed_json", unparsable_body(request)
        return ApiError(status, code, detail, headers=headers).response()

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return ApiError(
            500, "internal", f"internal error ({type(exc).__name__}); the server log has details"
        ).response()

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(InputError, on_input)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
