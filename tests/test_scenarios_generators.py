"""Generators against their stated distributions: moments, correlations and peak shifts from
enough draws with a fixed seed (tolerances of several standard errors), seeds reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_support import load, small_instance
from scipy.stats import norm, spearmanr

from optimiser.errors import InputError
from optimiser.scenarios import (
    Forecast,
    ForecastMixSpec,
    IntervalSpec,
    LognormalSpec,
    forecast_scenarios,
    interval_scenarios,
    lognormal_scenarios,
)
from optimiser.scenarios.generators import interval_sigma, pearson_from_rank, warp

Z95 = float(norm.ppf(0.975))


@pytest.fixture(scope="module")
def inst(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load(small_instance(tmp_path_factory.mktemp("gen") / "inst", regions=4, days=30))


def flat_base(inst, value: float = 100.0) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.DataFrame(value, index=inst.demand.index, columns=inst.demand.columns)


def test_lognormal_factors_have_the_stated_moments_and_correlation(inst) -> None:  # type: ignore[no-untyped-def]
    spec = LognormalSpec(scenarios=6000, seed=11, sigma0=0.1, sigma_growth=0.02, correlation=0.6)
    values = lognormal_scenarios(inst, spec, flat_base(inst)).array(inst.regions)
    factor = values / 100.0
    S = len(factor)
    for d in (0, 10, 29):
        v = spec.sigma0**2 + (spec.sigma_growth * d) ** 2
        f = factor[:, :, d]
        se = np.sqrt(np.exp(v) - 1.0) / np.sqrt(S)
        assert np.all(np.abs(f.mean(axis=0) - 1.0) < 5 * se), (d, f.mean(axis=0))  # mean 1
        logs = np.log(f)
        assert np.allclose(logs.std(axis=0), np.sqrt(v), rtol=0.05)
        assert np.allclose(logs.mean(axis=0), -v / 2, atol=5 * np.sqrt(v / S) + 1e-4)
        rho = pearson_from_rank(spec.correlation)
        pearson = np.corrcoef(logs.T)[np.triu_indices(4, 1)]
        assert np.all(np.abs(pearson - rho) < 0.05), pearson
        rank = spearmanr(f).statistic[np.triu_indices(4, 1)]
        assert np.all(np.abs(rank - spec.correlation) < 0.05), rank


def test_median_centred_factors_have_median_one(inst) -> None:  # type: ignore[no-untyped-def]
    spec = LognormalSpec(scenarios=6000, seed=12, peak_shift_sd=0, center="median")
    logs = np.log(lognormal_scenarios(inst, spec, flat_base(inst)).array() / 100.0)
    d = 20
    sd = np.sqrt(spec.sigma0**2 + (spec.sigma_growth * d) ** 2)
    assert np.all(np.abs(np.median(logs[:, :, d], axis=0)) < 4 * 1.2533 * sd / np.sqrt(6000))
    assert np.allclose(logs[:, :, d].std(axis=0), sd, rtol=0.05)


def test_pearson_from_rank_is_the_gaussian_copula_relation() -> None:
    rng = np.random.default_rng(0)
    for rank in (0.2, 0.5, 0.9):
        rho = pearson_from_rank(rank)
        x = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=200_000)
        assert abs(spearmanr(x).statistic - rank) < 0.01
    assert pearson_from_rank(0.0) == 0.0 and abs(pearson_from_rank(1.0) - 1.0) < 1e-12


def test_peak_shifts_move_the_peak_by_the_stated_spread(inst) -> None:  # type: ignore[no-untyped-def]
    days = np.arange(inst.days)
    bump = 5 + 100 * np.exp(-0.5 * ((days - 12) / 3.0) ** 2)
    base = pd.DataFrame(
        np.tile(bump, (len(inst.regions), 1)), index=inst.demand.index, columns=inst.demand.columns
    )
    spec = LognormalSpec(
        scenarios=3000, seed=4, sigma0=0.0, sigma_growth=0.0, correlation=0.0, peak_shift_sd=3.0
    )
    values = lognormal_scenarios(inst, spec, base).array(inst.regions)
    shift = values.argmax(axis=2) - 12  # whole days
    assert abs(shift.mean()) < 0.15
    assert abs(shift.std() - np.sqrt(3.0**2 + 1 / 12)) < 0.2  # rounding adds 1/12
    assert np.all(values[:, :, 0] == np.round(bump[0], 4))  # day 0 is observed: never moved
    # the height is kept, up to the peak falling between two days (one day: 99.6 here)
    assert values.max(axis=2).min() > 0.94 * bump.max()
    # independent regions (correlation 0): shifts uncorrelated
    assert abs(np.corrcoef(shift.T)[0, 1]) < 0.06


def test_warp_maps_the_peak_and_keeps_day_zero() -> None:
    t = warp(20, peak=5, target=np.array([8.0, 2.0, 5.0]))
    assert np.allclose(t[:, 0], 0.0)
    assert np.allclose(t[0, 8], 5.0) and np.allclose(t[1, 2], 5.0) and np.allclose(t[2], range(20))
    assert np.all(np.diff(t, axis=1) >= 0)  # time never runs backwards
    assert np.allclose(t[0, 10:], np.arange(10, 20) - 3)  # after the peak: shifted
    plateau = warp(6, peak=0, target=np.array([2.0]))
    assert np.allclose(plateau[0], [0, 0, 0, 1, 2, 3])  # a peak on day 0 held 2 days


def interval_forecast(inst, sigma: np.ndarray, mean: float = 50.0) -> Forecast:  # type: ignore[no-untyped-def]
    """A forecast whose interval is exactly that of a log-normal with mean `mean`."""
    m = np.full(sigma.shape, mean)
    mu = np.log(m) - sigma**2 / 2
    frame = lambda a: pd.DataFrame(a, index=inst.demand.index, columns=inst.demand.columns)  # noqa: E731
    return Forecast(
        name="f",
        mean=frame(m),
        lower=frame(np.exp(mu - Z95 * sigma)),
        upper=frame(np.exp(mu + Z95 * sigma)),
    )


def test_intervals_become_the_stated_log_normals(inst) -> None:  # type: ignore[no-untyped-def]
    n, T = len(inst.regions), inst.days
    sigma = np.linspace(0.1, 0.6, n * T).reshape(n, T)
    forecast = interval_forecast(inst, sigma)
    fitted, without = interval_sigma(forecast)
    assert np.allclose(fitted, sigma) and without == []
    spec = IntervalSpec(scenarios=8000, seed=2, correlation=0.7)
    draws = interval_scenarios(inst, forecast, spec).array(inst.regions)
    se = 50.0 * np.sqrt(np.exp(sigma**2) - 1.0) / np.sqrt(spec.scenarios)
    assert np.all(np.abs(draws.mean(axis=0) - 50.0) < 5 * se)  # the forecast's mean
    lower, upper = forecast.lower.to_numpy(), forecast.upper.to_numpy()
    inside = ((draws >= lower) & (draws <= upper)).mean(axis=0)
    assert np.all(np.abs(inside - 0.95) < 0.015)  # the interval holds 95% of draws
    rank = spearmanr(draws[:, :, 7]).statistic[np.triu_indices(n, 1)]
    assert np.all(np.abs(rank - 0.7) < 0.04)
    # one quantile per region and scenario over the whole window: ranks agree across days
    assert spearmanr(draws[:, 0, 3], draws[:, 0, 20]).statistic > 0.999


def test_lower_bounds_under_one_patient_borrow_the_nearest_width(inst) -> None:  # type: ignore[no-untyped-def]
    n, T = len(inst.regions), inst.days
    sigma = np.full((n, T), 0.3)
    sigma[0, :10] = 0.5
    forecast = interval_forecast(inst, sigma)
    lower = forecast.lower.to_numpy().copy()
    lower[0, 12:] = 0.0  # unusable: the width comes from day 11
    lower[1, :] = 0.4  # region 2 never has a usable lower bound (< half a patient)
    forecast = Forecast(
        "f",
        forecast.mean,
        pd.DataFrame(lower, index=forecast.mean.index, columns=forecast.mean.columns),
        forecast.upper,
    )
    fitted, without = interval_sigma(forecast)
    assert np.allclose(fitted[0, 12:], 0.3) and np.allclose(fitted[0, :10], 0.5)
    assert without == [inst.regions[1]] and np.all(fitted[1] == 0.0)


def test_competing_forecasts_exact_and_sampled(inst) -> None:  # type: ignore[no-untyped-def]
    low, high = flat_base(inst, 10.0), flat_base(inst, 40.0)
    forecasts = [Forecast("low", low), Forecast("high", high)]
    exact = forecast_scenarios(inst, forecasts, ForecastMixSpec(weights=(0.3, 0.7)))
    assert exact.ids == ["low", "high"] and not exact.sampled
    assert np.allclose(exact.probability, [0.3, 0.7])
    assert np.array_equal(exact.array()[1], high.to_numpy())
    spec = ForecastMixSpec(scenarios=6000, seed=8, weights=(0.3, 0.7), correlation=0.0)
    picks = forecast_scenarios(inst, forecasts, spec).array()[:, :, 0] == 40.0
    assert np.all(np.abs(picks.mean(axis=0) - 0.7) < 0.025)  # each region: weight of 'high'
    same = (picks[:, 0] == picks[:, 1]).mean()
    assert abs(same - (0.3**2 + 0.7**2)) < 0.025  # independent regions
    tied = ForecastMixSpec(scenarios=500, seed=8, weights=(0.3, 0.7), correlation=1.0)
    rows = forecast_scenarios(inst, forecasts, tied).array()[:, :, 0]
    assert np.all(rows == rows[:, :1])  # rank correlation 1: one forecast for all regions


def test_same_seed_same_set_other_seed_other_set(inst) -> None:  # type: ignore[no-untyped-def]
    spec = LognormalSpec(scenarios=20, seed=5, peak_shift_sd=2)
    a = lognormal_scenarios(inst, spec).array()
    assert np.array_equal(a, lognormal_scenarios(inst, spec).array())
    other = LognormalSpec(scenarios=20, seed=6, peak_shift_sd=2)
    assert not np.array_equal(a, lognormal_scenarios(inst, other).array())
    # the first draws do not depend on how many are drawn after them only through the seed
    assert lognormal_scenarios(inst, spec).info["parameters"]["seed"] == 5


def test_generator_parameters_are_checked(inst) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as exc:
        lognormal_scenarios(
            inst, LognormalSpec(scenarios=0, sigma0=-1, correlation=2, peak_shift_sd=1e6)
        )
    text = " | ".join(str(p) for p in exc.value.problems)
    for option in ("scenarios", "sigma0", "correlation", "peak_shift_sd"):
        assert f"option '{option}'" in text, text
    with pytest.raises(InputError, match="2 weight"):
        forecast_scenarios(inst, [Forecast("a", flat_base(inst))], ForecastMixSpec(weights=(1, 1)))
    with pytest.raises(InputError, match="no lower/upper"):
        interval_scenarios(inst, Forecast("a", flat_base(inst)), IntervalSpec())


def test_generated_demand_beyond_the_bound_is_refused(inst) -> None:  # type: ignore[no-untyped-def]
    huge = flat_base(inst, 9e8)
    with pytest.raises(InputError, match="exceeds 1,000,000,000 patients"):
        lognormal_scenarios(inst, LognormalSpec(scenarios=50, seed=1, sigma0=2.0), huge)


def test_interval_generator_on_the_shipped_italian_backtest(tmp_path: Path) -> None:
    from optimiser.scenarios import load_backtest

    backtest = load_backtest(
        Path(__file__).resolve().parents[1] / "instances/backtest-italy-apr2020"
    )
    forecast = backtest.forecast(backtest.releases[0])
    draws = interval_scenarios(backtest.instance, forecast, IntervalSpec(scenarios=2000, seed=1))
    mean = draws.array().mean(axis=0)
    m = forecast.mean.to_numpy()
    big = m > 20
    assert np.allclose(mean[big], m[big], rtol=0.1)  # the forecast's mean, in expectation
    lower = forecast.lower.to_numpy()
    unusable = [
        r for r, row in zip(backtest.instance.regions, lower, strict=True) if row.max() < 0.5
    ]
    assert draws.info["regions_without_interval"] == unusable
