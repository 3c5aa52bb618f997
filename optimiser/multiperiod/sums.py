"""Sums over a plan's rows, made at once and in the rows' order (track pyrest).

The extraction (extract.py) adds each movement and admission of a plan into per region-day
tables. Adding them one row at a time in Python cost 0.1-0.2 CPU-s at 1,000 regions x 90 days;
`np.add.at` adds unbuffered, index by index in the order given, so each cell receives the same
additions in the same order as the row-by-row loop did and every sum is the same float, bit for
bit (tests/test_pyrest_sums.py compares them with that loop on random rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def add_in_order(
    target: np.ndarray, rows: np.ndarray, cols: np.ndarray, values: np.ndarray
) -> None:
    """`target[rows[i], cols[i]] += values[i]` for i = 0, 1, ... in that order."""
    np.add.at(target, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)), values)


def add_ranges(
    target: np.ndarray, rows: np.ndarray, start: np.ndarray, stop: np.ndarray, values: np.ndarray
) -> None:
    """`target[rows[i], start[i]:stop[i]] += values[i]` for i = 0, 1, ... in that order (a
    slice past the last column is cut there, as Python's is)."""
    rows = np.asarray(rows, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    stop = np.asarray(stop, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    if len(start) and (start.min() < 0 or stop.min() < 0):  # slices from the end: one by one
        for r, a, b, v in zip(rows, start, stop, values, strict=True):
            target[r, a:b] += v
        return
    width = target.shape[1]
    count = np.maximum(np.minimum(stop, width) - np.minimum(start, width), 0)
    owner = np.repeat(np.arange(len(rows)), count)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    np.add.at(target, (rows[owner], start[owner] + offset), values[owner])


@dataclass(frozen=True)
class Moves:
    """A movement table's rows (kind, day, src, dst, units, arrives) as arrays, in its order:
    the regions by their index (-1: not a region, a depot), and a mask per kind."""

    ship: np.ndarray
    transfer: np.ndarray
    patients: np.ndarray
    day: np.ndarray
    arrives: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    units: np.ndarray

    @property
    def unit(self) -> np.ndarray:
        """Rows moving units: shipments and transfers."""
        return self.ship | self.transfer

    @classmethod
    def of(cls, movement: pd.DataFrame, regions: list[str]) -> Moves:
        kind = movement["kind"].to_numpy(dtype=object)
        index = pd.Index(regions)
        src = index.get_indexer(pd.Index(movement["src"].to_numpy(dtype=object)))
        dst = index.get_indexer(pd.Index(movement["dst"].to_numpy(dtype=object)))
        out = cls(
            ship=kind == "ship",
            transfer=kind == "transfer",
            patients=kind == "patients",
            day=movement["day"].to_numpy(dtype=np.int64),
            arrives=movement["arrives"].to_numpy(dtype=np.int64),
            src=src.astype(np.int64),
            dst=dst.astype(np.int64),
            units=movement["units"].to_numpy(dtype=float),
        )
        # a row naming no region where one is read: the error the lookup by name raised
        for where, names, column in (
            (out.unit | out.patients, dst, "dst"),
            (out.transfer | out.patients, src, "src"),
        ):
            missing = np.flatnonzero(where & (names < 0))
            if len(missing):
                raise KeyError(movement[column].to_numpy(dtype=object)[missing[0]])
        return out
