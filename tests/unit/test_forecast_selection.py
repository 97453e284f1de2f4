"""Candidate models, rolling-origin selection, the nightly item forecast and the engine's
failure isolation (pure logic; Prophet only on a few short series)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from assets.forecast.engine import ItemTask, run_items
from assets.forecast.models import (
    BASELINES,
    COMBINATIONS,
    MEDIAN_COMBINATION,
    Series,
    buckets_for_days,
    candidates_for,
    forecast_model,
    prepare_series,
    to_daily,
)
from assets.forecast.selection import (
    COMBINATION_EDGE,
    COSTLIER_COMBINATION_EDGE,
    ForecastConfig,
    Selection,
    backtest_origins,
    forecast_item,
    one_sided,
    pick_model,
    run_backtest,
    select_model,
    smape,
    wape,
)

AS_OF = date(2025, 12, 31)
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.2, 0.05])


def daily(values, end: date = AS_OF) -> pd.Series:
    return pd.Series(np.asarray(values, float),
                     index=pd.date_range(end=pd.Timestamp(end), periods=len(values), freq="D"))


def weekly_pattern(n: int, level: float = 20.0, seed: int = 0) -> pd.Series:
    idx = pd.date_range(end=pd.Timestamp(AS_OF), periods=n, freq="D")
    rng = np.random.default_rng(seed)
    return pd.Series(rng.poisson(level * WEEKDAY[idx.day_of_week]).astype(float), index=idx)


def test_metrics():
    assert wape([10, 10], [8, 12]) == pytest.approx(0.2)
    assert wape([0, 0], [1, 3]) == pytest.approx(2.0)  # no demand: mean absolute error
    assert smape([100], [50]) == pytest.approx(200 * 50 / 150)
    assert smape([0], [0]) == 0.0


def test_backtest_has_at_least_three_origins_of_the_lead_time():
    origins = backtest_origins(200, 14, "day")
    assert origins == [116, 130, 144, 158, 172, 186]  # 6 windows of 14 days up to day 200
    assert backtest_origins(200, 14, "day", n_origins=3) == [158, 172, 186]
    assert backtest_origins(40, 14, "day") == []  # 28 days to train + 14 to test: too short
    short = backtest_origins(60, 14, "day")
    assert len(short) == 3 and short[-1] == 46 and short[0] >= 28


def test_censored_days_are_imputed_for_models_and_missing_for_scoring():
    history = daily([10.0] * 56)
    history.iloc[-3:] = 0.0
    censored = pd.Series(False, index=history.index)
    censored.iloc[-3:] = True
    series = prepare_series(history, censored, AS_OF)
    assert series.values[-3:].tolist() == [10.0, 10.0, 10.0]
    assert series.observed[-3:].tolist() == [False, False, False]


def test_poisoned_series_is_refused():
    history = daily([1.0, np.nan, 2.0] * 20)
    with pytest.raises(ValueError, match="non-finite"):
        prepare_series(history, None, AS_OF)


def test_week_and_month_buckets():
    history = daily([1.0] * 70)
    week = prepare_series(history, None, AS_OF, bucket="week")
    assert len(week) == 10 and week.values.tolist() == [7.0] * 10
    assert week.starts[-1] == pd.Timestamp(AS_OF) - pd.Timedelta(days=6)
    month = prepare_series(daily([1.0] * 120, end=date(2025, 12, 15)), None, date(2025, 12, 15),
                           bucket="month")
    assert month.values.tolist() == [30.0, 31.0, 30.0]  # Sep..Nov (partial Aug dropped)
    assert month.skip_days == 15
    days = to_daily(month, np.array([31.0, 62.0]), date(2025, 12, 15), 20)
    assert len(days) == 20 and days[0] == pytest.approx(1.0) and days[-1] == pytest.approx(2.0)
    assert buckets_for_days(90, "week") == 13


def test_every_model_forecasts_non_negative():
    series = prepare_series(weekly_pattern(200), None, AS_OF)
    for name in ("seasonal_naive", "moving_average", "croston_sba", "tsb", "adida", "imapa",
                 "auto_ets", "theta"):
        yhat, _ = forecast_model(name, series, 14)
        assert yhat.shape == (14,) and (yhat >= 0).all() and yhat.sum() > 0, name
    yhat, params = forecast_model("auto_ets", series, 7)
    assert params["season"] == 7 and len(params["spec"]) == 3  # reused by the next fit
    again, _ = forecast_model("auto_ets", series, 7, params)
    assert again == pytest.approx(yhat)


def test_prophet_clamps_at_zero_and_warm_starts():
    # A falling trend that would go negative: the forecast stays at 0 or above.
    values = np.maximum(0, 40 - 0.5 * np.arange(80)) * WEEKDAY[np.arange(80) % 7]
    series = prepare_series(daily(values), None, AS_OF, holiday_country="DE")
    yhat, params = forecast_model("prophet", series, 30)
    assert (yhat >= 0).all() and yhat[-1] == 0.0
    assert set(params) >= {"k", "m", "delta", "beta", "sigma_obs"}
    assert params["warm_started"] is False
    _, again = forecast_model("prophet", series, 30, params)
    assert again["warm_started"] is True


def test_intermittent_items_get_intermittent_candidates():
    assert "croston_sba" in candidates_for("lumpy", "day")
    assert "croston_sba" not in candidates_for("smooth", "day")
    # ETS and Theta too, in the weekly selection: orders that follow the working week.
    assert {"auto_ets", "theta"} <= set(candidates_for("intermittent", "day"))
    assert "auto_arima" in candidates_for("smooth", "month")
    assert "auto_arima" not in candidates_for("smooth", "day")
    assert set(BASELINES) & set(candidates_for("smooth", "day"))


def test_a_quick_cold_start_leaves_the_model_searches_to_the_weekly_selection():
    quick = candidates_for("smooth", "month", include_prophet=False, include_ets=False)
    assert quick == ("seasonal_naive", "moving_average", "theta")
    quick = candidates_for("lumpy", "day", include_ets=False)
    assert quick == ("moving_average", "seasonal_naive", "croston_sba", "tsb", "adida", "imapa",
                     "intermittent_mix", "prophet")
    assert not {"auto_ets", "auto_arima", MEDIAN_COMBINATION, "ets_theta"} & set(quick)


def test_selection_serves_the_combination_unless_a_model_clearly_beats_it():
    history = weekly_pattern(240, seed=3)
    config = ForecastConfig(include_prophet=False)
    selection = select_model(history, None, AS_OF, 14, config)
    # A 14-day lead time is backtested on 28-day windows (MIN_HORIZON_DAYS).
    assert selection.origins == 6 and selection.horizon == 28
    assert selection.scores[selection.model_name] == pytest.approx(selection.wape, abs=1e-6)
    default = selection.scores[MEDIAN_COMBINATION]
    if selection.model_name in COMBINATIONS:
        assert selection.wape <= default + 1e-6  # scores are rounded
    else:
        assert selection.wape < default * (1 - COMBINATION_EDGE)
    assert selection.err_low <= 0 <= selection.err_high
    long_lead = select_model(history, None, AS_OF, 35, config)
    assert long_lead.horizon == 35


def test_short_history_is_reported_not_backtested():
    selection = select_model(daily([3.0] * 30), None, AS_OF, 7, ForecastConfig())
    assert selection.demand_class == "new" and selection.note == "short history"
    assert selection.wape is None


def test_item_forecast_uses_backtest_errors_for_its_interval():
    history = weekly_pattern(120)
    selection = Selection("seasonal_naive", "2", "smooth", 0.2, err_low=-3.0, err_high=4.0,
                          horizon=7, origins=3)
    fc = forecast_item(history, None, AS_OF, selection, ForecastConfig(horizon_days=21))
    frame = fc.frame
    assert len(frame) == 21 and frame["target_date"].iloc[0] == AS_OF + timedelta(days=1)
    assert (frame["yhat_lower"] <= frame["yhat"]).all()
    assert (frame["yhat"] <= frame["yhat_upper"]).all()
    monday = frame[pd.to_datetime(frame["target_date"]).dt.day_of_week == 0].iloc[0]
    assert monday["yhat_upper"] == pytest.approx(monday["yhat"] + 4.0)
    assert fc.model_name == "seasonal_naive"


def _task(name: str, values) -> ItemTask:
    idx = pd.date_range(end=pd.Timestamp(AS_OF), periods=len(values), freq="D")
    return ItemTask(name, "L1", idx.values, list(values), [False] * len(values), 7)


def test_a_poisoned_item_fails_alone_serial_and_in_the_pool():
    good = [_task(f"i{i}", weekly_pattern(70, seed=i).tolist()) for i in range(30)]
    bad = _task("poison", [1.0, float("nan")] * 35)
    config = ForecastConfig(include_prophet=False, horizon_days=14, n_origins=3)
    progress = []
    for workers in (1, 2):
        run = run_items("select", [*good[:25], bad, *good[25:]], AS_OF, config, workers=workers,
                        progress=lambda d, n, r: progress.append((d, n)), progress_every=0)
        assert run.attempted == 31 and len(run.results) == 30
        assert run.failures == [{"item_id": "poison", "location_id": "L1",
                                 "error": "ValueError: demand history holds non-finite values"}]
    assert progress[-1] == (31, 31)
    for task in good:
        task.selection = run.results[task.key]
    fc = run_items("forecast", good, AS_OF, config, workers=2)
    assert not fc.failures and all(len(r["frame"]) == 14 for r in fc.results.values())


def monthly_series(n: int = 60, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = (100 + 0.8 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 4, n)
    return Series(values, np.ones(n, bool), pd.date_range("2019-01-01", periods=n, freq="MS"),
                  "month")


def test_combination_is_the_mean_of_its_members_and_keeps_their_params():
    series = monthly_series()
    members = [forecast_model(m, series, 18) for m in COMBINATIONS["ets_theta"]]
    yhat, params = forecast_model("ets_theta", series, 18)
    assert yhat == pytest.approx(np.mean([f for f, _ in members], axis=0))
    assert (yhat >= 0).all() and yhat.shape == (18,)
    assert set(params) == {"auto_ets", "theta"} and params["auto_ets"] == members[0][1]
    again, _ = forecast_model("ets_theta", series, 18, params)  # fixed-spec ETS refit
    assert again == pytest.approx(yhat)


def test_the_median_combination_is_the_median_of_its_members():
    series = monthly_series()
    members = [forecast_model(m, series, 18)[0] for m in COMBINATIONS[MEDIAN_COMBINATION]]
    yhat, params = forecast_model(MEDIAN_COMBINATION, series, 18)
    assert yhat == pytest.approx(np.median(members, axis=0))
    # One member far off does not pull it (a mean would move by a third of the gap).
    assert not np.allclose(yhat, np.mean(members, axis=0))
    assert set(params) == {"seasonal_naive", "auto_ets", "theta"}


def test_each_class_defaults_to_its_combination_in_the_weekly_selection():
    for demand_class, bucket, default in (("smooth", "month", MEDIAN_COMBINATION),
                                          ("erratic", "week", MEDIAN_COMBINATION),
                                          ("lumpy", "day", "intermittent_mix"),
                                          ("intermittent", "month", "intermittent_mix")):
        candidates = candidates_for(demand_class, bucket)
        assert [n for n in candidates if n in COMBINATIONS][0] == default
        # Every combination is backtested from its members' fits: they come first.
        for combination in (n for n in candidates if n in COMBINATIONS):
            members = COMBINATIONS[combination]
            assert max(candidates.index(m) for m in members) < candidates.index(combination)
    assert MEDIAN_COMBINATION in candidates_for("lumpy", "day")
    assert "intermittent_mix" not in candidates_for("smooth", "month")


def test_backtest_of_a_combination_reuses_its_members_fits():
    series = monthly_series(72, seed=1)
    alone, _, origins = run_backtest(series, ["ets_theta"], 18)
    reused, _, _ = run_backtest(series, ["auto_ets", "theta", "ets_theta"], 18)
    assert len(origins) >= 3
    assert reused["ets_theta"][0] == pytest.approx(alone["ets_theta"][0])
    assert reused["ets_theta"][1] == pytest.approx(alone["ets_theta"][1])
    assert set(reused["ets_theta"][2]) == {"auto_ets", "theta"}


def results(**scores):
    """Backtest results: a pooled WAPE, or (pooled, per-window WAPEs, per-window biases)."""
    def one(score):
        pooled, windows, biases = score if isinstance(score, tuple) else (score, [], [])
        return (pooled, np.zeros(1), {}, windows, biases)
    return {name: one(score) for name, score in scores.items()}


CANDIDATES = ("seasonal_naive", "moving_average", "auto_ets", "theta", "ets_theta")


CANDIDATES_MEDIAN = ("seasonal_naive", "moving_average", "auto_ets", "theta",
                     MEDIAN_COMBINATION, "ets_theta")


def test_another_combination_replaces_the_default_on_a_lower_wape_a_model_needs_the_edge():
    combination = results(moving_average=0.4, ets_theta=0.24, **{MEDIAN_COMBINATION: 0.25})
    assert pick_model(combination, CANDIDATES_MEDIAN) == "ets_theta"
    single = results(moving_average=0.4, auto_ets=0.21, ets_theta=0.26,
                     **{MEDIAN_COMBINATION: 0.25})
    assert pick_model(single, CANDIDATES_MEDIAN) == MEDIAN_COMBINATION
    # The best single model misses the edge; the other combination still wins on its own.
    both = results(auto_ets=0.21, ets_theta=0.24, **{MEDIAN_COMBINATION: 0.25})
    assert pick_model(both, CANDIDATES_MEDIAN) == "ets_theta"
    # ... on half the windows at least, like any challenger.
    lucky = results(ets_theta=(0.24, [0.1, 0.3, 0.3], []),
                    **{MEDIAN_COMBINATION: (0.25, [0.25, 0.25, 0.25], [])})
    assert pick_model(lucky, CANDIDATES_MEDIAN) == MEDIAN_COMBINATION


def test_pick_serves_the_combination_unless_another_model_clearly_beats_it():
    close = results(seasonal_naive=0.5, moving_average=0.4, auto_ets=0.20, theta=0.3,
                    ets_theta=0.20 / (1 - COMBINATION_EDGE) - 1e-6)
    assert pick_model(close, CANDIDATES) == "ets_theta"
    clear = results(seasonal_naive=0.5, moving_average=0.4, auto_ets=0.20, theta=0.3,
                    ets_theta=0.20 / (1 - COMBINATION_EDGE) + 1e-3)
    assert pick_model(clear, CANDIDATES) == "auto_ets"
    # A baseline is one more candidate, judged the same way: it no longer vetoes a model
    # that scored a little worse...
    near = results(seasonal_naive=0.5, moving_average=0.30, auto_ets=0.29, theta=0.4,
                   ets_theta=0.31)
    assert pick_model(near, CANDIDATES) == "ets_theta"
    # ... and replaces the combination only with clear evidence, like any model.
    far = results(seasonal_naive=0.5, moving_average=0.20, auto_ets=0.29, theta=0.4,
                  ets_theta=0.31)
    assert pick_model(far, CANDIDATES) == "moving_average"


def test_a_lower_pooled_wape_from_one_window_does_not_move_an_item_off_the_combination():
    # moving_average's pooled WAPE is far lower, but it won one window of four (a holiday).
    lucky = results(moving_average=(0.20, [0.05, 0.40, 0.41, 0.42], []),
                    ets_theta=(0.35, [0.60, 0.30, 0.30, 0.30], []))
    assert pick_model(lucky, CANDIDATES) == "ets_theta"
    steady = results(moving_average=(0.20, [0.20, 0.20, 0.21, 0.50], []),
                     ets_theta=(0.35, [0.30, 0.30, 0.30, 0.30], []))
    assert pick_model(steady, CANDIDATES) == "moving_average"
    # Half the windows is enough with a clear pooled margin (a strict majority is not asked).
    half = results(moving_average=(0.20, [0.20, 0.20, 0.31, 0.50], []),
                   ets_theta=(0.35, [0.30, 0.30, 0.30, 0.30], []))
    assert pick_model(half, CANDIDATES) == "moving_average"


def test_a_model_biased_one_way_on_every_window_loses_to_one_that_is_not():
    biased = (0.20, [0.2, 0.2, 0.2], [0.25, 0.30, 0.22])  # over-forecasts every window
    assert one_sided(results(m=biased)["m"])
    assert not one_sided(results(m=(0.2, [0.2] * 3, [0.25, -0.30, 0.22]))["m"])
    assert not one_sided(results(m=(0.2, [0.2] * 3, [0.05, 0.10, 0.08]))["m"])  # within limit
    picked = results(seasonal_naive=0.5, moving_average=biased, ets_theta=(0.4, [0.4] * 3,
                                                                           [0.1, -0.1, 0.0]))
    assert pick_model(picked, CANDIDATES) == "ets_theta"
    # When every model leans one way, they compete as before.
    everyone = results(moving_average=biased, ets_theta=(0.4, [0.4] * 3, [0.3, 0.3, 0.3]))
    assert pick_model(everyone, CANDIDATES) == "moving_average"


def test_intermittent_items_default_to_their_cheap_combination_the_median_needs_the_edge():
    flat = results(moving_average=0.50, tsb=0.48, imapa=0.49, croston_sba=0.52,
                   intermittent_mix=0.45, **{MEDIAN_COMBINATION: 0.47})
    assert pick_model(flat, candidates_for("lumpy", "day")) == "intermittent_mix"
    # Its nightly refit costs ~10x the mix's: a little better is not enough ...
    near = 0.45 * (1 - COSTLIER_COMBINATION_EDGE) + 1e-3
    weekly = results(moving_average=0.50, intermittent_mix=0.45, **{MEDIAN_COMBINATION: near})
    assert pick_model(weekly, candidates_for("lumpy", "day")) == "intermittent_mix"
    # ... clearly better is.
    clear = 0.45 * (1 - COSTLIER_COMBINATION_EDGE) - 1e-3
    weekly = results(moving_average=0.50, intermittent_mix=0.45, **{MEDIAN_COMBINATION: clear})
    assert pick_model(weekly, candidates_for("lumpy", "day")) == MEDIAN_COMBINATION
    # The quick cold start has no ETS: the same cheap combination serves by default.
    quick = candidates_for("lumpy", "day", include_ets=False)
    assert pick_model(results(tsb=0.48, intermittent_mix=0.47), quick) == "intermittent_mix"


def test_nightly_forecast_with_the_combination_reuses_the_ets_spec():
    history = weekly_pattern(730, level=30.0, seed=5)
    config = ForecastConfig(horizon_days=60, bucket="month", include_prophet=False)
    series = prepare_series(history, None, AS_OF, "month")
    _, params = forecast_model("ets_theta", series, 3)
    selection = Selection("ets_theta", "2", "smooth", 0.1, err_low=-20.0, err_high=30.0,
                          horizon=1, origins=3, params=params)
    fc = forecast_item(history, None, AS_OF, selection, config)
    assert fc.model_name == "ets_theta" and len(fc.frame) == 60
    assert fc.params["auto_ets"] == params["auto_ets"]
    assert (fc.frame["yhat_lower"] <= fc.frame["yhat"]).all()
    assert (fc.frame["yhat"] <= fc.frame["yhat_upper"]).all()


def test_prophet_fits_a_yearly_cycle_only_on_about_two_years():
    from assets.forecast.models import fits_yearly_seasonality

    def span(n: int, freq: str) -> int:
        starts = pd.date_range("2000-01-01", periods=n, freq=freq)
        return (starts[-1] - starts[0]).days

    assert fits_yearly_seasonality(span(730, "D"))  # the default history window
    assert not fits_yearly_seasonality(span(400, "D"))
    assert not fits_yearly_seasonality(span(24, "MS"))  # 23 months apart
    assert fits_yearly_seasonality(span(25, "MS"))
