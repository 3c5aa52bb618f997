"""The statistics of SAA's bounds (optimiser.stochastic.replications; docs/stochastic.md,
"Sample-average approximation"): one-sided t half-widths, Mak-Morton-Wood's gap over the
replications other than the candidate's, and the gap bound from the two one-sided bounds."""

from __future__ import annotations

import math

import numpy as np


def one_sided(x: np.ndarray, confidence: float) -> float:
    """t_{n-1, c} s / sqrt(n): the one-sided half-width of a mean of n i.i.d. values; inf
    when one is not finite (a replication whose bound HiGHS did not prove is +inf: the bound
    holds, unbounded, and never turns into a NaN that max(0, .) would read as 0)."""
    from scipy.stats import t

    if not np.isfinite(x).all():
        return math.inf
    n = len(x)
    return float(t.ppf(confidence, n - 1)) * float(np.std(x, ddof=1)) / math.sqrt(n)


CANDIDATE_NOTE = (
    "the candidate's own replication: x^ was optimised on this sample, so its G_m is only the "
    "MIP gap and would bias the gap estimate low; left out of the gap"
)


def gap_estimate(gaps: np.ndarray, best: int, confidence: float) -> tuple[float, float | None, str]:
    """MMW's gap estimate over the replications other than the candidate's (the candidate
    must not depend on the samples it is scored on), its one-sided bound at `confidence`
    (None with a single term: no variance) and what the bound is, in words."""
    terms = np.delete(gaps, best)
    gap = float(terms.mean())
    if len(terms) < 2:
        why = (
            "M = 2: one replication besides the candidate's, so the common-random-numbers "
            "gap has no variance estimate; gap_high is gap_high_from_bounds"
        )
        return gap, None, why
    why = (
        f"gap + t_(M-2, c) s / sqrt(M-1) over the {len(terms)} replications other than "
        "the candidate's"
    )
    return gap, gap + one_sided(terms, confidence), why


def gap_from_bounds(bounds: np.ndarray, outside: np.ndarray, confidence: float) -> float:
    """upper_bound_high - lower_bound_low with each one-sided bound at (1 + c) / 2: both hold
    together with probability >= c (union bound), whatever the candidate, so this needs no
    independence between x^ and any sample. Clipped at 0 (the true gap is never negative)."""
    both = (1.0 + confidence) / 2.0
    high = float(bounds.mean()) + one_sided(bounds, both)
    low = float(outside.mean()) - one_sided(outside, both)
    return max(0.0, high - low)


__all__ = ["CANDIDATE_NOTE", "gap_estimate", "gap_from_bounds", "one_sided"]
