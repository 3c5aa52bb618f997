"""The solver layer: the one way the engines reach HiGHS.

A Pyomo model, or a model given as sparse matrices, is loaded once into a highspy.Highs object;
re-solves change only what differs, and each solve returns a frozen `SolverRun`; a time limit is
never reported as optimal (docs/model.md, "Solver path"). The engines import every name from
here; they are defined, each module well under the project's ~600 lines, in:

- optimiser/solver_status.py: `SolveStatus` and the status discipline (`stop_status`,
  `note_limit`, `limits_reached`, `limit_explanation`), `SolverOptions`, `SolverRun` (no HiGHS);
- optimiser/highs_setup.py: `new_highs` (a silent Highs object), `run_time_limit` (a run's
  time limit, however this HiGHS counts its clock), `solver_versions`;
- optimiser/highs_model.py: `HighsModel` (a Pyomo model in HiGHS), its `solve` and how a run is
  read (`_read_run`; tests replace `_read_run` and `_RUN_HOOK` there, where `solve` looks
  them up);
- optimiser/matrix_highs_model.py: `MatrixHighsModel` (sparse matrices, no Pyomo).
"""

from __future__ import annotations

from optimiser.highs_model import PROBING_RULE, HighsModel
from optimiser.highs_setup import (
    INF,
    NODES_UNLIMITED,
    new_highs,
    run_time_limit,
    solver_versions,
)
from optimiser.highs_setup import (
    _limit_counts_every_run as _limit_counts_every_run,  # tests/test_honest_margins.py
)
from optimiser.matrix_highs_model import MatrixHighsModel
from optimiser.solver_status import (
    STOPPED,
    SolverOptions,
    SolverRun,
    SolveStatus,
    limit_explanation,
    limits_reached,
    note_limit,
    stop_status,
)

__all__ = [
    "INF",
    "NODES_UNLIMITED",
    "PROBING_RULE",
    "STOPPED",
    "HighsModel",
    "MatrixHighsModel",
    "SolveStatus",
    "SolverOptions",
    "SolverRun",
    "limit_explanation",
    "limits_reached",
    "new_highs",
    "note_limit",
    "run_time_limit",
    "solver_versions",
    "stop_status",
]
