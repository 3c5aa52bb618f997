"""No patient waits beside a free unit, without a solver: the last resort of the patient flow's
settling (methods/settle.py) when its LPs cannot run (the budget spent by the solves) or do not
finish.

The rule (docs/multiperiod.md, "Waiting"; check-plan's `idle_while_waiting`): no patient
waits, or is turned away, on a day d while a staffed unit is free in their region on every day
of the stay that would start on d. It is not a row of the model: the settling's second LP
(patients admitted as early as possible) is what makes a plan keep it, so a plan cut short by
the time limit before that LP broke it (30 regions x 30 days, seed 2, waiting 1 day, threshold,
30 s: 67 region-cohorts waiting beside free units).

The repair keeps every movement (units on hand h fixed) and, day by day, admits each waiting
group (earliest last admission day first) on day d as far as the units and staff free on every
day of its stay allow: first patients the plan turned away (more lives), then patients the plan
sent away later, then patients it admitted later (the same lives, earlier). Each step only
adds admissions or moves one earlier, so the objective never falls; moving an admission earlier
frees units at the end of its old stay, which may open a window already passed, so passes
repeat until one changes nothing. The plan stays feasible in every row that reads the patient
flow (cohorts, patient lanes and their daily limit, occupancy, cover u <= h, staff u <= own +
staff); no fairness row reads it (checked: the repair refuses otherwise).
"""

from __future__ import annotations

import numpy as np

from models.multiperiod import PlanModel
from optimiser.multiperiod.methods.whole import units_on_hand

FREE_TOL = 1e-6  # a unit this free (check-plan reports from 1e-4) is not free
LEFT_TOL = 1e-6  # a group with this few patients waiting has none (check-plan's tolerance)
MAX_PASSES = 50


def fairness_reads_patients(p: PlanModel) -> bool:
    """Does any fairness row (of every candidate constraint) read the patient flow?"""
    rows = [f.rows for f in p.fairness.values()] + [f.cut_rows for f in p.fairness.values()]
    which = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    if not len(which):
        return False
    flow = np.concatenate([p.patients, p.occ.ravel()])
    return bool(p.matrix[:, flow][which].nnz)


def admit_beside_free_units(p: PlanModel, values: np.ndarray) -> np.ndarray | None:
    """`values` with no patient waiting beside a unit free for the whole stay (their movements
    kept); None when nothing changes or the repair does not apply (a fairness row reads the
    patient flow)."""
    d = p.data
    n, T = d.n, d.days
    x = np.array(values, dtype=float)
    # units on hand and occupancy from the plan's own movements and patient flow (a plan made
    # outside an LP, the fallback's, leaves the columns that follow from them as they were)
    hand = units_on_hand(p, d, x[p.ship.cols], x[p.transfer.cols])
    u = _occupancy(p, x)  # (n, T), kept in step with every change
    cap = np.minimum(hand, d.own + d.staff)  # inf + finite: staff unlimited
    G = len(d.group_size)
    first, last, stay = d.group_first, d.group_last, d.group_stay
    region = d.group_region
    # column positions: admit (g, s) and send (g, s) are laid out group by group, s ascending
    admit_of = _positions(p.admit.group, p.admit.day, first, G)
    send_of = _positions(p.send.group, p.send.day, first, G)
    y = x[p.admit.cols]
    o = x[p.send.cols]
    if not len(_waiting_beside_free(p, y, o, send_of, cap - u)) or fairness_reads_patients(p):
        return None
    z = x[p.ptransfer.cols]
    lanes_out = _lanes_from(d.pt_src, p.ptransfer.lane, p.ptransfer.day, n, T)
    z_dst = d.pt_dst[p.ptransfer.lane]  # destination of each patient-move column
    changed = False
    for _ in range(MAX_PASSES):
        candidates = _waiting_beside_free(p, y, o, send_of, cap - u)
        if not len(candidates):
            break
        moved = False
        for i in candidates.tolist():
            g, day = int(p.admit.group[i]), int(p.admit.day[i])
            r, rho = int(region[g]), int(stay[g])
            a0, s0 = admit_of[g], send_of[g]
            upto = day - first[g] + 1
            done = y[a0 : a0 + upto].sum() + (o[s0 : s0 + upto].sum() if s0 >= 0 else 0.0)
            left = float(d.group_size[g] - done)
            free = float((cap[r, day : day + rho] - u[r, day : day + rho]).min())
            if left <= LEFT_TOL or free <= FREE_TOL:
                continue  # an earlier step of this pass served them or took the units
            width = last[g] - first[g] + 1
            total = y[a0 : a0 + width].sum() + (o[s0 : s0 + width].sum() if s0 >= 0 else 0.0)
            now = a0 + day - first[g]  # the admission column of day `day`
            # patients turned away: admitted today
            take = min(left, free, max(0.0, float(d.group_size[g] - total)))
            y[now] += take
            u[r, day : day + rho] += take
            left, free = left - take, free - take
            moved = moved or take > 0.0
            # patients sent later: admitted today, not sent
            for s in range(day + 1, int(last[g]) + 1):
                if s0 < 0 or left <= LEFT_TOL or free <= FREE_TOL:
                    break
                k = s0 + s - first[g]
                back = min(left, free, float(o[k]))
                if back > 0.0:
                    o[k] -= back
                    _unsend(z, lanes_out[r][s], back, z_dst, u, s, int(d.los[r]))
                    y[now] += back
                    u[r, day : day + rho] += back
                    left, free = left - back, free - back
                    moved = True
            # patients admitted later (the nearest first): admitted today instead, which needs
            # units only on the days before their admission
            for s in range(day + 1, int(last[g]) + 1):
                if left <= LEFT_TOL:
                    break
                k = a0 + s - first[g]
                ahead = min(s, day + rho)
                room = float((cap[r, day:ahead] - u[r, day:ahead]).min())
                back = min(left, room, float(y[k]))
                if back > FREE_TOL:
                    y[k] -= back
                    u[r, s : s + rho] -= back
                    y[now] += back
                    u[r, day : day + rho] += back
                    left -= back
                    moved = True
        if not moved:
            break  # what is left cannot move (never seen: each pass ends with none found)
        changed = True
    if not changed:
        return None
    x[p.admit.cols] = y
    x[p.send.cols] = o
    x[p.ptransfer.cols] = z
    x[p.occ] = u
    x[p.hand] = hand
    return x


def _occupancy(p: PlanModel, x: np.ndarray) -> np.ndarray:
    """u_{r,d}: patients admitted in r (stay rho_g) and moved into r (the origin's stay) on
    each day, as the model's occupancy rows count them."""
    d = p.data
    n, T = d.n, d.days
    change = np.zeros((n, T + 1))
    region = d.group_region[p.admit.group]
    end = np.minimum(p.admit.day + d.group_stay[p.admit.group], T)
    np.add.at(change, (region, p.admit.day), x[p.admit.cols])
    np.add.at(change, (region, end), -x[p.admit.cols])
    z = p.ptransfer
    if len(z.cols):
        dst = d.pt_dst[z.lane]
        end = np.minimum(z.day + d.los[d.pt_src[z.lane]], T)
        np.add.at(change, (dst, z.day), x[z.cols])
        np.add.at(change, (dst, end), -x[z.cols])
    return np.cumsum(change, axis=1)[:, :T]


def _waiting_beside_free(
    p: PlanModel, y: np.ndarray, o: np.ndarray, send_of: np.ndarray, spare: np.ndarray
) -> np.ndarray:
    """Admission columns (g, s) (positions, by day, then last admission day, then arrival) of
    the groups with patients still waiting at the end of day s while `spare` (free staffed
    units, regions x days) is positive on every day of the stay that would start on s."""
    d = p.data
    T = d.days
    group, day = p.admit.group, p.admit.day
    first = d.group_first[group]
    # patients of g admitted or sent by day s: cumulative sums within each group's columns
    served = _within_groups(y, day == first)
    if len(o):
        at = send_of[group]
        has = at >= 0
        by_day = _within_groups(o, p.send.day == d.group_first[p.send.group])
        served = served + np.where(has, by_day[np.where(has, at + day - first, 0)], 0.0)
    waiting = np.nonzero(d.group_size[group] - served > LEFT_TOL)[0]
    if not len(waiting):
        return waiting
    region = d.group_region[group[waiting]]
    stay = d.group_stay[group[waiting]]
    offsets = np.arange(int(stay.max()))
    cols = day[waiting][:, None] + offsets
    valid = (offsets < stay[:, None]) & (cols < T)
    free = np.where(valid, spare[region[:, None], np.minimum(cols, T - 1)], np.inf).min(axis=1)
    found = waiting[free > FREE_TOL]
    g = group[found]
    return found[np.lexsort((d.group_day[g], d.group_last[g], day[found]))]


def _within_groups(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sums of `values` restarting where `starts` is True (each group's first
    column)."""
    total = np.cumsum(values)
    head = np.maximum.accumulate(np.where(starts, np.arange(len(values)), 0))
    return total - (total - values)[head]


def _positions(group: np.ndarray, day: np.ndarray, first: np.ndarray, G: int) -> np.ndarray:
    """Index (into the columns' order) of each group's column on its first day; -1: none."""
    out = np.full(G, -1, dtype=np.int64)
    at_first = np.nonzero(day == first[group])[0]
    out[group[at_first]] = at_first
    return out


def _lanes_from(
    src: np.ndarray, lane: np.ndarray, day: np.ndarray, n: int, T: int
) -> list[list[list[int]]]:
    """Positions of the patient-move columns leaving each region on each day."""
    out: list[list[list[int]]] = [[[] for _ in range(T)] for _ in range(n)]
    for k, (b, s) in enumerate(zip(lane.tolist(), day.tolist(), strict=True)):
        out[int(src[b])][s].append(k)
    return out


def _unsend(
    z: np.ndarray,
    positions: list[int],
    amount: float,
    dst: np.ndarray,
    u: np.ndarray,
    day: int,
    los: int,
) -> None:
    """Take `amount` patients off the moves (`positions` into z) leaving a region on `day`,
    the largest first, freeing their units at the destinations (`dst` per column) for the
    origin's length of stay `los`."""
    T = u.shape[1]
    for k in sorted(positions, key=lambda k: -z[k]):
        if amount <= 0.0:
            return
        back = min(amount, float(z[k]))
        if back <= 0.0:
            continue
        z[k] -= back
        amount -= back
        u[int(dst[k]), day : min(day + los, T)] -= back
