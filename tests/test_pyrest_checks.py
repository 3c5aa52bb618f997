"""Track pyrest: the cleanup's waiting groups from a table of each group's own days
(methods/cleanup.py, `_waiting_days`) are those of the groups x horizon table it replaces; the
window LPs' reduced costs from one product of A^T are those of the candidates' rows sliced
first; a table's row checks say the same with or without bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from models.multiperiod import PlanModel
from optimiser.errors import Problem
from optimiser.multiperiod import GeneratorSpec, generate, load_multiperiod
from optimiser.multiperiod import colgen_window as W
from optimiser.multiperiod.engine import PlanEngine
from optimiser.multiperiod.methods.cleanup import WAIT_TOL, _waiting_days
from optimiser.multiperiod.row_checks import _lines, _report_rows, numbers


def dense_waiting_days(p: PlanModel, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The groups x T form `_idle_caps` had before track pyrest (reference)."""
    d = p.data
    T, G = d.days, len(d.group_size)
    served = np.zeros((G, T))
    np.add.at(served, (p.admit.group, p.admit.day), x0[p.admit.cols])
    np.add.at(served, (p.send.group, p.send.day), x0[p.send.cols])
    waiting = d.group_size[:, None] - np.cumsum(served, axis=1)
    days = np.arange(T)
    open_days = (days >= d.group_first[:, None]) & (days <= d.group_last[:, None])
    return np.nonzero(open_days & (waiting > WAIT_TOL))


@pytest.fixture(scope="module", params=[0, 2])
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PlanModel:
    spec = GeneratorSpec(regions=7, days=16, depots=2, seed=44)
    folder = generate(spec, tmp_path_factory.mktemp("pyrest") / "g")
    inst = load_multiperiod(folder).with_settings(
        max_wait_days=request.param, patient_transfers=bool(request.param)
    )
    return PlanEngine(inst, []).model


@pytest.mark.parametrize("seed", range(6))
def test_waiting_days_are_the_dense_tables(model: PlanModel, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x0 = np.zeros(model.shape[1])
    size = model.data.group_size
    for fam in (model.admit, model.send):
        # some groups served whole, some partly, some not at all; awkward fractions
        share = rng.choice([0.0, 0.1, 1 / 3, 0.5, 1.0], len(fam.cols))
        x0[fam.cols] = size[fam.group] * share / 2
    group, day = _waiting_days(model, x0)
    ref_group, ref_day = dense_waiting_days(model, x0)
    assert len(group) and np.array_equal(group, ref_group) and np.array_equal(day, ref_day)
    x0[model.admit.cols] = model.col_upper[model.admit.cols]  # everyone admitted: none waits
    group, day = _waiting_days(model, x0)
    ref_group, ref_day = dense_waiting_days(model, x0)
    assert np.array_equal(group, ref_group) and np.array_equal(day, ref_day)


def test_reduced_costs_from_one_product_are_the_sliced_ones(model: PlanModel) -> None:
    day, _ = W.column_days(model)
    cols = np.flatnonzero(day < 8)
    window = sp.csc_matrix(model.matrix[:, cols])
    transposed = window.T.tocsr()
    rng = np.random.default_rng(3)
    cost = rng.normal(size=len(cols))
    for _ in range(5):
        y = rng.normal(size=window.shape[0]) * rng.choice([1e-3, 1.0, 1e3], window.shape[0])
        pick = np.sort(rng.choice(len(cols), len(cols) // 3, replace=False))
        sliced = cost[pick] - transposed[pick] @ y
        assert (cost - transposed @ y)[pick].tobytes() == sliced.tobytes()


def test_report_rows_without_bad_rows_reads_nothing() -> None:
    frame = pd.DataFrame({"units": ["1", "x", " 2 "]})
    frame.attrs.update(file="t.csv", lines=np.array([4, 7, 9]))
    problems: list[Problem] = []
    _report_rows(frame, np.zeros(3, dtype=bool), "absent column", str, problems)
    assert problems == []
    values = numbers(frame, "units", problems)
    assert np.isnan(values[1]) and values[2] == 2.0
    assert [(p.line, p.column) for p in problems] == [(7, "units")]
    assert _lines(frame).tolist() == [4, 7, 9]
    assert _lines(pd.DataFrame({"a": [1, 2]})).tolist() == [2, 3]  # no attrs: header line 1
