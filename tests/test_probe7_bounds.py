"""Probe 7: no bound is reported that was not proven. Failed on main 5a0a2c9: a MIP run stopped
by its time limit with a feasible point and no dual bound yet (HiGHS's mip_dual_bound +inf) was
read as bound=inf, so `optimiser.solve` on 5,000 generated regions under threshold(tau=100)
with `time_limit=1` returned `lives_saved_bound == inf` (the JSON said null: the result did not
survive its own round trip). A guarded run that HiGHS has not finished already said None."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from optimiser import highs_model
from optimiser.solver import MatrixHighsModel, SolverOptions, SolveStatus


def test_a_run_stopped_before_any_dual_bound_reports_none() -> None:
    rng = np.random.default_rng(5)
    n = 400
    weights = rng.integers(10, 60, (5, n)).astype(float)
    model = MatrixHighsModel(np.zeros(n), np.ones(n), sp.csr_matrix(weights),
                             np.full(5, -np.inf), weights.sum(axis=1) / 3,
                             np.ones(n, dtype=np.int8), SolverOptions())
    model.set_cost(rng.integers(10, 60, n).astype(float), maximize=True)
    h = model.highs
    start = np.zeros(n)
    start[0] = 1.0
    h.setSolution(highs_model._solution(start))
    h.setOptionValue("time_limit", 1e-6)  # stops before its first LP: the start, no bound
    h.run()
    assert math.isinf(h.getInfo().mip_dual_bound)  # what HiGHS says
    run = highs_model._read_run(h, True, 0.0)
    assert run.status is SolveStatus.TIME_LIMIT
    assert run.values is not None and run.objective is not None
    assert run.bound is None and run.gap is None
