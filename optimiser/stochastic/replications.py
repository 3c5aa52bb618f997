"""Sample-average approximation with independent replications and statistical bounds on the
optimality gap (Mak, Morton and Wood 1999, "Monte Carlo bounding techniques for determining
solution quality in stochastic programs"; docs/stochastic.md, "Sample-average approximation").

The true problem: z* = max_x E[Q(x, xi)], x the commit (first stage), Q the best recourse
(expected extra survivors) once the demand xi is known. We MAXIMISE, so the directions are:

* replication m = 1..M solves the extensive form on N i.i.d. scenarios xi^{m,1..N} (fresh
  seeds from one master seed): optimum v_m, proven bound b_m >= v_m. E[v_N] >= z* (the SAA
  optimum is optimistic), so the mean of the b_m is an UPPER bound estimate, with the
  one-sided bound  mean(b) + t_{M-1, c} s_b / sqrt(M);
* each replication's commit x_m is scored on a separate selection sample; the best is the
  candidate x^. Its value E[Q(x^, xi)] <= z* is estimated on N' fresh scenarios: the LOWER
  bound estimate, with the one-sided bound  mean - t_{N'-1, c} s / sqrt(N');
* the gap z* - E[Q(x^, xi)] (MMW's multiple-replication procedure, common random numbers):
  G_m = b_m - (1/N) sum_i Q(x^, xi^{m,i}) >= 0 (x^ is feasible in every replication's SAA
  problem), G = mean(G_m), one-sided bound  G + t_{M-1, c} s_G / sqrt(M).

Q(x, xi) is the deterministic planner's optimum for that demand with x fixed as executed moves
(the same recourse as optimiser.stochastic.compare), so every figure is in the model's lives.
Replications and recourse solves run on optimiser.executor (local processes, or Dask).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from models.fairness import ConstraintSpec
from optimiser.errors import InfeasibleError, InputError, Problem, TriageError
from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios.model import ScenarioSet, check_compatible, make_scenario_set
from optimiser.scenarios.table import GeneratorRequest
from optimiser.stochastic.api import DEFAULT_COMMIT_DAYS, plan_under_uncertainty
from optimiser.stochastic.results import COMMITTED_COLUMNS

DEFAULT_CONFIDENCE = 0.95
MAX_SCENARIOS = 100_000
Source = GeneratorRequest | ScenarioSet


@dataclass(frozen=True)
class SaaResult:
    """The SAA bounds. replications: index replication; seed, value (v_m), bound (b_m),
    selection (the commit's mean recourse lives on the selection sample), candidate_value
    (x^'s mean on replication m's sample), gap (G_m). Bounds are one-sided at `confidence`."""

    instance: str
    replications: int
    sample_size: int
    selection_size: int
    evaluation_size: int
    seed: int
    confidence: float
    commit_days: int
    candidate: int
    committed: pd.DataFrame
    upper_bound: float
    upper_bound_high: float
    lower_bound: float
    lower_bound_low: float
    gap: float
    gap_high: float
    per_replication: pd.DataFrame
    recourse_without_fairness: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: _num(getattr(self, k))
            for k in (
                "instance",
                "replications",
                "sample_size",
                "selection_size",
                "evaluation_size",
                "seed",
                "confidence",
                "commit_days",
                "candidate",
                "upper_bound",
                "upper_bound_high",
                "lower_bound",
                "lower_bound_low",
                "gap",
                "gap_high",
                "recourse_without_fairness",
            )
        }
        out["committed"] = [
            {c: _num(v) for c, v in r.items()} for r in self.committed.to_dict("records")
        ]
        table = self.per_replication
        out["per_replication"] = [
            {"replication": int(i), **{c: _num(v) for c, v in r.items()}}
            for i, r in zip(table.index.tolist(), table.to_dict("records"), strict=True)
        ]
        out["info"] = self.info
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SaaResult:
        frame = pd.DataFrame(list(data["per_replication"]), columns=["replication", *REP_COLUMNS])
        committed = pd.DataFrame(list(data["committed"]), columns=COMMITTED_COLUMNS)
        committed = committed.astype({"day": "int64", "arrives": "int64", "units": float})
        return cls(
            replications=int(data["replications"]),
            sample_size=int(data["sample_size"]),
            selection_size=int(data["selection_size"]),
            evaluation_size=int(data["evaluation_size"]),
            seed=int(data["seed"]),
            confidence=float(data["confidence"]),
            commit_days=int(data["commit_days"]),
            candidate=int(data["candidate"]),
            upper_bound=float(data["upper_bound"]),
            upper_bound_high=float(data["upper_bound_high"]),
            lower_bound=float(data["lower_bound"]),
            lower_bound_low=float(data["lower_bound_low"]),
            gap=float(data["gap"]),
            gap_high=float(data["gap_high"]),
            recourse_without_fairness=int(data.get("recourse_without_fairness") or 0),
            instance=str(data["instance"]),
            committed=committed,
            per_replication=frame.set_index("replication").astype({"seed": "int64"}),
            info=dict(data.get("info") or {}),
        )


REP_COLUMNS = ["seed", "value", "bound", "selection", "candidate_value", "gap"]


def _num(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 9)
    return v


def seeds(master: int, count: int) -> list[int]:
    """`count` independent seeds from one master seed (numpy's SeedSequence spawning)."""
    children = np.random.SeedSequence(master).spawn(count)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def draw(instance: MultiPeriodInstance, source: Source, n: int, seed: int) -> ScenarioSet:
    """n i.i.d. scenarios: a generator run with this seed, or n draws (with replacement, by
    probability) from a scenario set taken as the true distribution."""
    if isinstance(source, GeneratorRequest):
        params = {**source.parameters, "scenarios": n, "seed": seed}
        return replace(source, parameters=params).run(instance)
    rng = np.random.default_rng(seed)
    p = source.probability.to_numpy(dtype=float)
    picks = rng.choice(len(p), size=n, p=p / p.sum())
    cube = source.array(instance.regions)[picks]
    ids = [f"d{i + 1}_{source.ids[j]}" for i, j in enumerate(picks)]
    return make_scenario_set(
        instance, cube, ids, sampled=True, info={"generator": "resample", "seed": seed}
    )


def solve_replication(
    instance: MultiPeriodInstance,
    sample: ScenarioSet,
    constraints: list[Any],
    default_constraints: bool,
    commit_days: int,
    mip_gap: float | None,
) -> dict[str, Any]:
    """One SAA problem (the extensive form on `sample`): v_m, b_m and the commit x_m."""
    result = plan_under_uncertainty(
        instance,
        sample,
        constraints,
        commit_days=commit_days,
        default_constraints=default_constraints,
        mip_gap=mip_gap,
        price_of_fairness=False,
    )
    if result.status == "infeasible":
        raise InfeasibleError(
            "an SAA replication is infeasible: the constraints cannot hold in every scenario "
            f"of its sample. {result.explanation or ''}".strip()
        )
    if result.expected_lives is None:
        raise TriageError(
            f"an SAA replication has no plan (status {result.status}): "
            f"{result.explanation or 'no explanation'}"
        )
    bound = result.lives_bound if result.lives_bound is not None else result.expected_lives
    return {
        "value": float(result.expected_lives),
        "bound": float(bound),
        "committed": result.committed,
        "end": int(result.commit_end),
    }


def recourse_lives(
    instance: MultiPeriodInstance,
    commit: pd.DataFrame,
    end: int,
    sample: ScenarioSet,
    constraints: list[Any],
    default_constraints: bool,
) -> tuple[list[float], int]:
    """Q(commit, xi) for every scenario of `sample` (the deterministic re-plan from `end`
    with the commit fixed); the second value counts scenarios re-planned without fairness."""
    from optimiser.stochastic.compare import recourse

    plans, relaxed = recourse(instance, commit, end, sample, constraints, default_constraints)
    out = []
    for sid in sample.ids:
        lives = plans[sid].lives_saved
        if lives is None:
            raise TriageError(f"no recourse plan in scenario {sid} (status {plans[sid].status})")
        out.append(float(lives))
    return out, relaxed


class _Runner:
    """One executor for a whole SAA run: every batch of tasks comes back in order, run in this
    process (workers=1) or on optimiser.executor (local processes, or a Dask scheduler). The
    results do not depend on where they ran. A progress bar on a terminal (`progress`)."""

    def __init__(self, workers: int | None, scheduler: Any, progress: bool) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self.progress = progress
        self._stack = contextlib.ExitStack()
        self.pool: Any = None

    def __enter__(self) -> _Runner:
        if self.scheduler is not None or self.workers != 1:
            from optimiser.executor import WorkerLost, default_workers, make_executor

            self.count = self.workers or default_workers()
            try:
                self.pool = self._stack.enter_context(make_executor(self.scheduler, self.count))
            except WorkerLost as exc:
                raise _lost(exc) from None
        else:
            self.count = 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def run(
        self,
        tasks: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
        what: str,
        size: Callable[[Any], int] = lambda _: 1,
        total: int | None = None,
    ) -> list[Any]:
        from concurrent.futures import BrokenExecutor, as_completed

        from tqdm.auto import tqdm

        from optimiser.executor import WorkerLost

        bar = tqdm(
            total=total or len(tasks),
            desc=what,
            disable=None if self.progress else True,
            dynamic_ncols=True,
        )
        try:
            if self.pool is None:
                out = []
                for fn, args in tasks:
                    out.append(fn(*args))
                    bar.update(size(out[-1]))
                return out
            futures = [self.pool.submit(fn, *args) for fn, args in tasks]
            for future in as_completed(futures):
                bar.update(size(future.result()))
            return [f.result() for f in futures]
        except (BrokenExecutor, WorkerLost) as exc:
            raise _lost(exc) from None
        finally:
            bar.close()


def _lost(exc: BaseException) -> TriageError:
    return TriageError(
        f"a worker process died or could not start during SAA ({exc}); a script that "
        "starts workers needs an `if __name__ == '__main__':` guard"
    )


def _chunks(sample: ScenarioSet, parts: int) -> list[ScenarioSet]:
    """The scenarios in about `parts` consecutive chunks (about four per worker: a slow chunk
    does not hold the others back, as in optimiser.scenarios.evaluate)."""
    ids = sample.ids
    size = max(1, math.ceil(len(ids) / parts))
    return [sample.subset(ids[a : a + size]) for a in range(0, len(ids), size)]


def _check(
    replications: int,
    sample_size: int,
    selection_size: int | None,
    evaluation_size: int,
    seed: int,
    confidence: float,
    workers: int | None,
) -> None:
    problems: list[Problem] = []

    def whole(v: Any, low: int, high: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

    def bad(option: str, message: str, value: Any) -> None:
        problems.append(Problem(f"{message}, got {value!r}", column=option, column_word="option"))

    if not whole(replications, 2, 1000):
        bad(
            "replications",
            "must be a whole number in 2..1000 (the bounds need the variance "
            "over at least two independent replications)",
            replications,
        )
    if not whole(sample_size, 1, MAX_SCENARIOS):
        bad("sample", f"must be a whole number of scenarios in 1..{MAX_SCENARIOS}", sample_size)
    if selection_size is not None and not whole(selection_size, 1, MAX_SCENARIOS):
        bad("select-on", f"must be a whole number in 1..{MAX_SCENARIOS}", selection_size)
    if not whole(evaluation_size, 2, MAX_SCENARIOS):
        bad(
            "evaluate-on",
            f"must be a whole number in 2..{MAX_SCENARIOS} (a confidence "
            "interval needs two scenarios)",
            evaluation_size,
        )
    if not whole(seed, 0, 2**63 - 1):
        bad("seed", "must be a whole number >= 0", seed)
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not (0.5 <= confidence < 1.0)
    ):
        bad("confidence", "must be a level in [0.5, 1)", confidence)
    if workers is not None and not whole(workers, 1, 4096):
        bad("workers", "must be a whole number in 1..4096", workers)
    if problems:
        raise InputError(problems)


def _one_sided(x: np.ndarray, confidence: float) -> float:
    """t_{n-1, c} s / sqrt(n): the one-sided half-width of a mean of n i.i.d. values."""
    from scipy.stats import t

    n = len(x)
    return float(t.ppf(confidence, n - 1)) * float(np.std(x, ddof=1)) / math.sqrt(n)


def saa(
    instance: MultiPeriodInstance,
    source: Source,
    constraints: Iterable[ConstraintSpec | str | Mapping[str, Any]] | None = None,
    *,
    replications: int = 10,
    sample_size: int = 10,
    evaluation_size: int = 100,
    selection_size: int | None = None,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    commit_days: int = DEFAULT_COMMIT_DAYS,
    default_constraints: bool = True,
    mip_gap: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = False,
) -> SaaResult:
    """M = `replications` SAA problems of N = `sample_size` scenarios each, the candidate
    chosen on `selection_size` scenarios (default N), scored on N' = `evaluation_size`; the
    bounds of the module docstring. `source`: a GeneratorRequest (run with fresh seeds) or a
    ScenarioSet taken as the true distribution (resampled). Same seed, same answer, however
    the work is split: `workers` local processes (1: this process; default the cores) or a
    Dask `scheduler` (address or client). `progress`: bars on a terminal."""
    _check(replications, sample_size, selection_size, evaluation_size, seed, confidence, workers)
    if isinstance(source, ScenarioSet):
        check_compatible(source, instance)
    specs = list(constraints or [])
    select_n = selection_size or sample_size
    M = replications
    rep_seeds = seeds(seed, M + 2)
    samples = [draw(instance, source, sample_size, s) for s in rep_seeds[:M]]
    selection = draw(instance, source, select_n, rep_seeds[M])
    evaluation = draw(instance, source, evaluation_size, rep_seeds[M + 1])
    with _Runner(workers, scheduler, progress) as runner:
        reps = runner.run(
            [
                (solve_replication, (instance, s, specs, default_constraints, commit_days, mip_gap))
                for s in samples
            ],
            f"SAA replications ({M} x {sample_size} scenarios)",
        )
        end = reps[0]["end"]
        scored = runner.run(
            [
                (
                    recourse_lives,
                    (instance, r["committed"], end, selection, specs, default_constraints),
                )
                for r in reps
            ],
            "choose the candidate",
        )
        p_sel = selection.probability.to_numpy(dtype=float)
        selection_means = [float(np.dot(lives, p_sel)) for lives, _ in scored]
        best = int(np.argmax(selection_means))  # ties: the first replication
        committed = reps[best]["committed"]
        parts = _chunks(evaluation, 4 * runner.count) if runner.count > 1 else [evaluation]
        runs = runner.run(
            [
                (recourse_lives, (instance, committed, end, s, specs, default_constraints))
                for s in [*samples, *parts]
            ],
            "score the candidate",
            size=lambda r: len(r[0]),
            total=M * sample_size + evaluation_size,
        )
    outside_runs = runs[M:]
    runs = [
        *runs[:M],
        ([x for lives, _ in outside_runs for x in lives], sum(r for _, r in outside_runs)),
    ]
    relaxed = sum(r for _, r in runs) + sum(r for _, r in scored)
    own = np.array([float(np.mean(lives)) for lives, _ in runs[:M]])
    bounds = np.array([r["bound"] for r in reps])
    gaps = bounds - own
    outside = np.array(runs[M][0])
    upper = float(bounds.mean())
    lower = float(outside.mean())
    gap = float(gaps.mean())
    table = pd.DataFrame(
        {
            "seed": rep_seeds[:M],
            "value": [r["value"] for r in reps],
            "bound": bounds,
            "selection": selection_means,
            "candidate_value": own,
            "gap": gaps,
        },
        index=pd.RangeIndex(1, M + 1, name="replication"),
    ).astype({"seed": "int64"})
    return SaaResult(
        instance=instance.name,
        replications=M,
        sample_size=sample_size,
        selection_size=select_n,
        evaluation_size=evaluation_size,
        seed=seed,
        confidence=confidence,
        commit_days=commit_days,
        candidate=best + 1,
        committed=committed,
        upper_bound=upper,
        upper_bound_high=upper + _one_sided(bounds, confidence),
        lower_bound=lower,
        lower_bound_low=lower - _one_sided(outside, confidence),
        gap=gap,
        gap_high=gap + _one_sided(gaps, confidence),
        per_replication=table,
        recourse_without_fairness=int(relaxed),
        info={
            "source": _describe(source),
            "seeds": {"selection": rep_seeds[M], "evaluation": rep_seeds[M + 1]},
            "recourse": "deterministic re-plan per scenario with the commit fixed "
            "(the model's lives)",
            "gap_estimator": "Mak, Morton and Wood 1999, multiple replications, common "
            "random numbers",
        },
    )


def _describe(source: Source) -> dict[str, Any]:
    if isinstance(source, GeneratorRequest):
        return {"generator": source.method, "parameters": dict(source.parameters)}
    return {"resample": len(source), "of": dict(source.info)}


__all__ = ["SaaResult", "draw", "recourse_lives", "saa", "seeds", "solve_replication"]
