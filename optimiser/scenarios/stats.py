"""The statistics of an out-of-sample evaluation (docs/scenarios.md, "Evaluating a plan").

For a discrete distribution (values x_i, probabilities p_i) every figure is exact; when the
scenarios are an i.i.d. sample of n, a confidence interval at level 1 - beta goes with it:

* mean: x_bar +- t_{n-1, 1-beta/2} s / sqrt(n);
* probability of an event: Wilson's score interval (Wilson 1927);
* CVaR_alpha (the mean of the worst alpha share of outcomes, Rockafellar and Uryasev 2000,
  2002): VaR_alpha + E[(X - VaR_alpha)+] / alpha, with the asymptotic normal interval
  CVaR +- z s_+ / (alpha sqrt(n)), s_+ the sample standard deviation of (X - VaR)+ (the
  estimator's asymptotic variance: Trindade, Uryasev, Shapiro and Zrazhevsky 2007; Hong and
  Liu 2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimiser.json_values import json_number


@dataclass(frozen=True)
class Estimate:
    """A figure with, for sampled scenarios, its confidence interval (else low = high = None)."""

    value: float
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": json_number(self.value),
            "low": json_number(self.low),
            "high": json_number(self.high),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Estimate:
        def number(v: Any) -> float | None:
            return None if v is None else float(v)

        value = number(payload.get("value"))
        return cls(
            math.nan if value is None else value,
            number(payload.get("low")),
            number(payload.get("high")),
        )


def weighted_mean(x: np.ndarray, p: np.ndarray) -> float:
    return float(np.dot(x, p))


def mean_estimate(x: np.ndarray, p: np.ndarray, sampled: bool, confidence: float) -> Estimate:
    value = weighted_mean(x, p)
    n = len(x)
    if not sampled or n < 2:
        return Estimate(value)
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2.0, n - 1)) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return Estimate(value, value - half, value + half)


def probability_estimate(
    event: np.ndarray, p: np.ndarray, sampled: bool, confidence: float
) -> Estimate:
    value = float(np.dot(event.astype(float), p))
    n = len(event)
    if not sampled or n < 1:
        return Estimate(value)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2.0))
    k = float(event.sum())
    centre = (k + z * z / 2.0) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4.0) / (n + z * z)
    return Estimate(value, max(0.0, centre - half), min(1.0, centre + half))


def value_at_risk(x: np.ndarray, p: np.ndarray, alpha: float) -> float:
    """VaR_alpha of a loss: the smallest v with P(X > v) <= alpha."""
    order = np.argsort(x, kind="stable")
    xs, ps = x[order], p[order]
    below = np.cumsum(ps)  # P(X <= xs[i])
    i = int(np.searchsorted(below, 1.0 - alpha - 1e-12, side="left"))
    return float(xs[min(i, len(xs) - 1)])


def cvar(x: np.ndarray, p: np.ndarray, alpha: float) -> float:
    """CVaR_alpha of a loss: the mean of its worst alpha share (an atom split at the edge):
    VaR + E[(X - VaR)+] / alpha (Rockafellar and Uryasev 2002)."""
    var = value_at_risk(x, p, alpha)
    return var + float(np.dot(np.maximum(x - var, 0.0), p)) / alpha


def cvar_estimate(
    x: np.ndarray, p: np.ndarray, alpha: float, sampled: bool, confidence: float
) -> Estimate:
    value = cvar(x, p, alpha)
    n = len(x)
    if not sampled or n < 2:
        return Estimate(value)
    from scipy.stats import norm

    excess = np.maximum(x - value_at_risk(x, p, alpha), 0.0)
    z = float(norm.ppf(0.5 + confidence / 2.0))
    half = z * float(np.std(excess, ddof=1)) / (alpha * math.sqrt(n))
    return Estimate(value, value - half, value + half)


__all__ = [
    "Estimate",
    "cvar",
    "cvar_estimate",
    "mean_estimate",
    "probability_estimate",
    "value_at_risk",
]
