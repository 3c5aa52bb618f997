"""MatrixHighsModel.set_cost passes HiGHS only the costs that changed: HiGHS must hold exactly
the last vector given (after added columns, unchanged and -0.0 entries too), and re-solves must
give what a model given the whole vector at once gives."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus


def _model(matrix: sp.csc_matrix) -> MatrixHighsModel:
    rows, cols = matrix.shape
    return MatrixHighsModel(
        np.zeros(cols),
        np.full(cols, 5.0),
        matrix,
        np.full(rows, -np.inf),
        np.ones(rows) * 3,
        np.zeros(cols, dtype=np.int8),
        SolverOptions(),
    )


def _held(model: MatrixHighsModel) -> np.ndarray:
    return np.asarray(model.highs.getLp().col_cost_, dtype=float)


def test_held_costs_follow_every_change() -> None:
    rng = np.random.default_rng(1)
    matrix = sp.random(40, 60, density=0.2, random_state=2, format="csc")
    model = _model(matrix)
    extra = sp.random(40, 7, density=0.3, random_state=3, format="csc")
    costs = [rng.random(60), np.zeros(60), -np.zeros(60)]
    for cost in costs:
        model.set_cost(cost, maximize=True)
        assert np.array_equal(_held(model), cost)
    partly = costs[0].copy()
    partly[::3] = 0.0
    model.set_cost(partly, maximize=True)
    assert np.array_equal(_held(model), partly)
    model.add_columns(np.full(7, 0.5), np.zeros(7), np.ones(7), extra)
    longer = np.concatenate([partly, rng.random(7)])
    model.set_cost(longer, maximize=False)
    assert np.array_equal(_held(model), longer)
    model.set_cost(longer, maximize=True)  # nothing changed: the same vector stays
    assert np.array_equal(_held(model), longer)


def test_resolves_match_a_fresh_model() -> None:
    rng = np.random.default_rng(4)
    matrix = sp.random(80, 120, density=0.1, random_state=5, format="csc")
    model = _model(matrix)
    for step in range(4):
        cost = rng.random(120)
        cost[rng.random(120) < 0.5] = 0.0 if step % 2 else 1.0
        model.set_cost(cost, maximize=True)
        run = model.solve()
        fresh = _model(matrix)
        fresh.set_cost(cost, maximize=True)
        expected = fresh.solve()
        assert run.status is SolveStatus.OPTIMAL and expected.status is SolveStatus.OPTIMAL
        assert run.objective is not None and expected.objective is not None
        assert abs(run.objective - expected.objective) <= 1e-9 * max(1.0, abs(expected.objective))


def test_deleted_columns_take_their_costs_with_them() -> None:
    """delete_columns (column retirement, colgen_manage.py): the model's column count and the
    costs it holds follow HiGHS, so a later set_cost that passes only changed entries leaves
    HiGHS with exactly the vector given, and the re-solve equals a model built without them."""
    rng = np.random.default_rng(4)
    matrix = sp.random(30, 50, density=0.25, random_state=5, format="csc")
    model = _model(matrix)
    first = rng.random(50)
    model.set_cost(first, maximize=True)
    model.solve()
    gone = np.array([0, 7, 8, 31, 49])
    model.delete_columns(gone)
    keep = np.setdiff1d(np.arange(50), gone)
    assert model.num_cols == 45 == model.highs.getNumCol()
    assert np.array_equal(_held(model), first[keep])
    second = first[keep].copy()
    second[::4] += 1.0
    model.set_cost(second, maximize=True)
    assert np.array_equal(_held(model), second)
    again = model.solve()
    fresh = _model(matrix[:, keep].tocsc())
    fresh.set_cost(second, maximize=True)
    alone = fresh.solve()
    assert again.status is SolveStatus.OPTIMAL and alone.status is SolveStatus.OPTIMAL
    assert abs(again.objective - alone.objective) <= 1e-9 * max(1.0, abs(alone.objective))
