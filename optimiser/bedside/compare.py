"""`compare`: protocols side by side over many seeded replications of a patient stream
(docs/bedside.md, "Comparing protocols").

Each replication draws a stream (the synthetic cohort of generator.py, or patients.csv
resampled with replacement), keeps the case's units and policy, and runs every protocol
(fcfs, lottery, NY 2015 tiers, Pittsburgh points, RAPR, max life-years) online with and without
the policy's reserves, plus the offline optimum: expected survivors, lives and life-years
gained, units idle, and, per reporting group, survival and share of units against share of
patients. Replications run in parallel on the executor (local processes or Dask), in chunks,
with a progress bar; results are ordered by replication, so the answer does not depend on
which worker finished first. Confidence intervals are t-intervals over replications.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.bedside.generator import CohortSpec, generate
from optimiser.bedside.horizon import (
    offline_optimum,
    ranked_candidates,
    run_online,
    stream_from,
)
from optimiser.bedside.io import BedsideInputs, Cohort, load_inputs
from optimiser.bedside.patients import MAX_DAY
from optimiser.bedside.policy import Policy
from optimiser.bedside.results import frame_records
from optimiser.bedside.scores import PROTOCOLS, available, lottery_draws, rank_patients
from optimiser.errors import InputError, Problem
from optimiser.json_values import json_number, json_ready

OFFLINE = "offline_optimum"
METRICS = ("objective_value", "lives_gained", "expected_survivors", "life_years_gained",
           "treated", "idle_unit_days", "lives_below_offline")
GROUP_METRICS = ("survival", "share_of_units", "share_of_patients", "units_minus_patients")
STREAMS = ("synthetic", "resample")
SYNTHETIC_FLAGS = ("essential_health_worker", "disadvantaged_area")
SYNTHETIC_GROUPS = ("age_band", "sex", "ethnicity", "deprivation_decile")
MAX_REPLICATIONS = 100_000
# one replication's stream is held in memory by each worker: 500,000 patients is 25 times the
# benchmark's 20,000-patient horizon (100 million exhausted the machine's memory)
MAX_STREAM_PATIENTS = 500_000


@dataclass(frozen=True)
class CompareSpec:
    replications: int = 100
    seed: int = 0
    stream: str = "synthetic"
    patients: int | None = None  # per replication; default: patients.csv's count
    days: int | None = None  # synthetic stream; default: patients.csv's span
    chunk: int = 0  # replications per task; 0: chosen from the count and workers

    def check(self) -> None:
        problems = []
        if self.stream not in STREAMS:
            problems.append(Problem(f"must be one of {', '.join(STREAMS)}, got {self.stream!r}",
                                    column="stream", column_word="option"))
        for name, value, low in (("replications", self.replications, 1),
                                 ("patients", self.patients, 1), ("days", self.days, 1)):
            if value is None and name != "replications":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                problems.append(Problem(f"must be a whole number >= {low}, got {value!r}",
                                        column=name, column_word="option"))
        for name, value, most in (("replications", self.replications, MAX_REPLICATIONS),
                                  ("patients", self.patients, MAX_STREAM_PATIENTS),
                                  ("days", self.days, MAX_DAY)):
            if isinstance(value, int) and not isinstance(value, bool) and value > most:
                problems.append(Problem(f"at most {most:,}, got {value:,}", column=name,
                                        column_word="option"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            problems.append(Problem(f"must be a whole number >= 0, got {self.seed!r}",
                                    column="seed", column_word="option"))
        if problems:
            raise InputError(problems)


@dataclass(frozen=True)
class CompareResult:
    """summary: one row per protocol x reserves x metric (mean, sd, 95% CI); groups: per
    reporting group value; replications: the raw per-replication rows."""

    summary: pd.DataFrame
    groups: pd.DataFrame
    replications: pd.DataFrame
    spec: dict[str, Any]
    policy: dict[str, Any]
    inputs: dict[str, Any]
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"spec": json_ready(self.spec, digits=None),
                "policy": json_ready(self.policy, digits=None),
                "inputs": json_ready(self.inputs, digits=None),
                "summary": frame_records(self.summary), "groups": frame_records(self.groups),
                "notes": list(self.notes),
                "timings": {k: json_number(v, 6) for k, v in self.timings.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareResult:
        return cls(_stats_frame(data.get("summary")), _stats_frame(data.get("groups")),
                   pd.DataFrame(),
                   dict(data.get("spec") or {}), dict(data.get("policy") or {}),
                   dict(data.get("inputs") or {}), tuple(data.get("notes") or ()),
                   dict(data.get("timings") or {}))


def _stats_frame(records: Any) -> pd.DataFrame:
    """summary/groups read back: an interval stored as null (one replication) is NaN again."""
    frame = pd.DataFrame(list(records or []))
    for column in ("mean", "sd", "ci_low", "ci_high"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


def protocols_for(cohort: Cohort, policy: Policy) -> tuple[list[str], list[str]]:
    """Protocols that can run on this cohort, and why the others cannot."""
    runnable, notes = [], []
    for protocol in PROTOCOLS:
        why = available(cohort.patients, protocol, policy)
        if why:
            notes.append(f"protocol {protocol} skipped: {why}")
        else:
            runnable.append(protocol)
    return runnable, notes


def draw_cohort(inputs: BedsideInputs, spec: CompareSpec, replication: int) -> Cohort:
    """The stream of one replication (same seed, same stream, whatever the worker)."""
    cohort = inputs.cohort
    base = cohort.patients
    count = spec.patients or len(base)
    seed = spec.seed * 1_000_003 + replication
    if spec.stream == "resample":
        rng = np.random.default_rng(seed)
        rows = base.iloc[rng.integers(0, len(base), size=count)].copy()
        rows.index = pd.Index([f"R{replication}-{k:05d}" for k in range(count)], name="patient")
        return replace(cohort, patients=rows)
    sites = tuple(inputs.units.sites)
    weights = tuple(float((base["site"] == s).sum()) or 1.0 for s in sites)
    days = spec.days or int(base["day"].max()) + 1
    frame = generate(CohortSpec(patients=count, days=days, sites=sites, site_weights=weights,
                                deprivation_skew=tuple(0.0 for _ in sites), seed=seed))
    return cohort_from_frame(frame, cohort)


def cohort_from_frame(frame: pd.DataFrame, like: Cohort) -> Cohort:
    """A generated frame in the validated cohort's layout (the generator's values are in
    range by construction)."""
    missing = [c for c in (*like.categories, *like.reporting_groups) if c not in frame.columns]
    if missing:
        raise InputError(Problem(f"the synthetic cohort has no column {', '.join(missing)} (it "
                                 f"provides {', '.join((*SYNTHETIC_FLAGS, *SYNTHETIC_GROUPS))}); "
                                 "use --stream resample", column="stream", column_word="option"))
    out = frame.set_index("patient")
    out["day"] = np.floor(out["arrival"].to_numpy() + 1e-9).astype(np.int64)
    out["days"] = np.maximum(np.ceil(out["expected_days"].to_numpy() - 1e-9), 1).astype(np.int64)
    out["line"] = np.arange(2, len(out) + 2)
    for group in like.reporting_groups:
        out[group] = out[group].astype(str)
    return replace(like, patients=out)


def run_replication(inputs: BedsideInputs, spec: CompareSpec, protocols: list[str],
                    replication: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every protocol on one replication: metric rows and group rows."""
    cohort = draw_cohort(inputs, spec, replication)
    patients = cohort.patients
    policy = inputs.policy
    policy = policy.with_changes(tie_break=replace(policy.tie_break,
                                                   seed=policy.tie_break.seed + replication))
    stream = stream_from(cohort, inputs.units)
    variants = (False, True) if policy.reserves else (False,)
    outcome = _Outcomes(patients, cohort.reporting_groups)
    draws = lottery_draws(stream.ids, policy.tie_break.seed)
    base = rank_patients(patients, policy, "lottery", detail=False, draws=draws)
    rows: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    policy_treated: dict[bool, np.ndarray] = {}
    for protocol in protocols:
        ranking = (base if protocol == "lottery"  # the same call
                   else rank_patients(patients, policy, protocol, detail=False, draws=draws))
        ranked = ranked_candidates(stream, ranking.excluded, ranking.rank)
        for reserves in variants:
            run = run_online(stream, policy, ranking, reserves=reserves, ranked=ranked)
            if protocol == policy.priority:
                policy_treated[reserves] = run.treated
            rows.append(outcome.metrics(replication, protocol, reserves, run.treated,
                                        base.benefit, run.idle_unit_days))
            groups.extend(outcome.groups(replication, protocol, reserves, run.treated))
    for reserves in variants:
        floors = None
        if reserves:
            reference = policy_treated.get(True)
            if reference is None:
                continue
            floors = [(r.name, patients[r.category].to_numpy(dtype=bool),
                       int((patients[r.category].to_numpy(dtype=bool) & reference).sum()))
                      for r in policy.reserves]
        bound = offline_optimum(stream, base.benefit, base.excluded, floors, exact=False)
        treated = bound.served if bound.served is not None else np.zeros(len(patients), bool)
        rows.append(outcome.metrics(replication, OFFLINE, reserves, treated, base.benefit, None))
        groups.extend(outcome.groups(replication, OFFLINE, reserves, treated))
    best = next(r["lives_gained"] for r in rows if r["protocol"] == OFFLINE and not r["reserves"])
    for row in rows:  # paired: the same stream, so the interval is of the difference itself
        row["lives_below_offline"] = best - row["lives_gained"]
    return rows, groups


class _Outcomes:
    """What a set of treated patients achieves, overall and per reporting group."""

    def __init__(self, patients: pd.DataFrame, reporting: tuple[str, ...]) -> None:
        self.sw = patients["survival_with"].to_numpy(dtype=float)
        self.swo = patients["survival_without"].to_numpy(dtype=float)
        self.gain = self.sw - self.swo
        le = patients["life_expectancy_years"].to_numpy(dtype=float)
        self.life_years = None if np.isnan(le).any() else self.gain * le
        self.total = len(patients)
        self.codes = []
        for group in reporting:
            # sorted labels and codes, as np.unique would give, by hashing (sorting 2,000
            # Python strings cost more than a protocol's run)
            codes, labels = pd.factorize(patients[group].astype(str).to_numpy(dtype=object),
                                         sort=True)
            labels = np.asarray(labels, dtype=object)
            self.codes.append((group, labels, codes, np.bincount(codes,
                                                                 minlength=len(labels))))

    def metrics(self, replication: int, protocol: str, reserves: bool, treated: np.ndarray,
                benefit: np.ndarray, idle: int | None) -> dict[str, Any]:
        life_years = math.nan if self.life_years is None else float(
            self.life_years[treated].sum())
        return {"replication": replication, "protocol": protocol, "reserves": reserves,
                "objective_value": float(benefit[treated].sum()),
                "lives_gained": float(self.gain[treated].sum()),
                "expected_survivors": float(np.where(treated, self.sw, self.swo).sum()),
                "life_years_gained": life_years, "treated": int(treated.sum()),
                "idle_unit_days": math.nan if idle is None else float(idle)}

    def groups(self, replication: int, protocol: str, reserves: bool,
               treated: np.ndarray) -> list[dict[str, Any]]:
        out = []
        served = max(int(treated.sum()), 1)
        survivors = np.where(treated, self.sw, self.swo)
        for group, labels, codes, counts in self.codes:
            alive = np.bincount(codes, weights=survivors, minlength=len(labels))
            got = np.bincount(codes, weights=treated.astype(float), minlength=len(labels))
            for k, value in enumerate(labels.tolist()):
                out.append({"replication": replication, "protocol": protocol,
                            "reserves": reserves, "group": group, "value": value,
                            "survival": float(alive[k] / counts[k]),
                            "share_of_units": float(got[k] / served),
                            "share_of_patients": float(counts[k] / self.total),
                            "units_minus_patients": float(got[k] / served
                                                          - counts[k] / self.total)})
        return out


def run_chunk(inputs: BedsideInputs, spec: CompareSpec, protocols: list[str],
              replications: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for r in replications:
        a, b = run_replication(inputs, spec, protocols, r)
        rows += a
        groups += b
    return rows, groups


def compare(inputs: BedsideInputs | str | Path, spec: CompareSpec | None = None, *,
            workers: int | None = None, scheduler: Any = None, progress: bool = True,
            on_chunk: Callable[[int], None] | None = None,
            time_limit: float | None = None) -> CompareResult:
    """Run every protocol on `spec.replications` replications (docs/bedside.md). With
    `time_limit`, chunks not finished by then are dropped and the result says how many
    replications it rests on. `inputs` may be the case's folder, as for allocate()."""
    from optimiser.executor import default_workers, make_executor

    if not isinstance(inputs, BedsideInputs):  # a folder, as allocate() takes
        inputs = load_inputs(inputs)
    spec = spec or CompareSpec()
    spec.check()
    t0 = time.perf_counter()
    probe = draw_cohort(inputs, spec, 0)
    protocols, notes = protocols_for(probe, inputs.policy)
    reps = list(range(spec.replications))
    n_workers = workers or default_workers()
    size = spec.chunk or max(1, min(50, math.ceil(len(reps) / (4 * n_workers))))
    chunks = [reps[i:i + size] for i in range(0, len(reps), size)]
    results: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    bar = _progress(len(reps), progress)
    deadline = None if time_limit is None else t0 + time_limit
    try:
        if n_workers <= 1 and scheduler is None:
            for k, chunk in enumerate(chunks):
                if deadline is not None and time.perf_counter() > deadline:
                    break
                results[k] = run_chunk(inputs, spec, protocols, chunk)
                bar(len(chunk))
                if on_chunk:
                    on_chunk(len(chunk))
        else:
            with make_executor(scheduler, n_workers) as pool:
                futures: dict[Future[Any], int] = {
                    pool.submit(run_chunk, inputs, spec, protocols, chunk): k
                    for k, chunk in enumerate(chunks)}
                left = None if deadline is None else max(0.0, deadline - time.perf_counter())
                try:
                    for future in _as_completed(futures, left):
                        k = futures[future]
                        results[k] = future.result()
                        bar(len(chunks[k]))
                        if on_chunk:
                            on_chunk(len(chunks[k]))
                except TimeoutError:
                    for future in futures:
                        future.cancel()
    finally:
        bar(0, close=True)
    done = sum(len(chunks[k]) for k in results)
    if done < len(reps):
        notes.append(f"time limit: {done} of {len(reps)} replications finished; every "
                     "figure rests on those")
    rows = [row for k in sorted(results) for row in results[k][0]]
    group_rows = [row for k in sorted(results) for row in results[k][1]]
    raw = pd.DataFrame(rows)
    groups = pd.DataFrame(group_rows)
    return CompareResult(
        summary=summarise(raw, ["protocol", "reserves"], METRICS),
        groups=summarise(groups, ["protocol", "reserves", "group", "value"], GROUP_METRICS),
        replications=raw,
        spec={**asdict(spec), "protocols": protocols, "workers": n_workers,
              "completed": done},
        policy=inputs.policy.describe(),
        inputs={"sha256": inputs.hashes, "files": dict(inputs.files)},
        notes=tuple(notes),
        timings={"total": time.perf_counter() - t0},
    )


def _as_completed(futures: dict[Future[Any], int],
                  timeout: float | None) -> Iterator[Future[Any]]:
    from concurrent.futures import as_completed

    return as_completed(futures, timeout=timeout)


def _progress(total: int, enabled: bool) -> Callable[..., None]:
    if not enabled:
        return lambda n, close=False: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="replication", desc="compare", leave=False)

    def step(n: int, close: bool = False) -> None:
        if n:
            bar.update(n)
        if close:
            bar.close()

    return step


def summarise(raw: pd.DataFrame, keys: list[str], metrics: tuple[str, ...]) -> pd.DataFrame:
    """Mean, sd and a 95% t-interval over replications, per key and metric."""
    columns = [*keys, "metric", "mean", "sd", "ci_low", "ci_high", "n"]
    if raw.empty:
        return pd.DataFrame(columns=columns)
    from scipy.special import stdtrit  # the t quantile (scipy.stats costs seconds to import)

    long = raw.melt(id_vars=keys, value_vars=list(metrics), var_name="metric",
                    value_name="_x").dropna(subset=["_x"])
    stats = long.groupby([*keys, "metric"], sort=False)["_x"].agg(["mean", "std", "count"])
    stats = stats.reset_index().rename(columns={"std": "sd", "count": "n"})
    n = stats["n"].to_numpy(dtype=float)
    sd = np.nan_to_num(stats["sd"].to_numpy(dtype=float))
    # one replication has no interval (a t-interval needs n >= 2): missing, never [mean, mean]
    half = np.where(n > 1, stdtrit(np.maximum(n - 1, 1), 0.975) * sd / np.sqrt(n), np.nan)
    stats["sd"] = sd
    stats["ci_low"] = stats["mean"] - half
    stats["ci_high"] = stats["mean"] + half
    order = {m: i for i, m in enumerate(metrics)}
    stats["_order"] = stats["metric"].map(order)
    first = {key: i for i, key in enumerate(dict.fromkeys(map(tuple, raw[keys].to_numpy())))}
    stats["_key"] = [first[tuple(row)] for row in stats[keys].to_numpy()]
    stats = stats.sort_values(["_key", "_order"], kind="stable").drop(columns=["_order", "_key"])
    stats["n"] = stats["n"].astype(int)
    return stats[columns].reset_index(drop=True)


def table(result: CompareResult, metric: str = "lives_gained") -> pd.DataFrame:
    """One metric as a protocol x reserves table (mean and interval), for printing."""
    rows = result.summary[result.summary["metric"] == metric]
    return rows[["protocol", "reserves", "mean", "ci_low", "ci_high", "n"]].reset_index(
        drop=True)
