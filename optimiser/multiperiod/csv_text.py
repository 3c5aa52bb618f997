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


def simple(frame: pd.DataFrame) -> bool:
    """Whether `frame_csv` writes `frame` itself: every column float64, one level of string
    labels (none empty, none the CSV writer would quote), the index's name a plain string or
    None."""
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        return False
    if isinstance(frame.index, pd.MultiIndex) or isinstance(frame.columns, pd.MultiIndex):
        return False
    if not all(dtype == np.float64 for dtype in frame.dtypes):
        return False
    name = frame.index.name
    if name is not None and not _plain(name):
        return False
    return all(_plain(x) for x in frame.index) and all(_plain(x) for x in frame.columns)


def frame_csv(frame: pd.DataFrame) -> str:
    """`frame.to_csv(lineterminator="\\n")`, built from the non-empty cells when `simple`."""
    if not simple(frame):
        return frame.to_csv(lineterminator="\n")
    values = frame.to_numpy(dtype=np.float64)
    rows, cols = np.nonzero(~np.isnan(values))
    # what pandas writes for a float cell without float_format: numpy's str of it
    cells = values[rows, cols].astype(str).tolist()
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
