"""Values as every result's JSON writes them (the one place non-finite numbers are encoded).

JSON has no NaN or +-inf: `json.dumps(..., allow_nan=False)` refuses them, and what Python
writes without that flag (`NaN`, `Infinity`) is not JSON to any other reader. A solver
produces them where it has no figure: a dual bound not proven before a time limit is +-inf,
a gap with no incumbent is inf, an unlimited staff cap is inf, an empty mean is NaN. Every
result writes them as null ("no finite figure"), numpy scalars as Python ones, and floats
rounded to 9 decimals (below any precision a solver proves); what the user gave (settings,
a policy, a generator's parameters) is kept to the last bit (digits=None). `from_dict` reads
null back as None (or NaN in a numeric table).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DIGITS = 9


def json_number(value: Any, digits: int | None = DIGITS) -> Any:
    """One scalar, JSON-ready: NaN, +-inf and pandas' NA are None, numpy scalars are Python
    ones, floats are rounded to `digits` (None: kept to the last bit); anything else (str,
    int, bool, None) as it is."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, bytes):
        try:
            value = value.item()  # a numpy scalar (an array of more than one: json_ready)
        except (ValueError, TypeError):
            return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return value if digits is None else round(value, digits)
    if value.__class__.__name__ == "NAType":  # pd.NA (no pandas import here: start-up time)
        return None
    return value


def json_ready(value: Any, digits: int | None = DIGITS) -> Any:
    """A free-form table (solver info, model size, settings, info: nested mappings, lists and
    scalars), JSON-ready all the way down: keys as str, each scalar by json_number, numpy
    arrays as lists. Objects JSON cannot write (a date, a path) are left for the caller."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v, digits) for k, v in value.items()}
    if isinstance(value, set | frozenset):  # in a stable order
        return [json_ready(v, digits) for v in sorted(value, key=str)]
    if isinstance(value, list | tuple):
        return [json_ready(v, digits) for v in value]
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:  # a numpy array
        return json_ready(value.tolist(), digits)
    return json_number(value, digits)


__all__ = ["DIGITS", "json_number", "json_ready"]
