"""The lambda search: the rounding method's branching for families with a lambda axis (the
threshold rule; docs/multiperiod.md, "Fairness over the horizon", the threshold's
"How it is solved").

Member r stops (k_r = 1) exactly when lambda >= b_r = (q_r + s) / w_r, so between two
consecutive b_r every k_r is known and the model is an LP: the lambda axis is split at the b_r.
A node [a, b] fixes k_r = 1 where b_r <= a, k_r = 0 where b_r >= b, relaxes the rest, and bounds
each member's whole X_r by the limits of lambda = a (below) and lambda = b (above): its LP
bounds every plan with lambda in [a, b]. A node without relaxed k_r (a leaf) is rounded; a node
whose bound is within the gap tolerance of the best plan is closed; others split into a leaf and
the intervals either side: the lowest leaf, dived into first, until a plan is found; then the
leaf holding their LP's lambda, best bound first. U = the largest bound of the leaves and closed
nodes (and of the nodes left open at a time limit).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from models.fairness import LambdaAxis
from optimiser.multiperiod.methods.base import Task
from optimiser.solver import SolveStatus, stop_status

if TYPE_CHECKING:
    from optimiser.multiperiod.methods.rounding import Branch, RoundingMethod


def lambda_search(
    method: RoundingMethod, task: Task, active_rows: np.ndarray, z: Mapping[str, float]
) -> Branch:
    """Branch on the lambda axes of the task's families (none: one rounded LP)."""
    from optimiser.multiperiod.methods.rounding import Branch

    axes: list[LambdaAxis] = [f.axis for f in task.families if f.axis is not None]
    if not axes:
        return method.round_branch(task, active_rows, z)
    s, cg = method.setting, method.colgen
    node_rows = np.concatenate([axis.node_rows for axis in axes])
    active_rows = np.concatenate([active_rows, node_rows])
    root = tuple((0, len(axis.points) - 1) for axis in axes)
    # (priority, order, node, bound, basis): `bound` the parent's LP bound (valid for every
    # plan of the node, inf for the root); the priority is the bound, or inf for the node
    # dived into; `basis` the parent LP's optimal basis (None: the basis HiGHS holds)
    open_nodes: list[tuple[float, int, tuple[tuple[int, int], ...], float, Any]] = [
        (math.inf, 0, root, math.inf, None)
    ]
    counter = itertools.count(1)
    best: tuple[float, np.ndarray] | None = None
    bounds: list[float] = []
    bound_known, feasible = True, False
    cut_off = False  # a node left unexplored for time: no proof that every node is empty
    solves, seconds = 0, 0.0
    deadline = task.deadline
    try:
        while open_nodes:
            open_nodes.sort(key=lambda node: (-node[0], node[1]))
            _, _, node, parent_bound, parent_basis = open_nodes.pop(0)
            if best is not None and s.settles(parent_bound, best[0]):
                bounds.append(parent_bound)
                continue
            if deadline.expired() or task.improving_over(best is not None):
                bound_known = bound_known and math.isfinite(parent_bound)
                bounds.append(parent_bound)
                cut_off = True
                continue
            leaf = True
            for axis, (i, j) in zip(axes, node, strict=True):
                a, b = axis.points[i], axis.points[j]
                cg.bound_columns(axis.lam, np.array([a]), np.array([b]))
                k_low = (axis.breaks <= a).astype(float)
                k_high = (axis.breaks < b).astype(float)
                cg.bound_columns(axis.stopped, k_low, k_high)
                cg.highs.set_rows_bounds(*axis.limit_rows(a, b))
                leaf = leaf and j == i + 1
            # The node's LP is its parent's with tighter bounds: the dual simplex from the
            # parent's optimal basis (still dual feasible), not from the basis a sibling's
            # rounding left (its logistics-paying LP, repairs, MIPs: 300 x 90, threshold:tau=0,
            # the root's second child 22 CPU-s from the leaf's, a few from the root's)
            branch = method.round_branch(
                task,
                active_rows,
                z,
                round_plan=leaf,
                incumbent=None if best is None else best[0],
                from_parent=cg.restore_basis(parent_basis),
            )
            solves += branch.solves
            seconds += branch.seconds
            if branch.status is SolveStatus.INFEASIBLE:
                continue
            feasible = True
            if branch.best is not None and (best is None or branch.best[0] > best[0]):
                best = branch.best
            if branch.bound is None:
                # the node's LP did not finish (time limit): its parent's bound still holds
                # for it (the root's LP unfinished: no bound known)
                cut_off = True
                bound_known = bound_known and math.isfinite(parent_bound)
                bounds.append(parent_bound)
                continue
            if leaf:
                bounds.append(branch.bound)
                continue
            # Split the axis with the widest range of break points around a leaf: until a
            # plan is found, its lowest (lambda from 0: the fewest units bound to members,
            # feasible whenever shipping nothing more to members is), dived into first;
            # then the leaf holding the LP's lambda.
            wide = max(range(len(axes)), key=lambda t: node[t][1] - node[t][0])
            i, j = node[wide]
            axis = axes[wide]
            lam = float(branch.lp[axis.lam[0]]) if branch.lp is not None else axis.points[i]
            at = int(np.clip(np.searchsorted(axis.points, lam, side="right") - 1, i, j - 1))
            if best is None:
                at = i
            halves = [(at, at + 1)]
            halves += [(i, at)] if at > i else []
            halves += [(at + 1, j)] if at + 1 < j else []
            for rank, half in enumerate(halves):
                child = tuple(half if t == wide else node[t] for t in range(len(axes)))
                first = rank == 0 and best is None
                priority = math.inf if first else branch.bound
                open_nodes.append((priority, next(counter), child, branch.bound, branch.basis))
    finally:
        for axis in axes:
            cg.fix_columns(axis.lam, None)
            cg.fix_columns(axis.stopped, None)
        cg.highs.set_rows_active(node_rows, False)
    if not feasible:
        # infeasible only when every node of the lambda axis was solved and proved empty
        # (their column-generation LPs: phase 1 finished above zero); a node left open when
        # the deadline came says nothing, and neither does the root never solved
        if cut_off:
            return Branch(stop_status(deadline), None, None, solves, seconds)
        return Branch(SolveStatus.INFEASIBLE, None, None, solves, seconds)
    bound = max(bounds) if bound_known and bounds else None
    status = SolveStatus.OPTIMAL if bound is not None else stop_status(deadline)
    return Branch(status, bound, best, solves, seconds)
