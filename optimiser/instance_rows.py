"""Tables given in Python or JSON (DataFrames, row objects) as text cells, so they are validated
exactly like a file's rows (optimiser/instance.py's `_build`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.instance_rules import TEXT_COLUMNS
from optimiser.textfiles import ProblemList, did_you_mean


def _rows_as_text(
    rows: Sequence[Mapping[str, Any]],
    name: str,
    allowed: Sequence[str],
    required: Sequence[str],
    problems: list[Problem],
) -> pd.DataFrame:
    """JSON row objects as a table of text cells: an unknown key is a problem of its row
    (`regions[3].regionz`), a missing key an empty cell (so a required one is reported)."""
    listed = ProblemList(problems, name)
    refused: set[tuple[int, str]] = set()  # cells named here: not "missing" again
    cleaned = []
    for i, row in enumerate(rows):
        kept: dict[str, Any] = {}
        for key, value in row.items():
            if key not in allowed:
                listed.add(Problem(
                    f"unknown key{did_you_mean(str(key), allowed)} (allowed: "
                    f"{', '.join(allowed)})",
                    file=name, line=i + 1, column=str(key), line_word="row"))
                continue
            reason = _json_type_problem(str(key), value)
            if reason:
                listed.add(Problem(reason, file=name, line=i + 1, column=str(key),
                                   line_word="row"))
                refused.add((i + 1, str(key)))
                continue
            kept[key] = value
        cleaned.append(kept)
    listed.close()
    rows = cleaned
    present = [c for c in allowed if c in required or any(c in row for row in rows)]
    frame = pd.DataFrame([{c: row.get(c) for c in present} for row in rows], columns=present)
    out = _frame_as_text(frame, name)
    out.attrs["refused"] = refused
    return out


def _json_type_problem(column: str, value: Any) -> str | None:
    """JSON types of row values: text columns take strings, the others numbers (a number
    written as a string, "9000", is refused as the schema says); null is an empty cell."""
    if value is None:
        return None
    if column in TEXT_COLUMNS:
        return None if isinstance(value, str) else f"must be a string, got {_short(value)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {_short(value)}"
    if isinstance(value, int) and abs(value) > 10**30:
        return "must be a number of at most 30 digits"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _frame_as_text(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A DataFrame given in Python, as text cells, so it is validated like a file."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(Problem(f"{name} must be a pandas DataFrame"))
    df = frame.reset_index() if frame.index.name == "region" else frame.copy()

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        return str(v)

    out = df.map(cell).astype(object)
    out.columns = [str(c) for c in out.columns]
    out.attrs["file"] = name
    out.attrs["lines"] = np.arange(1, len(out) + 1, dtype=np.int64)
    out.attrs["line_word"] = "row"
    return out
