"""CPU of the check a guarded MIP run cut off at its limit now makes before it answers (track
honest2, session 29): HiGHS's getLp and `CheckedIncumbent.answer` on one reported point whose
continuous tenth is fractional, on synthetic models of 12k, 120k and 1M columns (4 nonzeros a
column). `python benchmarks/honest2_check_cost.py` (BENCHMARKS.md, "honest2")."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from optimiser.highs_points import CheckedIncumbent
from optimiser.solver import MatrixHighsModel, SolverOptions


def main() -> None:
    for n in (12_000, 120_000, 1_000_000):
        m, nnz = n // 4, 4 * n
        rng = np.random.default_rng(0)
        rows = rng.integers(0, m, nnz)
        matrix = sp.csc_matrix((rng.random(nnz), (rows, np.repeat(np.arange(n), 4))), shape=(m, n))
        integral = np.ones(n, dtype=np.int8)
        integral[: n // 10] = 0
        model = MatrixHighsModel(
            np.zeros(n), np.full(n, 5.0), matrix, np.full(m, -np.inf), np.full(m, 10.0),
            integral, SolverOptions(),
        )
        point = np.zeros(n)
        point[: n // 10] = 0.5  # the continuous columns fractional
        incumbent = CheckedIncumbent(None)
        out = SimpleNamespace(mip_solution=point, objective_function_value=0.0, mip_dual_bound=1.0)
        incumbent.improved(SimpleNamespace(data_out=out))
        times = []
        for _ in range(3):
            started = time.process_time()
            found = incumbent.answer(model.highs.getLp())
            times.append(time.process_time() - started)
        print(
            f"{n:>9,} columns: {sorted(times)[1]:.3f} CPU-s (median of 3), "
            f"answered={found.values is not None}, load {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
