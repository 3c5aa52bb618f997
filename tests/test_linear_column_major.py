"""finish_in_order's entry order: one stable argsort of a combined key must give exactly the
permutation np.lexsort((rows, cols)) gives (column, then row, ties in input order), which the
planner's model arrays and so its answers depend on."""

from __future__ import annotations

import numpy as np
import pytest

from models.linear import _column_major


@pytest.mark.parametrize("seed", range(5))
def test_same_permutation_as_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 5_000))
    rows = rng.integers(0, 50, size)  # few distinct values: many repeated (row, column) pairs
    cols = rng.integers(0, 80, size)
    assert np.array_equal(_column_major(rows, cols), np.lexsort((rows, cols)))


def test_empty_and_fallback_paths() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert len(_column_major(empty, empty)) == 0
    rows = np.array([3, -1, 3, 0])  # negative: the key would not order; lexsort is used
    cols = np.array([1, 1, 0, 1])
    assert np.array_equal(_column_major(rows, cols), np.lexsort((rows, cols)))
    big = np.array([2**40, 0, 2**40])  # the combined key would overflow int64
    assert np.array_equal(_column_major(big, big[::-1].copy()), np.lexsort((big, big[::-1])))
