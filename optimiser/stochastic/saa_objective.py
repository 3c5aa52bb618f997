"""What sample-average approximation bounds when the planner has a risk measure
(optimiser.stochastic.replications; docs/stochastic.md, "Sample-average approximation").

L(x, xi): the lives of the best recourse once the demand xi is known, with the commit x fixed;
D(x, xi) = D0(xi) - L(x, xi) the deaths. The true problem maximises

    neutral:  f(x) = E[L]
    cvar:     f(x) = E[L] - lambda CVaR_alpha(D)
    worst:    f(x) = -CVaR_alpha(D)            (the alpha-worst scenarios only)

With x fixed, each of these is non-decreasing in every scenario's L, so the best recourse is
the deterministic re-plan of each scenario on its own: the recourse that scores a neutral
commit scores a risk-averse one. Rockafellar-Uryasev writes CVaR_alpha(D) = min_eta eta +
E[D - eta]^+ / alpha, so f(x) = max_eta E[F(x, eta, xi)] with

    F(x, eta, xi) = w L - lambda (eta + [D - eta]^+ / alpha)       (w = 0 for worst, lambda = 1)

an expectation of a function of first-stage variables (x, eta): the SAA problem on N scenarios
is the extensive form the stochastic planner solves, and Mak-Morton-Wood's bounds hold for f
as they do for E[L]:

* upper: E[v_N] >= z* = max f (the optimum of each replication, and its proven bound);
* lower: eta^ is fixed before scoring (the value-at-risk of the candidate's deaths on the
  selection sample), and (1/N') sum_j F(x^, eta^, xi_j) on fresh scenarios is an unbiased
  estimate of f(x^, eta^) <= f(x^): a conservative lower bound. (The plug-in estimate
  mean L - lambda CVaR_hat(D) would not be: the sample CVaR is biased low.)
* gap: G_m = b_m - (1/N) sum_i F(x^, eta^, xi^{m,i}) >= v_m - f_N^m(x^) >= 0, and for m
  not the candidate's own replication (x^ must not depend on the sample it is scored on)
  E[G_m] >= z* - f(x^, eta^) >= z* - f(x^).

All figures are in the model's lives (expected survivors, deaths in expected counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.stochastic import Risk
from optimiser.scenarios.stats import cvar, value_at_risk


@dataclass(frozen=True)
class SaaObjective:
    """f(x) of the module docstring for one risk measure."""

    risk: Risk

    @property
    def tail(self) -> bool:
        return self.risk.uses_tail

    @property
    def lives_weight(self) -> float:
        return 0.0 if self.risk.kind == "worst" else 1.0

    @property
    def tail_weight(self) -> float:
        return {"neutral": 0.0, "cvar": self.risk.weight, "worst": 1.0}[self.risk.kind]

    def describe(self) -> str:
        """What the bounds bound, in words."""
        a = f"{self.risk.alpha:g}"
        if self.risk.kind == "neutral":
            return "expected lives (extra survivors)"
        if self.risk.kind == "cvar":
            return (
                f"expected lives - {self.risk.weight:g} x CVaR_{a} of deaths (the mean deaths "
                f"of the {self.risk.alpha:.0%} worst scenarios), in lives"
            )
        return (
            f"minus CVaR_{a} of deaths (the mean deaths of the {self.risk.alpha:.0%} worst "
            "scenarios), in lives: higher is better"
        )

    def sample_value(self, lives: np.ndarray, deaths: np.ndarray, p: np.ndarray) -> float:
        """f on a sample (probabilities p): E_p[L] w - lambda CVaR_p(D), the eta optimised."""
        p = np.asarray(p, dtype=float) / float(np.sum(p))
        value = self.lives_weight * float(np.dot(lives, p))
        if self.tail:
            value -= self.tail_weight * cvar(np.asarray(deaths, dtype=float), p, self.risk.alpha)
        return value

    def eta(self, deaths: np.ndarray, p: np.ndarray) -> float | None:
        """The eta fixed for scoring: the value-at-risk of `deaths` (None without a tail)."""
        if not self.tail:
            return None
        p = np.asarray(p, dtype=float) / float(np.sum(p))
        return value_at_risk(np.asarray(deaths, dtype=float), p, self.risk.alpha)

    def terms(self, lives: np.ndarray, deaths: np.ndarray, eta: float | None) -> np.ndarray:
        """F(x, eta, xi) per scenario."""
        out = self.lives_weight * np.asarray(lives, dtype=float)
        if self.tail:
            assert eta is not None
            excess = np.maximum(np.asarray(deaths, dtype=float) - eta, 0.0)
            out = out - self.tail_weight * (eta + excess / self.risk.alpha)
        return out


__all__ = ["SaaObjective"]
