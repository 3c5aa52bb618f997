"""The text `DataFrame.to_csv(lineterminator="\\n")` writes for a frame, without pandas's
per-cell work where that text is simple to build (issue 12, track growth4).

The multi-period instance's fingerprint (instance.py) hashes its tables' CSV text. One of them,
the region x region lead-time table, has n^2 cells, nearly all empty (lanes only to each
region's nearest): 2.6 million cells at 1,600 regions, 0.58 CPU-s in pandas's `to_csv`, part of
every plan's time (the engine hashes the instance once) and growing as n^2. `frame_csv` writes
the same text from the frame's non-empty cells: byte for byte pandas's (tests/test_growth4_*
compare the two on many frames), so every fingerprint is unchanged. Frames it does not handle
plainly (other dtypes, labels the CSV writer would quote) go to pandas as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_SPECIAL = (",", '"', "\n", "\r")  # a label holding one is quoted by the CSV writer


def _plain(label: object) -> bool:
    return isinstance(label, str) and label != "" and not any(c in label for c in _SPECIAL)


def _whole(label: object) -> bool:
    return isinstance(label, int | np.integer) and not isinstance(label, bool | np.bool_)


def simple(frame: pd.DataFrame, *, day_columns: bool = False) -> bool:
    """Whether `frame_csv` writes `frame` itself: every column float64, one level of string
    labels (none empty, none the CSV writer would quote), the index's name a plain string or
    None. `day_columns`: columns labelled by whole numbers too (the regions x days tables:
    the CSV writer writes them as `str` does; track pyrest)."""
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        return False
    if isinstance(frame.index, pd.MultiIndex) or isinstance(frame.columns, pd.MultiIndex):
        return False
    if not all(dtype == np.float64 for dtype in frame.dtypes):
        return False
    name = frame.index.name
    if name is not None and not _plain(name):
        return False
    if not all(_plain(x) for x in frame.index):
        return False
    if day_columns and all(_whole(x) for x in frame.columns):
        return True
    return all(_plain(x) for x in frame.columns)


# whole numbers below this are written "<int>.0" by numpy's str (positional up to 1e16)
_WHOLE_TEXT = 1e15


def float_texts(cells: np.ndarray) -> list[str]:
    """What pandas writes for float cells without float_format: numpy's str of each,
    `cells.astype(str).tolist()`; whole numbers (but -0.0) formatted from ints, 3.5x faster
    (the regions x days tables hold whole numbers of patients and units; track pyrest)."""
    cells = np.asarray(cells, dtype=np.float64)
    whole = (np.abs(cells) < _WHOLE_TEXT) & (cells == np.trunc(cells))
    whole &= ~((cells == 0.0) & np.signbit(cells))
    out = [f"{i}.0" for i in np.where(whole, cells, 0.0).astype(np.int64).tolist()]
    other = np.flatnonzero(~whole)
    for i, text in zip(other.tolist(), cells[other].astype(str).tolist(), strict=True):
        out[i] = text
    return out


def frame_csv(frame: pd.DataFrame) -> str:
    """`frame.to_csv(lineterminator="\\n")`, built from the non-empty cells when `simple`
    (whole-number column labels, the days, included)."""
    if not simple(frame, day_columns=True):
        return frame.to_csv(lineterminator="\n")
    values = frame.to_numpy(dtype=np.float64)
    rows, cols = np.nonzero(~np.isnan(values))
    cells = float_texts(values[rows, cols])
    starts = np.searchsorted(rows, np.arange(values.shape[0] + 1)).tolist()
    columns = cols.tolist()
    width = values.shape[1]
    name = frame.index.name
    lines = [",".join(["" if name is None else str(name), *map(str, frame.columns)])]
    for i, label in enumerate(frame.index):
        a, b = starts[i], starts[i + 1]
        if b - a == width:
            lines.append(f"{label},{','.join(cells[a:b])}")
            continue
        parts = [str(label)]
        last = -1
        for j in range(a, b):
            parts.append("," * (columns[j] - last))
            parts.append(cells[j])
            last = columns[j]
        parts.append("," * (width - 1 - last))
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def _column_texts(column: pd.Series | pd.Index) -> list[str] | None:
    """The cells pandas's CSV writer writes for a float64, int64 or string column (missing:
    empty), or None for another dtype or a string the writer would quote."""
    dtype = column.dtype
    if dtype == np.float64:
        values = column.to_numpy(dtype=np.float64)
        missing = np.isnan(values)
        # each distinct value (by its bits: 0.0 and -0.0 apart) formatted once
        at, distinct = pd.factorize(np.where(missing, 0.0, values).view(np.int64))
        texts = np.array(float_texts(distinct.view(np.float64)), dtype=object)[at].tolist()
        for i in np.flatnonzero(missing).tolist():
            texts[i] = ""
        return texts
    if dtype == np.int64:
        at, distinct = pd.factorize(column.to_numpy(dtype=np.int64))
        return np.array(list(map(str, distinct.tolist())), dtype=object)[at].tolist()
    if not isinstance(dtype, pd.StringDtype):
        return None
    missing = np.asarray(column.isna(), dtype=bool)
    cells = column.to_numpy(dtype=object)
    if missing.any():
        cells = np.where(missing, "", cells)
    strings: list[str] = cells.tolist()
    joined = "".join(strings)
    if any(c in joined for c in _SPECIAL):
        return None
    return strings


def table_csv(frame: pd.DataFrame, *, index: bool) -> str:
    """`frame.to_csv(index=index, lineterminator="\\n")`, built column by column (no per-cell
    work in pandas: daily.csv of a 1,000 x 90 plan was 0.6 CPU-s) when every column (and the
    index, when written) is float64, int64 or strings the writer leaves unquoted, labelled by
    plain strings; otherwise pandas's own text (tests/test_pyrest2_csv.py compare the two)."""
    labels: list[object] = list(frame.columns)
    parts: list[pd.Series | pd.Index] = [frame.iloc[:, j] for j in range(frame.shape[1])]
    if index:
        name = frame.index.name
        if isinstance(frame.index, pd.MultiIndex) or not (name is None or _plain(name)):
            return frame.to_csv(index=index, lineterminator="\n")
        labels.insert(0, "" if name is None else name)
        parts.insert(0, frame.index)
    columns = [] if len(labels) < 2 or not len(frame) else [_column_texts(c) for c in parts]
    if (
        not columns
        or not all(_plain(x) or (i == 0 and index and x == "") for i, x in enumerate(labels))
        or any(c is None for c in columns)
    ):
        return frame.to_csv(index=index, lineterminator="\n")
    lines = [",".join(map(str, labels))]
    lines.extend(map(",".join, zip(*columns, strict=True)))
    lines.append("")
    return "\n".join(lines)
