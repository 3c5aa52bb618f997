"""`allocate`: the one implementation behind `triage bedside allocate`, the Python API and
POST /v1/bedside. Pipeline: load+validate (io.py) -> score (scores.py) -> decide each batch
(decide.py: the program or the rule, certified) -> horizon bound (horizon.py) -> protocols
and price of fairness -> BedsideResult (results.py) -> decision log (log.py).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.bedside.decide import Batch
from optimiser.bedside.horizon import (
    OnlineRun,
    Stream,
    offline_optimum,
    outcomes,
    run_online,
    stream_from,
)
from optimiser.bedside.io import BedsideInputs, load_inputs
from optimiser.bedside.policy import Policy
from optimiser.bedside.price import PRICE_COLUMNS, horizon_price, snapshot_price
from optimiser.bedside.results import PATIENT_COLUMNS, BedsideResult
from optimiser.bedside.scores import PROTOCOLS, Ranking, available, rank_patients
from optimiser.bedside.snapshot import EXACT
from optimiser.deadline import Deadline
from optimiser.engine_protocol import check_time_limit
from optimiser.errors import InputError, Problem, counted
from optimiser.solver import SolverOptions, solver_versions

AFTER_DECISIONS_SECONDS_PER_PATIENT = 0.15e-3


def allocate(
    inputs: BedsideInputs | str | Path,
    *,
    price: bool = True,
    protocols: bool = True,
    time_limit: float | None = None,
    overrides: pd.DataFrame | None = None,
    rule_batches: Collection[tuple[str, int]] = (),
) -> BedsideResult:
    """Decide who receives the units, day by day and site by site, under the policy.

    One decision day (every candidate arrived the same day): a snapshot, priced by the
    integer program. Several: the online rule over the horizon, with the offline optimum
    and the gap. `overrides` (log.read_overrides) record the officer's deviations.
    `rule_batches` (site, day): decided by the policy's rule (replay of a run whose program
    was stopped there by its time limit; the log lists them)."""
    t0 = time.perf_counter()
    if not isinstance(inputs, BedsideInputs):
        inputs = load_inputs(inputs)
    check_time_limit(time_limit, finite=True)
    deadline = None if time_limit is None else t0 + float(time_limit)
    policy, cohort = inputs.policy, inputs.cohort
    patients = cohort.patients
    ranking = rank_patients(patients, policy)
    stream = stream_from(cohort, inputs.units)
    days = sorted(set(patients["day"][~ranking.excluded]))
    mode = "snapshot" if len(days) <= 1 else "horizon"
    options = EXACT
    forced = None
    if overrides is not None and len(overrides):
        _check_override_patients(overrides, patients)
        position = {pid: k for k, pid in enumerate(stream.ids)}
        forced = {position[str(pid)]: str(row["decision"]) == "unit"
                  for pid, row in overrides.iterrows()}
    # the decisions leave time for the work after them (the offline bound, the protocols and
    # the price: 0.57-0.65 s for 5,000 patients over 90 days under a spent budget)
    after = AFTER_DECISIONS_SECONDS_PER_PATIENT * len(patients) if price or protocols else 0.0
    decide_by = None if deadline is None else deadline - min(after, 0.25 * float(time_limit or 0))
    online = run_online(stream, policy, ranking, record=True, method=policy.method,
                        options=options, deadline=decide_by,
                        rule_batches=frozenset((str(a), int(b)) for a, b in rule_batches),
                        forced=forced)
    timings = {"decide": time.perf_counter() - t0}
    notes: list[str] = []
    stopped = [d for d in online.decisions if d.method == "rule" and policy.method == "optimal"]
    if stopped:
        notes.append(
            f"time limit: {counted(len(stopped), 'decision')} fell back to the policy's rule"
        )
    table = patient_table(stream, patients, ranking, online, policy)
    if overrides is not None:
        table = apply_overrides(table, overrides)
        _check_override_capacity(table, online, overrides)
        changed = table[table["final"] != table["decision"]]
        if mode == "horizon" and len(changed):
            first_day = int(changed["day"].min())
            notes.append(f"overrides change decisions from day {first_day}: every later day "
                         "was decided from the overridden state (the units the overridden "
                         "patients hold or leave free); outcomes are those of the final "
                         "decisions")
    benefit = ranking.benefit
    treated = online.final_treated
    value = float(benefit[treated].sum())
    bound = offline_optimum(stream, benefit, ranking.excluded, options=options,
                            time_limit=_left(deadline))
    floors = [(r.name, patients[r.category].to_numpy(dtype=bool),
               int((patients[r.category].to_numpy(dtype=bool) & treated).sum()))
              for r in policy.reserves]
    bound_reserves = (offline_optimum(stream, benefit, ranking.excluded, floors, options,
                                      _left(deadline)) if floors else bound)
    horizon = {
        "online": value,
        "offline_optimum": bound.value,
        "offline_bound": bound.bound,
        "offline_proof": bound.proof,
        "offline_with_reserves": bound_reserves.value,
        "gap": None if bound.value is None else bound.value - value,
        "gap_with_reserves": None if bound_reserves.value is None
        else bound_reserves.value - value,
        "idle_unit_days": online.idle_unit_days,
    }
    timings["offline"] = time.perf_counter() - t0 - timings["decide"]
    if (price or protocols) and deadline is not None and deadline - time.perf_counter() < after:
        # optional, and what is left cannot hold them: the call would end past its limit
        # (5,000 patients over 90 days, 0.01 s left: 0.4-0.8 s more at load 4)
        skipped = [w for w, asked in (("protocols", protocols), ("price of fairness", price))
                   if asked]
        verb, need = ("was", "it needs") if len(skipped) == 1 else ("were", "they need")
        notes.append(f"time limit: the {' and the '.join(skipped)} {verb} not computed ({need} "
                     f"about {after:.2f} s, {max(0.0, deadline - time.perf_counter()):.2f} s "
                     "were left)")
        price = protocols = False
    protocol_table = (protocol_rows(stream, patients, policy, bound, bound_reserves, notes)
                      if protocols else pd.DataFrame())
    price_table = pd.DataFrame(columns=PRICE_COLUMNS)
    if price:
        price_table = price_rows(mode, stream, policy, ranking, online, options, deadline)
    timings["protocols_and_price"] = time.perf_counter() - t0 - sum(timings.values())
    status = "time_limit" if stopped else ("optimal" if policy.method == "optimal" else "rule")
    summary = {
        "candidates": int((~ranking.excluded).sum()),
        "patients": len(patients),
        **outcomes(stream, patients, treated),
        "objective_value": value,
        "withdrawn": int(online.withdrawn.sum()),
        "decisions": len(online.decisions),
        "certified": all(not d.certificate.violations for d in online.decisions),
    }
    timings["total"] = time.perf_counter() - t0
    versions = solver_versions()
    return BedsideResult(
        mode=mode,
        status=status,
        objective=policy.objective,
        policy=policy.describe(),
        patients=table,
        sites=site_table(stream, patients, online, ranking),
        summary=summary,
        protocols=protocol_table,
        price_of_fairness=price_table,
        certificates=[_certificate(d) for d in online.decisions],
        horizon=horizon,
        inputs={"sha256": inputs.hashes, "files": dict(inputs.files)},
        start_date=cohort.start_date,
        solver={"name": "highs", "version": versions["highs"], "highspy": versions["highspy"]},
        timings=timings,
        notes=tuple(notes),
    )


STOPPED = ("the program was stopped by the time limit before proving its optimum, so the "
           "policy's rule decided")


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.01, deadline - time.perf_counter())


def _certificate(decision: Any) -> dict[str, Any]:
    b = decision.batch
    return {"site": b.site, "day": b.day, "method": decision.method, "free_units": b.free,
            "candidates": len(b.members),
            "categories": {c.name: c.units for c in decision.categories},
            **decision.certificate.to_dict(),
            "proof": None if decision.outcome is None else decision.outcome.proof}


def patient_table(stream: Stream, patients: pd.DataFrame, ranking: Ranking, online: OnlineRun,
                  policy: Policy) -> pd.DataFrame:
    """One row per patient: score, rank, draw, decision and the reason in words."""
    n = len(patients)
    batch_rank = np.zeros(n, dtype=np.int64)
    batch_size = np.zeros(n, dtype=np.int64)
    lowest_served: dict[tuple[int, int], float] = {}
    served_in: dict[tuple[int, int], np.ndarray] = {}
    by_rule = {(d.batch.site, d.batch.day) for d in online.decisions if d.method == "rule"}
    for s, t, members in stream.batches:
        candidates = members[~ranking.excluded[members]]
        order = candidates[np.argsort(ranking.rank[candidates], kind="stable")]
        batch_rank[order] = np.arange(1, len(order) + 1)
        batch_size[candidates] = len(candidates)
        served = candidates[online.served[candidates]]
        if len(served):
            lowest_served[s, t] = float(ranking.benefit[served].min())
            served_in[s, t] = served[np.argsort(ranking.benefit[served], kind="stable")]
    beneficiary = {r.name: stream.flags[r.category] for r in policy.reserves}
    rows = []
    for i, pid in enumerate(stream.ids):
        s, t = int(stream.site[i]), int(stream.day[i])
        site = stream.sites[s]
        if ranking.excluded[i]:
            decision, reason = "not_candidate", ranking.reason[i]
        elif online.withdrawn[i]:
            decision, reason = "no_unit", ("unit withdrawn at the NY 2015 reassessment (blue) "
                                           "for a waiting candidate")
        elif online.served[i]:
            decision = "unit"
            name = str(online.category[i])
            released = name in beneficiary and not beneficiary[name][i]
            source = (f"a unit of the {name!r} reserve, open to all: no beneficiary waiting"
                      if released else f"a unit from {name!r}")
            reason = (f"{source} at {site} on day {t}; ranked {batch_rank[i]} of "
                      f"{batch_size[i]} ({policy.priority})")
            if (site, t) in by_rule and policy.method == "optimal":
                reason += f"; {STOPPED}"
            elif policy.method == "optimal":
                reason += "; in the allocation of most expected benefit under the reserves"
        else:
            decision = "no_unit"
            free = int(online.free_units[i])
            if free == 0:
                reason = f"no free unit at {site} on day {t}"
            elif (site, t) in by_rule and policy.method == "optimal":
                reason = (f"{counted(free, 'unit')} free at {site} on day {t} went to candidates "
                          f"ranked higher (ranked {batch_rank[i]} of {batch_size[i]}); {STOPPED}")
            elif policy.method == "optimal":
                low = lowest_served.get((s, t))
                reason = (f"{counted(free, 'unit')} free at {site} on day {t}; the allocation of "
                          f"most expected benefit under the reserves serves others (benefit "
                          f"{ranking.benefit[i]:.3g}" + (f", lowest served {low:.3g})"
                                                         if low is not None else ")"))
                reason += _served_with_less(i, served_in.get((s, t)), stream.ids,
                                            ranking, beneficiary, batch_rank)
            else:
                reason = (f"{counted(free, 'unit')} free at {site} on day {t} went to candidates "
                          f"ranked higher (ranked {batch_rank[i]} of {batch_size[i]})")
        rows.append({
            "patient": pid, "site": site, "day": t, "candidate": not ranking.excluded[i],
            "benefit": float(ranking.benefit[i]), "score": float(ranking.score[i]),
            "rank": None if ranking.excluded[i] else int(ranking.rank[i]) + 1,
            "batch_rank": None if ranking.excluded[i] else int(batch_rank[i]),
            "lottery_draw": float(ranking.draw[i]), "decision": decision,
            "category": str(online.category[i]), "withdrawn": bool(online.withdrawn[i]),
            "reason": reason, "override": "", "final": decision,
            "components": ranking.components[i],
        })
    frame = pd.DataFrame(rows).set_index("patient")
    for column in ("rank", "batch_rank"):
        frame[column] = frame[column].astype("Int64")
    return frame[[*PATIENT_COLUMNS, "components"]]


def apply_overrides(table: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """The officer's deviations: `final` takes the override, `override` keeps who and why."""
    table = table.copy()
    for pid, row in overrides.iterrows():
        table.loc[str(pid), "final"] = str(row["decision"])
        table.loc[str(pid), "override"] = (f"{row['decision']} by {row['officer']}: "
                                           f"{row['justification']}")
    return table


def _served_with_less(i: int, served: np.ndarray | None, ids: list[str], ranking: Ranking,
                      beneficiary: Mapping[str, np.ndarray], batch_rank: np.ndarray) -> str:
    """Who was served with less benefit than patient i, and the reserves they are
    beneficiaries of (the optimum serves a lower benefit only because a reserve requires it:
    its beneficiaries come first for its units, and every unit is used); and who was served
    with the same benefit, saying when the same priority left the order to the lottery.
    `served`: the batch's served patients by increasing benefit."""
    if served is None:
        return ""
    benefit = ranking.benefit
    values = benefit[served]
    low = int(np.searchsorted(values, benefit[i], side="left"))
    high = int(np.searchsorted(values, benefit[i], side="right"))
    equal = [int(j) for j in served[low:high]]
    same = [ids[j] for j in equal if ranking.classes[j] == ranking.classes[i]][:5]
    lottery = (f"; the same priority as {', '.join(same)}: the seeded lottery ordered them"
               if same else "")
    tie = ("; served with the same benefit: " + ", ".join(
        f"{ids[j]} (ranked {batch_rank[j]})" for j in equal[:5])
        + " (ties go to the reserves' beneficiaries, then to the higher priority)" + lottery
        if equal else "")
    lower = [int(j) for j in served[:min(low, 5)]]
    if not lower:
        return tie
    parts = []
    for j in lower:
        names = [name for name, flags in beneficiary.items() if flags[j]]
        why = (f"a beneficiary of {', '.join(repr(n) for n in names)}" if names
               else "required by the reserves")
        parts.append(f"{ids[j]} ({benefit[j]:.3g}, {why})")
    more = f" and {low - 5} more" if low > 5 else ""
    return f"; served with less benefit: {', '.join(parts)}{more}{tie}"


def _check_override_patients(overrides: pd.DataFrame, patients: pd.DataFrame) -> None:
    """Every override names a patient of the case, and none gives a unit to a patient who
    declined it (DNI): refused here, for every caller (the command line and the service
    refuse it first, with their own file names)."""
    dni = set(patients.index[patients["dni"].to_numpy(dtype=bool)])
    lines = overrides.attrs.get("lines", {})
    where = {"file": overrides.attrs.get("file", "overrides"),
             "line_word": overrides.attrs.get("line_word", "line")}
    problems = []
    for pid, row in overrides.iterrows():
        line = lines.get(pid) if isinstance(lines, Mapping) else None
        if str(pid) not in patients.index:
            problems.append(Problem(f"unknown patient {str(pid)!r}", line=line,
                                    column="patient", **where))
        elif str(pid) in dni and str(row.get("decision")) == "unit":
            problems.append(Problem(
                f"patient {str(pid)!r} declined the treatment (DNI): an override cannot give "
                "them a unit (autonomy, seed 000)", line=line, column="decision", **where))
    if problems:
        raise InputError(problems)


def _check_override_capacity(table: pd.DataFrame, online: OnlineRun,
                             overrides: pd.DataFrame) -> None:
    """Overrides may move units between patients, never create them: at each site and day,
    the patients given a unit that day number at most the units free that day."""
    problems = []
    given = table[table["final"] == "unit"]
    free = pd.Series(online.free_units, index=table.index)
    for (site, day), group in given.groupby(["site", "day"], sort=True):
        units = int(free[group.index].max())
        overridden = [str(p) for p in group.index if p in overrides.index]
        if len(group) > units and overridden:
            problems.append(Problem(
                f"the overrides give {counted(len(group), 'unit')} at {site} on day {day}, where "
                f"{units} are free (overridden: {', '.join(overridden)}); record which "
                "recommended patient goes without (decision no_unit)",
                file=overrides.attrs.get("file", "overrides"),
                line=overrides.attrs.get("lines", {}).get(overridden[0]), column="decision",
                line_word=overrides.attrs.get("line_word", "line")))
    if problems:
        raise InputError(problems)


def site_table(stream: Stream, patients: pd.DataFrame, online: OnlineRun,
               ranking: Ranking) -> pd.DataFrame:
    rows = []
    for s, site in enumerate(stream.sites):
        mine = stream.site == s
        result = outcomes(stream, patients[mine], online.final_treated[mine])
        rows.append({"site": site, "patients": int(mine.sum()),
                     "candidates": int((mine & ~ranking.excluded).sum()),
                     "units_first_day": int(stream.capacity[s, 0]),
                     "units_max": int(stream.capacity[s].max(initial=0)), **result,
                     "withdrawn": int((online.withdrawn & mine).sum())})
    return pd.DataFrame(rows).set_index("site")


def protocol_rows(stream: Stream, patients: pd.DataFrame, policy: Policy, bound: Any,
                  bound_reserves: Any, notes: list[str]) -> pd.DataFrame:
    """Every protocol, with and without the policy's reserves, scored by the same objective,
    beside the offline optimum (docs/bedside.md, "Protocols")."""
    rows = []
    variants = (False, True) if policy.reserves else (False,)
    for protocol in PROTOCOLS:
        why = available(patients, protocol, policy)
        if why:
            notes.append(f"protocol {protocol} skipped: {why}")
            continue
        ranking = rank_patients(patients, policy, protocol)
        for reserves in variants:
            run = run_online(stream, policy, ranking, reserves=reserves)
            rows.append({"protocol": protocol, "reserves": reserves,
                         "objective_value": float(ranking.benefit[run.treated].sum()),
                         **outcomes(stream, patients, run.treated)})
    benefit = rank_patients(patients, policy, "lottery").benefit
    for reserves, b in ((False, bound), (True, bound_reserves)):
        if reserves and not policy.reserves:
            continue
        treated = b.served if b.served is not None else np.zeros(len(patients), dtype=bool)
        rows.append({"protocol": "offline_optimum", "reserves": reserves,
                     "objective_value": float(benefit[treated].sum()),
                     **outcomes(stream, patients, treated)})
    return pd.DataFrame(rows)


def price_rows(mode: str, stream: Stream, policy: Policy, ranking: Ranking,
               online: OnlineRun, options: SolverOptions,
               deadline: float | None) -> pd.DataFrame:
    if mode == "horizon":
        return horizon_price(stream, policy, ranking)
    budget = Deadline(_left(deadline))  # the request's: every price solve asks what is left
    frames = []
    for s, t, members in stream.batches:
        candidates = members[~ranking.excluded[members]]
        free = int(online.free_units[members].max(initial=0)) if len(members) else 0
        if len(candidates) == 0 or free == 0:
            continue
        decision = next((d for d in online.decisions if d.batch.site == stream.sites[s]
                         and d.batch.day == t), None)
        sizes = decision.batch.reserve_units if decision is not None else None
        batch = Batch(stream.sites[s], t, candidates, free, sizes)
        frames.append(snapshot_price(policy, ranking, stream.flags, batch, options, budget))
    if not frames:
        return pd.DataFrame(columns=PRICE_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def read_overrides_frame(data: Any, known: Mapping[str, Any]) -> pd.DataFrame:
    """Overrides given in Python or JSON: rows {patient, decision, justification, officer}."""
    from optimiser.bedside.log import validate_overrides

    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    frame = frame.astype(str)
    frame.attrs["lines"] = list(range(1, len(frame) + 1))  # row 1: the first, overrides[0]
    return validate_overrides(frame, set(known), "overrides", line_word="row")
