"""Track pyrest: texts written at once are the ones written cell by cell: plan.csv's units and
cohort days (plan_io.number_texts, day_texts), the fingerprint's CSV of float cells and of the
regions x days tables (csv_text.float_texts, frame_csv with day columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimiser.multiperiod.csv_text import float_texts, frame_csv, simple
from optimiser.multiperiod.plan_io import _number, day_texts, number_texts

POOL = np.array(
    [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 0.1, 1e-7, 1 / 3, 2.5, 123456789.0, 1e15, -1e15, 1e16,
     9007199254740992.0, 2.0**53 - 1, 1e20, -7.0, 3.000000001, np.inf, -np.inf]
)  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_number_texts_is_number_cell_by_cell(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.choice(POOL[np.isfinite(POOL)], 200), rng.normal(0, 50, 50)])
    some = rng.random(len(values)) < 0.3
    values[some] = np.round(values[some])
    assert number_texts(values) == [_number(v) for v in values]


def test_number_texts_edge_cases() -> None:
    assert number_texts(np.zeros(0)) == []
    assert number_texts(np.array([-0.0, 5.0, 0.25])) == ["0", "5", "0.25"]
    assert number_texts(pd.Series([1.0, 2.5], dtype=object).to_numpy()) == ["1", "2.5"]
    for bad in (np.nan, np.inf):  # the cell-by-cell form's own error, kept
        with pytest.raises((ValueError, OverflowError)):
            number_texts(np.array([1.0, bad]))


def test_day_texts_is_the_list_it_replaces() -> None:
    days = np.array([np.nan, 0.0, 3.0, -1.0, 89.0, np.nan, 1e17, -0.0])
    assert day_texts(days) == ["" if np.isnan(c) else str(int(c)) for c in days]
    assert day_texts(np.zeros(0)) == []
    with pytest.raises(OverflowError):
        day_texts(np.array([np.inf]))


@pytest.mark.parametrize("seed", range(6))
def test_float_texts_is_numpys_str(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cells = np.concatenate([rng.choice(POOL, 300), rng.normal(0, 1e6, 100), [np.nan]])
    assert float_texts(cells) == cells.astype(str).tolist()
    assert float_texts(np.zeros(0)) == []


def day_table(values: np.ndarray, name: str | None = "region") -> pd.DataFrame:
    index = pd.Index([f"R{i:03d}" for i in range(values.shape[0])], name=name)
    return pd.DataFrame(values, index=index, columns=range(values.shape[1]))


@pytest.mark.parametrize("seed", range(8))
def test_frame_csv_with_day_columns_is_pandas_text(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 30)), int(rng.integers(1, 30)))
    values = rng.choice(POOL, size=shape)
    values[rng.random(shape) < [0.0, 0.1, 0.6, 1.0][seed % 4]] = np.nan
    frame = day_table(values, name=None if seed % 3 == 0 else "region")
    assert simple(frame, day_columns=True) and not simple(frame)
    assert frame_csv(frame) == frame.to_csv(lineterminator="\n")


@pytest.mark.parametrize(
    "columns",
    [
        [0, "a"],  # mixed labels
        [True, False],  # booleans are not days
        [0.0, 1.0],  # float labels
    ],
)
def test_other_labels_still_go_to_pandas(columns: list[object]) -> None:
    frame = pd.DataFrame([[1.0, 2.0]], index=["x"], columns=columns)
    assert not simple(frame, day_columns=True)
    assert frame_csv(frame) == frame.to_csv(lineterminator="\n")
