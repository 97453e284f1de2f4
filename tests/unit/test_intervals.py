"""Forecast intervals calibrated per horizon bucket (split-conformal on backtest errors):
the calibration itself, and how selection and the nightly forecast use it."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from assets.forecast.intervals import (
    GAUSSIAN_95_OVER_80,
    MAX_GROWTH,
    MAX_LEVEL_RATIO,
    bounds,
    calibrate,
    conformal_bound,
    offsets,
)
from assets.forecast.models import prepare_series
from assets.forecast.selection import (
    ForecastConfig,
    Selection,
    forecast_item,
    run_backtest,
    select_model,
)

AS_OF = date(2025, 12, 31)
BANDS = ("lower_95", "lower_80", "upper_80", "upper_95")


def daily(values) -> pd.Series:
    return pd.Series(np.asarray(values, float),
                     index=pd.date_range(end=pd.Timestamp(AS_OF), periods=len(values), freq="D"))


def backtest_like(spread_by_step, windows: int = 6, seed: int = 0):
    """Errors of ``windows`` windows, step s drawn with spread ``spread_by_step(s)``."""
    rng = np.random.default_rng(seed)
    steps = np.tile(np.arange(1, 29), windows)
    return rng.normal(0, 1, len(steps)) * np.vectorize(spread_by_step)(steps), steps


# ------------------------------------------------------------------------- calibration
def test_the_bound_is_the_finite_sample_order_statistic():
    errors = np.arange(1.0, 10.0)  # n = 9
    # upper: ceil(10 * 0.9) = 9th smallest; lower: mirrored, the 9th largest = the smallest
    assert conformal_bound(errors, 0.9) == 9.0
    assert conformal_bound(errors, 0.1) == 1.0
    many = np.arange(1.0, 101.0)  # n = 100: ceil(101 * 0.975) = 99, ceil(101 * 0.9) = 91
    assert conformal_bound(many, 0.975) == 99.0
    assert conformal_bound(many, 0.9) == 91.0
    assert conformal_bound(many, 0.1) == 10.0  # the 91st largest
    assert conformal_bound(many, 0.025) == 2.0
    # Too few for the level: the largest (smallest) error is all there is.
    assert conformal_bound(np.array([4.0, 1.0, 2.0]), 0.975) == 4.0
    assert conformal_bound(np.array([4.0, 1.0, 2.0]), 0.025) == 1.0
    assert conformal_bound(np.array([]), 0.9) == 0.0


def test_widths_never_shrink_with_the_horizon_and_95_holds_80():
    # Spread grows with the step, but the 8-14 bucket is drawn narrow (a noisy estimate
    # after a wide one): the widths are made non-decreasing all the same.
    errors, steps = backtest_like(lambda s: 0.5 if 8 <= s <= 14 else 1 + s / 10)
    calibration = calibrate(errors, steps, "day")
    assert calibration["steps"] == [1, 2, 8, 15] and calibration["last_step"] == 28
    assert calibration["errors"] == [6, 36, 42, 84]
    for key in ("upper_80", "upper_95"):
        assert all(np.diff(calibration[key]) >= 0)
    for key in ("lower_80", "lower_95"):
        assert all(np.diff(calibration[key]) <= 0)
    for low95, low80, high80, high95 in zip(*(calibration[k] for k in BANDS), strict=True):
        assert low95 <= low80 <= 0 <= high80 <= high95
    offs = offsets(calibration, np.arange(1, 91))
    width = offs["upper_80"] - offs["lower_80"]
    assert (np.diff(width) >= 0).all()
    assert width[-1] > width[27]  # grows past the last backtested step
    json.dumps(calibration)  # stored as jsonb


def test_past_the_backtest_widths_grow_with_the_square_root_of_the_step_capped():
    errors, steps = backtest_like(lambda s: 2.0)
    calibration = calibrate(errors, steps)
    offs = offsets(calibration, [28, 56, 112, 1000])
    assert offs["upper_80"][1] == pytest.approx(offs["upper_80"][0] * math.sqrt(2))
    assert offs["upper_80"][2] == pytest.approx(offs["upper_80"][0] * 2)
    assert offs["upper_80"][3] == pytest.approx(offs["upper_80"][0] * MAX_GROWTH)


def test_a_bucket_with_too_few_errors_borrows_from_its_neighbours():
    # Step 1 has only six errors (one per window): for the 80% band it takes the next
    # buckets' errors until 50 are there, for the 95% band every error (200 needed).
    errors, steps = backtest_like(lambda s: 1.0, seed=4)
    errors[steps == 1] = 100.0  # six wild errors at step 1 alone
    calibration = calibrate(errors, steps)
    first = (steps <= 14)  # buckets 1, 2-7, 8-14: the first 50 or more
    # (at most: a wider first bucket is pooled with the next ones to keep widths monotone)
    assert calibration["upper_80"][0] <= conformal_bound(errors[first], 0.9) + 1e-6
    assert calibration["upper_80"][0] < 10.0  # alone, its six errors would give 100
    assert calibration["upper_95"][0] >= conformal_bound(errors, 0.975) - 1e-6


def test_one_observation_or_none():
    assert calibrate([], []) is None
    single = calibrate([3.0], [1])
    assert single["errors"] == [1] and single["last_step"] == 1
    assert single["upper_80"] == [3.0] and single["upper_95"] == [3.0]
    assert single["lower_80"] == [0.0] and single["lower_95"] == [0.0]
    with pytest.raises(ValueError, match="same length"):
        calibrate([1.0, 2.0], [1])


def test_a_flat_zero_series_gets_a_zero_width_interval():
    calibration = calibrate(np.zeros(168), np.tile(np.arange(1, 29), 6))
    assert all(v == 0 for key in BANDS for v in calibration[key])
    band = bounds(np.zeros(90), offsets(calibration, np.arange(1, 91)))
    assert all((values == 0).all() for values in band.values())


def test_widths_follow_the_level_within_bounds():
    errors, steps = backtest_like(lambda s: 1.0)
    calibration = calibrate(errors, steps, levels=np.full(len(errors), 10.0))
    assert calibration["level"] == 10.0
    same = offsets(calibration, [1], level=10.0)["upper_80"][0]
    assert offsets(calibration, [1], level=15.0)["upper_80"][0] == pytest.approx(1.5 * same)
    assert offsets(calibration, [1], level=1000.0)["upper_80"][0] == pytest.approx(
        MAX_LEVEL_RATIO * same)
    assert offsets(calibration, [1], level=0.0)["upper_80"][0] == pytest.approx(
        same / MAX_LEVEL_RATIO)


def test_bounds_bracket_the_forecast_are_clipped_at_zero_and_nest():
    yhat = np.array([0.0, 1.0, 5.0])
    offs = {"lower_80": np.array([-2.0, -2.0, 1.0]), "upper_80": np.array([2.0, -1.0, 2.0]),
            "lower_95": np.array([-1.0, -3.0, -3.0]), "upper_95": np.array([1.0, 3.0, 3.0])}
    band = bounds(yhat, offs)
    assert band["yhat_lower"].tolist() == [0.0, 0.0, 5.0]
    assert band["yhat_upper"].tolist() == [2.0, 1.0, 7.0]
    assert band["yhat_lower_95"].tolist() == [0.0, 0.0, 2.0]
    assert band["yhat_upper_95"].tolist() == [2.0, 4.0, 8.0]


# ---------------------------------------------------------------- selection and forecast
def test_selection_keeps_each_error_with_its_horizon_step_and_calibrates_on_them():
    rng = np.random.default_rng(1)
    history = daily(rng.poisson(20, 300))
    selection = select_model(history, None, AS_OF, 14, ForecastConfig(include_prophet=False))
    calibration = selection.interval_errors
    assert calibration["last_step"] == 28 and sum(calibration["errors"]) == 6 * 28
    assert calibration["level"] > 0  # smooth demand: widths follow the level
    json.dumps(calibration)
    fc = forecast_item(history, None, AS_OF, selection, ForecastConfig(horizon_days=90,
                                                                       include_prophet=False))
    frame = fc.frame
    assert (frame["yhat_lower_95"] >= 0).all()
    assert (frame["yhat_lower_95"] <= frame["yhat_lower"]).all()
    assert (frame["yhat_lower"] <= frame["yhat"]).all()
    assert (frame["yhat"] <= frame["yhat_upper"]).all()
    assert (frame["yhat_upper"] <= frame["yhat_upper_95"]).all()
    width = (frame["yhat_upper_95"] - frame["yhat"]).to_numpy()
    assert width[89] > width[27]


def test_censored_days_are_left_out_of_the_calibration():
    rng = np.random.default_rng(2)
    values = rng.poisson(10, 300).astype(float)
    censored = np.zeros(300, bool)
    censored[-40:-30] = True  # ten stockout days inside the backtest windows
    values[-40:-30] = 0.0
    history, flags = daily(values), daily(censored).astype(bool)
    selection = select_model(history, flags, AS_OF, 14, ForecastConfig(include_prophet=False))
    assert sum(selection.interval_errors["errors"]) == 6 * 28 - 10
    series = prepare_series(history, flags, AS_OF)
    results, _, _ = run_backtest(series, [selection.model_name], 28)
    steps = results[selection.model_name][5]
    assert len(steps) == len(results[selection.model_name][1]) == 6 * 28 - 10


def test_intermittent_items_are_calibrated_on_more_windows_in_units():
    rng = np.random.default_rng(5)
    values = (rng.random(700) < 0.2) * rng.poisson(3, 700)
    selection = select_model(daily(values), None, AS_OF, 7,
                             ForecastConfig(include_prophet=False))
    assert selection.demand_class in ("intermittent", "lumpy")
    assert selection.origins == 6 and sum(selection.interval_errors["errors"]) > 6 * 28
    assert "level" not in selection.interval_errors


def test_a_selection_stored_before_per_horizon_errors_still_forecasts():
    history = daily(np.random.default_rng(3).poisson(20, 200))
    old = Selection("moving_average", "2", "smooth", 0.2, err_low=-3.0, err_high=4.0,
                    horizon=28, origins=6)
    frame = forecast_item(history, None, AS_OF, old, ForecastConfig(horizon_days=30)).frame
    assert (frame["yhat_upper"] - frame["yhat"]).to_numpy() == pytest.approx(4.0)
    assert (frame["yhat"] - frame["yhat_lower"]).to_numpy() == pytest.approx(3.0)
    assert (frame["yhat_upper_95"] - frame["yhat"]).to_numpy() == pytest.approx(
        4.0 * GAUSSIAN_95_OVER_80)


def test_week_buckets_spread_each_steps_bounds_over_its_days():
    history = daily(np.random.default_rng(4).poisson(20, 400))
    calibration = {"bucket": "week", "steps": [1, 2], "last_step": 2, "errors": [60, 60],
                   "lower_80": [-7.0, -14.0], "upper_80": [14.0, 28.0],
                   "lower_95": [-14.0, -21.0], "upper_95": [21.0, 35.0]}
    selection = Selection("moving_average", "2", "smooth", 0.2, horizon=4, origins=3,
                          interval_errors=calibration)
    frame = forecast_item(history, None, AS_OF, selection,
                          ForecastConfig(horizon_days=14, bucket="week")).frame
    upper = (frame["yhat_upper"] - frame["yhat"]).to_numpy()
    # week 1 (days 1-7): step 1's +14 a week = +2 a day; week 2: +28 = +4 a day
    assert upper[:7] == pytest.approx(2.0) and upper[7:] == pytest.approx(4.0)


# ------------------------------------------------------------------------------ accuracy
def test_portfolio_coverage_of_both_bands_weights_items_by_their_observations():
    from assets.forecast.accuracy import metrics_frame, trend_markdown

    raw = pd.DataFrame({
        "item_id": ["a", "b", "c"], "location_id": ["L", "L", "L"], "lag_days": [1, 1, 1],
        "abs_err": [1.0, 2.0, 3.0], "actual_total": [10.0, 10.0, 10.0],
        "bias_sum": [0.0, 0.0, 0.0], "mae": [0.1, 0.2, 0.3], "naive_err": [1.0, 1.0, 1.0],
        "scale": [1.0, 1.0, 1.0], "model_name": ["m", "m", "m"],
        "coverage": [0.5, 1.0, 0.75], "observations": [10, 30, 20],
        # item c was forecast before the 95% band existed: no 95% coverage, not a miss
        "coverage_95": [0.9, 1.0, None], "observations_95": [10, 30, 0]})
    frame = metrics_frame(raw)
    portfolio = frame[frame["item_id"].isna()].iloc[0]
    assert portfolio["coverage"] == pytest.approx((5 + 30 + 15) / 60)
    assert portfolio["coverage_95"] == pytest.approx((9 + 30) / 40)
    assert np.isnan(frame.loc[frame["item_id"] == "c", "coverage_95"].iloc[0])
    table = trend_markdown(frame[frame["item_id"].isna()][["lag_days", "coverage",
                                                            "coverage_95"]])
    assert "coverage_80" in table and "coverage_95" in table
