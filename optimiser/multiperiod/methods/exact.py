"""The exact method: HiGHS branch-and-bound on the whole model, then the logistics tie-break.

Stage 1 maximises the (weighted) lives; stage 2 holds every admission and patient move of
stage 1 (y, o, z at their stage-1 values) and minimises the logistics cost C over shipments and
transfers (to STAGE2_GAP: it only breaks ties), so the lives are those of stage 1 to the last
digit (docs/multiperiod.md, "The logistics tie-break").

Started from a plan (the rounding method's, in the engine's auto method), HiGHS's RINS and RENS
sub-MIPs are off (`from_a_plan`): they search for plans near the LP's, where the start is one
already, and on small threshold plans they took half of every branch-and-bound run
(BENCHMARKS.md, "Small threshold plans proved fast").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from optimiser.multiperiod.methods.base import STAGE2_GAP, PlanOutcome, Setting, Task
from optimiser.solver import MatrixHighsModel

# HiGHS's sub-MIP heuristics near the LP solution (Relaxation Induced / Enforced Neighbourhood
# Search), off in a run started from a plan: 12 x 14, seed 2, waiting 1 day, threshold(tau=0):
# the exact method 8.6 -> 3.5 CPU-s, the whole-master polish 5.7 -> 3.9, same optima.
NEAR_LP_HEURISTICS = ("mip_heuristic_run_rins", "mip_heuristic_run_rens")


@contextmanager
def from_a_plan(h: MatrixHighsModel, on: bool = True) -> Iterator[None]:
    """HiGHS's RINS and RENS off for the runs inside (when `on`: they start from a known
    plan), their values put back after."""
    if not on:
        yield
        return
    saved = [(name, bool(h.highs.getOptionValue(name)[1])) for name in NEAR_LP_HEURISTICS]
    for name, _ in saved:
        h.set_option(name, False)
    try:
        yield
    finally:
        for name, value in saved:
            h.set_option(name, value)


class ExactMethod:
    """Branch-and-bound on the whole model in HiGHS (loaded on first use)."""

    name = "exact"

    def __init__(self, setting: Setting) -> None:
        self.setting = setting
        self.model: MatrixHighsModel | None = None
        self.translate_seconds = 0.0

    @property
    def highs(self) -> MatrixHighsModel | None:
        return self.model

    def load(self, active_labels: Iterable[str]) -> MatrixHighsModel:
        """The whole model in HiGHS, its fairness rows switched on for `active_labels` only
        and the cut rows off."""
        if self.model is None:
            p = self.setting.model
            t0 = time.perf_counter()
            self.model = MatrixHighsModel(
                p.col_lower,
                p.col_upper,
                p.matrix,
                p.row_lower,
                p.row_upper,
                p.integrality,
                self.setting.options,
            )
            on = set(active_labels)
            for label, family in p.fairness.items():
                self.model.set_rows_active(family.rows, label in on)
            for family in p.fairness.values():
                self.model.set_rows_active(family.cut_rows, False)
            self.translate_seconds += time.perf_counter() - t0
        return self.model

    def solve(self, task: Task, start: np.ndarray | None = None) -> PlanOutcome:
        s = self.setting
        p = s.model
        h = self.load(f.label for f in task.families)
        cost = task.cost
        h.set_cost(cost, maximize=True)
        h.set_start(start if start is not None else s.zero)
        with from_a_plan(h, start is not None):
            first = h.solve(task.deadline.remaining(), node_limit=task.node_limit)
        solves, seconds = 1, first.seconds
        if first.values is None:
            return PlanOutcome(first.status, None, None, None, first.gap, seconds, solves)
        values, status = first.values, first.status
        stage1 = s.lives_of(values)
        if task.tie_break:
            held = p.patients
            h.set_col_bounds_arrays(held, values[held], values[held])
            h.set_cost(p.logistics, maximize=False)
            h.set_start(values)
            options = h.options
            h.options = replace(options, mip_rel_gap=STAGE2_GAP)
            try:
                second = h.solve(task.deadline.remaining(), node_limit=task.node_limit)
            finally:
                h.options = options
                h.set_col_bounds_arrays(held, p.col_lower[held], p.col_upper[held])
            solves += 1
            seconds += second.seconds
            if (
                second.values is not None
                and float(cost @ second.values) >= float(cost @ values) - 1e-7
            ):
                values = second.values
        return PlanOutcome(
            status,
            values,
            s.lives_of(values),
            float(cost @ values),
            first.gap,
            seconds,
            solves,
            logistics=s.logistics_of(values),
            stage1_lives=stage1,
            bound=first.bound,
        )
