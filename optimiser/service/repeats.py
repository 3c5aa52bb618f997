"""Names given twice in a request: a key repeated in one JSON object, a query parameter
repeated in the query string. JSON readers (Python's, FastAPI's) keep the last value and the
query parser one of them, silently: `{"supply": 10, "supply": 5000}` would solve for 5,000
units. Both are refused (422 invalid_input, docs/service.md), naming the JSON path of the key
or the parameter (ServiceMiddleware calls these once the request is authenticated).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from optimiser.service.errors import ApiError, summary_of

MAX_LISTED = 20  # problems listed (then counted in the summary)
MAX_NAME = 64  # characters of a parameter's name quoted


class _Repeated(dict[str, Any]):
    """An object of the body that names keys more than once (`counts`: how many times)."""

    counts: dict[str, int]


def _refuse(problems: list[dict[str, Any]]) -> None:
    summary = summary_of(problems)  # the first and how many more (of all, not only those listed)
    raise ApiError(422, "invalid_input", summary, problems=problems[:MAX_LISTED])


def _short(name: str) -> str:
    return name if len(name) <= MAX_NAME else f"{name[:MAX_NAME]}..."


def refuse_repeated_parameters(query_string: bytes) -> None:
    """422 naming each query parameter given more than once (as Starlette reads the query)."""
    if not query_string or b"&" not in query_string:
        return
    names = [name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)]
    counts = Counter(names)
    repeated = [name for name in counts if counts[name] > 1]
    if not repeated:
        return
    problems = [
        {
            "field": _short(name),
            "message": f"{_short(name)}: given {counts[name]} times in the query string; give "
            "it once",
        }
        for name in repeated
    ]
    _refuse(problems)


def refuse_repeated_keys(body: bytes) -> None:
    """422 naming the JSON path of each key an object of `body` gives more than once. A body
    that is not JSON is left to the route (400 malformed_json)."""
    found = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        found = True
        repeated = _Repeated(obj)
        counts = Counter(key for key, _ in pairs)
        repeated.counts = {key: n for key, n in counts.items() if n > 1}
        return repeated

    try:
        data = json.loads(body, object_pairs_hook=pairs_hook)
    except (ValueError, RecursionError):
        return
    if not found:
        return
    paths = list(_repeated_paths(data))
    problems = [
        {
            "field": path,
            "message": f"{path}: the key is given {n} times in one object (JSON names each key "
            "once: only the last value would be read)",
        }
        for path, n in paths
    ]
    _refuse(problems)


def _repeated_paths(value: Any) -> Iterator[tuple[str, int]]:
    """(JSON path, times given) of every repeated key: an object's own before those inside
    it, then in the order of the body."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            if isinstance(item, _Repeated):
                for key, n in item.counts.items():
                    yield (f"{where}.{_short(key)}" if where else _short(key)), n
            for key, child in reversed(list(item.items())):
                stack.append((child, f"{where}.{_short(key)}" if where else _short(key)))
        elif isinstance(item, list):
            for i in range(len(item) - 1, -1, -1):
                stack.append((item[i], f"{where}[{i}]"))
