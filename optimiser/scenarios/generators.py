"""Scenario generators, each seeded (numpy's PCG64, `default_rng(seed)`) and documented in
docs/scenarios.md, "Generators", with the maths and parameters:

* `interval_scenarios`: a forecast's prediction intervals as log-normal distributions, one
  quantile per region and scenario, regions tied by a Gaussian copula of rank correlation rho;
* `forecast_scenarios`: competing forecasts, each a scenario (with weights), or sampled region
  by region from them with a copula of rank correlation rho;
* `lognormal_scenarios`: multiplicative log-normal errors around a base forecast, correlated
  across regions, growing with lead time, with shifts of the peak date.

Values are rounded to 1e-4 patients, so that a set written to scenarios.csv reads back exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputError, Problem, counted
from optimiser.multiperiod.instance import MAX_DAYS, MAX_UNITS, MultiPeriodInstance
from optimiser.scenarios.forecasts import Forecast
from optimiser.scenarios.model import ScenarioSet, make_scenario_set, scenario_ids

DECIMALS = 4
MAX_GENERATED = 100_000  # scenarios
# scenarios x regions x days drawn at once: about 100 bytes of memory each while drawing (and
# 19 in scenarios.csv); 100,000 scenarios of the US instance took 20 GB before this bound
MAX_VALUES = 20_000_000
MAX_SIGMA = 3.0  # log-space standard deviation: e^(1.96 x 3) is a factor of 360
CENTERS = ("mean", "median")
MIN_INTERVAL_PATIENTS = 0.5  # a lower bound under half a patient is draws at zero: no width


def pearson_from_rank(rank_correlation: float) -> float:
    """The Gaussian copula's Pearson correlation with Spearman rank correlation rho_s:
    rho = 2 sin(pi rho_s / 6) (Pearson 1907; Kruskal 1958)."""
    return 2.0 * math.sin(math.pi * rank_correlation / 6.0)


def correlated_normals(
    rng: np.random.Generator, scenarios: int, regions: int, rank_correlation: float
) -> np.ndarray:
    """Standard normals (scenarios x regions), equicorrelated across regions with the Pearson
    correlation of `rank_correlation`: z = sqrt(rho) g + sqrt(1 - rho) e, g one common
    normal per scenario, e independent. Draw order: g (scenarios), then e (scenarios x regions)."""
    rho = pearson_from_rank(rank_correlation)
    common = rng.standard_normal(scenarios)
    own = rng.standard_normal((scenarios, regions))
    return math.sqrt(rho) * common[:, None] + math.sqrt(1.0 - rho) * own


def _check(problems: list[Problem], ok: bool, option: str, message: str, value: Any) -> None:
    if not ok:
        problems.append(Problem(f"{message}, got {value!r}", column=option, column_word="option"))


def _number(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(float(value))
    )


def check_size(instance: MultiPeriodInstance, scenarios: int, option: str = "scenarios") -> None:
    """Refuse a set too large to draw (MAX_VALUES), saying how many scenarios fit."""
    cells = len(instance.regions) * instance.days
    if scenarios * cells > MAX_VALUES:
        raise InputError(Problem(
            f"{scenarios:,} scenarios x {len(instance.regions):,} regions x {instance.days:,} "
            f"days = {scenarios * cells:,} values, more than {MAX_VALUES:,} (about 100 bytes "
            f"of memory each while drawing): at most {MAX_VALUES // cells:,} scenarios here",
            column=option, column_word="option"))


def _common_checks(problems: list[Problem], scenarios: int, seed: int, correlation: float) -> None:
    _check(
        problems,
        isinstance(scenarios, int)
        and not isinstance(scenarios, bool)
        and 1 <= scenarios <= MAX_GENERATED,
        "scenarios",
        f"must be a whole number in 1..{MAX_GENERATED:,}",
        scenarios,
    )
    _check(
        problems,
        isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**63,
        "seed",
        "must be a whole number >= 0",
        seed,
    )
    _check(
        problems,
        _number(correlation) and 0.0 <= float(correlation) <= 1.0,
        "correlation",
        "must be a rank correlation in [0, 1]",
        correlation,
    )


# ---------------------------------------------------------------------------------------------
# (a) From a forecast's prediction intervals


@dataclass(frozen=True)
class IntervalSpec:
    """scenarios drawn from a forecast's intervals; correlation: rank correlation of the
    regions' quantiles."""

    scenarios: int = 100
    seed: int = 0
    correlation: float = 0.5

    def check(self) -> None:
        problems: list[Problem] = []
        _common_checks(problems, self.scenarios, self.seed, self.correlation)
        if problems:
            raise InputError(problems)


def interval_sigma(forecast: Forecast) -> tuple[np.ndarray, list[str]]:
    """Log-space standard deviations sigma_{r,d} from the interval [l, u] at level L:
    sigma = (ln u - ln l) / (2 z), z = Phi^-1((1 + L) / 2), where l >= 0.5 patient and u > l.
    Elsewhere (a lower bound under half a patient is draws at zero, not a width) the region's
    nearest day with a usable interval lends its sigma (the earlier on a tie); a region with
    none gets sigma = 0 (listed in the second return value). Capped at MAX_SIGMA."""
    from scipy.stats import norm

    if forecast.lower is None or forecast.upper is None:
        raise InputError(
            Problem(f"forecast {forecast.name} has no lower/upper columns: no interval to use")
        )
    z = float(norm.ppf((1.0 + forecast.interval_level) / 2.0))
    lower = forecast.lower.to_numpy(dtype=float)
    upper = forecast.upper.to_numpy(dtype=float)
    usable = (lower >= MIN_INTERVAL_PATIENTS) & (upper > lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(usable, (np.log(upper) - np.log(lower)) / (2.0 * z), np.nan)
    n, T = raw.shape
    sigma = np.zeros((n, T))
    without: list[str] = []
    days = np.arange(T)
    for r in range(n):
        have = np.nonzero(usable[r])[0]
        if not len(have):
            without.append(str(forecast.mean.index[r]))
            continue
        # nearest usable day; argmin takes the first (earlier) of two equally near days
        nearest = have[np.argmin(np.abs(days[:, None] - have[None, :]), axis=1)]
        sigma[r] = raw[r, nearest]
    return np.minimum(sigma, MAX_SIGMA), without


def interval_scenarios(
    instance: MultiPeriodInstance, forecast: Forecast, spec: IntervalSpec
) -> ScenarioSet:
    """Scenario s, region r, day d: m_{r,d} exp(sigma_{r,d} z_{s,r} - sigma_{r,d}^2 / 2), with
    m the forecast's mean (the log-normal's mean), sigma from interval_sigma and z standard
    normals equicorrelated across regions (rank correlation spec.correlation), one per region
    and scenario: each scenario follows one quantile of the region's forecast over the whole
    window."""
    spec.check()
    check_size(instance, spec.scenarios)
    sigma, without = interval_sigma(forecast)
    mean = forecast.mean.reindex(instance.regions).to_numpy(dtype=float)
    rng = np.random.default_rng(spec.seed)
    z = correlated_normals(rng, spec.scenarios, len(instance.regions), spec.correlation)
    values = mean[None] * np.exp(sigma[None] * z[:, :, None] - 0.5 * sigma[None] ** 2)
    return _finish(
        instance,
        values,
        sampled=True,
        info={
            "generator": "intervals",
            "parameters": asdict(spec),
            "forecast": forecast.name,
            "interval_level": forecast.interval_level,
            "regions_without_interval": without,
        },
    )


# ---------------------------------------------------------------------------------------------
# (b) From competing forecasts


@dataclass(frozen=True)
class ForecastMixSpec:
    """scenarios = 0: each forecast is one scenario, with `weights` (equal by default) as its
    probability. scenarios > 0: that many equally likely draws; in each, region r follows
    forecast j with probability weights_j, regions tied by a copula of rank correlation
    `correlation` (1: all regions follow the same forecast)."""

    scenarios: int = 0
    seed: int = 0
    weights: tuple[float, ...] | None = None
    correlation: float = 0.5

    def check(self, count: int) -> None:
        problems: list[Problem] = []
        _common_checks(problems, max(self.scenarios, 1), self.seed, self.correlation)
        if self.scenarios < 0:
            problems.append(Problem("must be >= 0", column="scenarios", column_word="option"))
        if count < 1:
            problems.append(
                Problem("needs at least one forecast", column="forecast", column_word="option")
            )
        if self.weights is not None:
            w = list(self.weights)
            if len(w) != count:
                problems.append(
                    Problem(
                        f"{counted(len(w), 'weight')} for {counted(count, 'forecast')}",
                        column="weight",
                        column_word="option",
                    )
                )
            elif not all(_number(x) and x >= 0 for x in w) or sum(w) <= 0:
                problems.append(
                    Problem(
                        f"weights must be numbers >= 0, not all 0, got {w}",
                        column="weight",
                        column_word="option",
                    )
                )
        if problems:
            raise InputError(problems)


def forecast_scenarios(
    instance: MultiPeriodInstance, forecasts: Sequence[Forecast], spec: ForecastMixSpec
) -> ScenarioSet:
    """Competing forecasts as scenarios (docs/scenarios.md, "Competing forecasts")."""
    spec.check(len(forecasts))
    names = [f.name for f in forecasts]
    if len(set(names)) != len(names):
        raise InputError(Problem(f"the same forecast is given twice: {names}"))
    weights = np.asarray(spec.weights if spec.weights is not None else [1.0] * len(forecasts))
    weights = weights / weights.sum()
    means = np.stack(
        [f.mean.reindex(instance.regions).to_numpy(dtype=float) for f in forecasts]
    )  # (forecasts, regions, days)
    info = {
        "generator": "forecasts",
        "parameters": {**asdict(spec), "weights": [float(w) for w in weights]},
        "forecasts": names,
    }
    if spec.scenarios == 0:
        return _finish(instance, means, ids=names, probabilities=weights, sampled=False, info=info)
    from scipy.stats import norm

    check_size(instance, spec.scenarios)
    rng = np.random.default_rng(spec.seed)
    n = len(instance.regions)
    u = norm.cdf(correlated_normals(rng, spec.scenarios, n, spec.correlation))
    edges = np.cumsum(weights)[:-1]
    pick = np.searchsorted(edges, u, side="right")  # (scenarios, regions): forecast index
    values = means[pick, np.arange(n)[None, :], :]
    info["picks"] = {
        name: int((pick == j).sum()) for j, name in enumerate(names)
    }  # region-trajectories drawn from each forecast
    return _finish(instance, values, sampled=True, info=info)


# ---------------------------------------------------------------------------------------------
# (c) Multiplicative log-normal errors growing with lead time, with peak shifts


@dataclass(frozen=True)
class LognormalSpec:
    """Errors around a base forecast (docs/scenarios.md, "Log-normal errors"):

    sigma0: log-space standard deviation of the level on day 0;
    sigma_growth: of the growth rate, per day (the error's sd grows as
        sqrt(sigma0^2 + (sigma_growth d)^2) with lead time d);
    correlation: rank correlation of the errors (and shifts) across regions;
    peak_shift_sd: standard deviation, in days, of the shift of each region's peak date;
    center: "mean" (the factor's mean is 1: the base is the expected demand) or "median" (its
        median is 1: the base is the middle scenario, the expected demand is above it).

    Defaults: the size of the errors of spring 2020's forecasts measured on the shipped
    backtests (`triage scenarios skill --errors`): across regions, ln(observed / forecast)
    had a standard deviation of about 0.45-0.70 a few days after the release and 1.2-1.9 three
    weeks after (sqrt(0.45^2 + (0.05 d)^2) is 0.45, 0.67 and 1.14 at d = 0, 10, 21), and
    regions whose peak fell inside the window missed it by a median of 5-9 days (a normal's
    median absolute value is 0.67 sd). The rank correlation 0.5 is an assumption.
    """

    scenarios: int = 100
    seed: int = 0
    sigma0: float = 0.45
    sigma_growth: float = 0.05
    correlation: float = 0.5
    peak_shift_sd: float = 7.0
    center: str = "mean"

    def check(self) -> None:
        problems: list[Problem] = []
        _common_checks(problems, self.scenarios, self.seed, self.correlation)
        for name, top in (("sigma0", MAX_SIGMA), ("sigma_growth", MAX_SIGMA / 10)):
            value = getattr(self, name)
            _check(
                problems,
                _number(value) and 0.0 <= float(value) <= top,
                name,
                f"must be a number in [0, {top:g}]",
                value,
            )
        _check(
            problems,
            _number(self.peak_shift_sd) and 0.0 <= float(self.peak_shift_sd) <= MAX_DAYS,
            "peak_shift_sd",
            f"must be a number of days in [0, {MAX_DAYS:,}]",
            self.peak_shift_sd,
        )
        _check(
            problems,
            self.center in CENTERS,
            "center",
            f"must be one of {', '.join(CENTERS)}",
            self.center,
        )
        if problems:
            raise InputError(problems)


def peak_days(base: np.ndarray) -> np.ndarray:
    """First day of each region's maximum (regions x days -> regions)."""
    return np.argmax(base, axis=1)


def warp(days: int, peak: int, target: np.ndarray) -> np.ndarray:
    """Time maps t(d) moving a peak on day `peak` to day `target` (one per scenario): t(0) = 0,
    t(target) = peak, linear in between (the rise stretched or compressed) and t(d) = d -
    (target - peak) after (the decline shifted). Shape (scenarios, days)."""
    d = np.arange(days, dtype=float)[None, :]
    q = target[:, None].astype(float)
    rise = np.where(q > 0, d * peak / np.where(q > 0, q, 1.0), 0.0)
    return np.where(d <= q, rise, d - (q - peak))


def lognormal_scenarios(
    instance: MultiPeriodInstance,
    spec: LognormalSpec,
    base: pd.DataFrame | None = None,
    *,
    base_name: str = "demand.csv",
) -> ScenarioSet:
    """D^s_{r,d} = B_r(t^s_r(d)) exp(sigma0 a_{s,r} + sigma_growth d b_{s,r} - v_d / 2),
    v_d = sigma0^2 + (sigma_growth d)^2 (without the - v_d / 2 for center "median"): B the base
    forecast (the instance's demand unless
    given) read at warped time t (linear interpolation, held at its first and last values
    outside the window), a and b standard normals equicorrelated across regions (rank
    correlation spec.correlation), the factor's mean 1. The peak of region r moves by
    delta = peak_shift_sd c_{s,r} days (c likewise correlated), to a target day kept >= 1
    (>= 0 when the peak is on day 0: day 0 is observed) and <= 3 T. Draw order: a, b, c."""
    spec.check()
    check_size(instance, spec.scenarios)
    B = (instance.demand if base is None else base).reindex(instance.regions)
    base_values = B.to_numpy(dtype=float)
    S, (n, T) = spec.scenarios, base_values.shape
    rng = np.random.default_rng(spec.seed)
    a = correlated_normals(rng, S, n, spec.correlation)
    b = correlated_normals(rng, S, n, spec.correlation)
    c = correlated_normals(rng, S, n, spec.correlation)
    d = np.arange(T, dtype=float)
    variance = spec.sigma0**2 + (spec.sigma_growth * d) ** 2
    log_factor = (
        spec.sigma0 * a[:, :, None]
        + spec.sigma_growth * d[None, None, :] * b[:, :, None]
        - (0.5 if spec.center == "mean" else 0.0) * variance[None, None, :]
    )
    curves = np.empty((S, n, T))
    peaks = peak_days(base_values)
    shifted = spec.peak_shift_sd > 0
    grid = np.arange(T, dtype=float)
    for r in range(n):
        if not shifted or not base_values[r].any():
            curves[:, r, :] = base_values[r][None, :]
            continue
        p = int(peaks[r])
        target = np.clip(p + spec.peak_shift_sd * c[:, r], min(p, 1), 3 * T)
        curves[:, r, :] = np.interp(warp(T, p, target), grid, base_values[r])
    values = curves * np.exp(log_factor)
    return _finish(
        instance,
        values,
        sampled=True,
        info={"generator": "lognormal", "parameters": asdict(spec), "base": base_name},
    )


# ---------------------------------------------------------------------------------------------


def _finish(
    instance: MultiPeriodInstance,
    values: np.ndarray,
    *,
    sampled: bool,
    info: Mapping[str, Any],
    ids: Sequence[str] | None = None,
    probabilities: np.ndarray | None = None,
) -> ScenarioSet:
    values = np.round(values, DECIMALS)
    if not np.isfinite(values).all() or values.max(initial=0.0) > MAX_UNITS:
        raise InputError(
            Problem(
                f"the generated demand exceeds {MAX_UNITS:,} patients somewhere: lower the "
                "error parameters"
            )
        )
    return make_scenario_set(
        instance,
        values,
        ids=ids if ids is not None else scenario_ids(len(values)),
        probabilities=probabilities,
        sampled=sampled,
        info=info,
    )


__all__ = [
    "ForecastMixSpec",
    "IntervalSpec",
    "LognormalSpec",
    "correlated_normals",
    "forecast_scenarios",
    "interval_scenarios",
    "interval_sigma",
    "lognormal_scenarios",
    "pearson_from_rank",
    "warp",
]
