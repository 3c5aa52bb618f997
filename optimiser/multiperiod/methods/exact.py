"""The exact method: HiGHS branch-and-bound on the whole model, then the logistics tie-break.

Stage 1 maximises the (weighted) lives; stage 2 holds every admission and patient move of
stage 1 (y, o, z at their stage-1 values) and minimises the logistics cost C over shipments and
transfers (to STAGE2_GAP: it only breaks ties), so the lives are those of stage 1 to the last
digit (docs/multiperiod.md, "The logistics tie-break").
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from optimiser.multiperiod.methods.base import STAGE2_GAP, PlanOutcome, Setting, Task
from optimiser.solver import MatrixHighsModel


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
