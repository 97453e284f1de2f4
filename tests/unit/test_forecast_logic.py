"""Baseline forecasts, demand classification and inventory projection (pure logic)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from assets.forecast.baselines import (
    FORECAST_COLUMNS,
    choose_baseline,
    classify_demand,
    forecast_baseline,
)
from assets.forecast.projection import first_stockout_date, project_inventory, project_portfolio

MONDAY = date(2026, 1, 5)


def daily(values, start: date = MONDAY) -> pd.Series:
    return pd.Series(
        np.asarray(values, dtype=float), index=pd.date_range(start, periods=len(values), freq="D")
    )


# --- forecast_baseline -------------------------------------------------------------


def test_seasonal_naive_repeats_mean_of_last_four_same_weekdays():
    # 8 weeks; value = 10 * weekday + week number, so the last 4 weeks average week 5.5.
    values = [10 * (d % 7) + d // 7 for d in range(56)]
    fc = forecast_baseline(daily(values), horizon=14)

    assert list(fc.columns) == FORECAST_COLUMNS
    assert fc["target_date"].iloc[0] == MONDAY + timedelta(days=56)  # a Monday
    assert fc["horizon_day"].tolist() == list(range(1, 15))
    expected_week = [10 * wd + 5.5 for wd in range(7)]
    assert fc["yhat"].tolist() == pytest.approx(expected_week * 2)


def test_target_dates_are_plain_dates_starting_after_history():
    fc = forecast_baseline(daily([3, 4, 5]), horizon=2, method="moving_average")
    assert all(type(d) is date for d in fc["target_date"])
    assert fc["target_date"].tolist() == [MONDAY + timedelta(days=3), MONDAY + timedelta(days=4)]


def test_moving_average_uses_last_28_days():
    values = [100.0] * 30 + [10.0] * 28
    fc = forecast_baseline(daily(values), horizon=3, method="moving_average")
    assert fc["yhat"].tolist() == pytest.approx([10.0] * 3)


def test_censored_stockout_days_do_not_drag_the_level_down():
    # Steady 10/day, then 5 stockout days that recorded 0 sales.
    history = daily([10.0] * 55 + [0.0] * 5)
    censored = pd.Series(False, index=history.index)
    censored.iloc[-5:] = True

    naive = forecast_baseline(history, horizon=1, method="moving_average")
    aware = forecast_baseline(history, horizon=1, method="moving_average", censored=censored)

    assert naive["yhat"].iloc[0] == pytest.approx(23 * 10 / 28)
    assert aware["yhat"].iloc[0] == pytest.approx(10.0)
    assert aware["target_date"].iloc[0] == history.index[-1].date() + timedelta(days=1)


def test_seasonal_naive_skips_a_censored_weekday():
    values = [10 * (d % 7) + 1 for d in range(56)]  # constant per weekday
    history = daily(values)
    history.iloc[49] = 0.0  # last Monday was a stockout
    censored = pd.Series(history.index == history.index[49], index=history.index)

    fc = forecast_baseline(history, horizon=1, censored=censored)
    assert fc["yhat"].iloc[0] == pytest.approx(1.0)  # Monday level from earlier Mondays


def test_croston_sba_on_known_intermittent_series():
    # Demands 4 (interval 2), 2 (interval 3), 6 (interval 2), alpha 0.1:
    # size 4 -> 3.8 -> 4.02, interval 2 -> 2.1 -> 2.09; SBA = 0.95 * 4.02 / 2.09.
    fc = forecast_baseline(daily([0, 4, 0, 0, 2, 0, 6]), horizon=5, method="croston_sba")
    assert fc["yhat"].tolist() == pytest.approx([0.95 * 4.02 / 2.09] * 5)
    assert fc["yhat"].iloc[0] == pytest.approx(1.8272727, rel=1e-6)


def test_baseline_bands_contain_yhat_are_clamped_at_zero_and_95_holds_80():
    rng = np.random.default_rng(7)
    history = daily(rng.poisson(3, 120))
    for method in ("seasonal_naive", "moving_average", "croston_sba"):
        fc = forecast_baseline(history, horizon=90, method=method)
        assert (fc["yhat_lower_95"] >= 0).all()
        assert (fc["yhat_lower_95"] <= fc["yhat_lower"]).all()
        assert (fc["yhat_lower"] <= fc["yhat"]).all()
        assert (fc["yhat"] <= fc["yhat_upper"]).all()
        assert (fc["yhat_upper"] <= fc["yhat_upper_95"]).all()
        assert (fc["yhat_upper_95"] - fc["yhat_lower_95"]
                > fc["yhat_upper"] - fc["yhat_lower"]).any()
    intermittent = forecast_baseline(daily([0, 0, 9, 0, 0, 0, 7, 0] * 10), 3, "croston_sba")
    assert (intermittent["yhat_lower"] == 0).all()


def test_baseline_interval_widens_with_the_horizon():
    # A random walk: the moving average's error grows with the days ahead, and so do the
    # k-step residuals the interval comes from; past four weeks it keeps growing.
    rng = np.random.default_rng(3)
    history = daily(np.clip(50 + np.cumsum(rng.normal(0, 2, 400)), 0, None))
    fc = forecast_baseline(history, horizon=90, method="moving_average")
    width = (fc["yhat_upper"] - fc["yhat_lower"]).to_numpy()
    width_95 = (fc["yhat_upper_95"] - fc["yhat_lower_95"]).to_numpy()
    assert (np.diff(width) >= -1e-9).all() and (np.diff(width_95) >= -1e-9).all()
    assert width[27] > 1.5 * width[0]
    assert width[89] > width[27]


def test_interval_is_the_finite_sample_quantile_of_one_step_residuals():
    # Moving average of an alternating 0/10 series: after the 28-day warm-up every
    # residual is exactly -5 or +5, so the 80% band is -5 / +5 around the forecast of 5;
    # the 95% one reaches into the few larger residuals of the warm-up.
    history = daily([0, 10] * 200)
    fc = forecast_baseline(history, horizon=1, method="moving_average")
    assert fc["yhat"].iloc[0] == pytest.approx(5.0)
    assert fc["yhat_lower"].iloc[0] == pytest.approx(0.0, abs=0.01)
    assert fc["yhat_upper"].iloc[0] == pytest.approx(10.0, abs=0.01)
    assert 10.0 <= fc["yhat_upper_95"].iloc[0] < 10.5


def test_constant_series_has_a_zero_width_interval():
    fc = forecast_baseline(daily([6.0] * 60), horizon=3)
    assert fc["yhat"].tolist() == pytest.approx([6.0] * 3)
    for column in ("yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95"):
        assert (fc[column] == fc["yhat"]).all()


@pytest.mark.parametrize("method", ["seasonal_naive", "moving_average", "croston_sba"])
def test_empty_and_all_zero_history_forecast_zeros(method):
    empty = forecast_baseline(pd.Series(dtype=float), 4, method, as_of=date(2026, 3, 1))
    zeros = forecast_baseline(daily([0.0] * 40), 4, method)

    for fc in (empty, zeros):
        assert len(fc) == 4
        assert (fc[["yhat", "yhat_lower", "yhat_upper", "yhat_lower_95",
                    "yhat_upper_95"]] == 0).all().all()
    assert empty["target_date"].iloc[0] == date(2026, 3, 2)


def test_as_of_after_history_end_counts_the_gap_as_zero_demand():
    history = daily([8.0] * 28)  # ends 2026-02-01
    fc = forecast_baseline(history, 1, "moving_average", as_of=date(2026, 2, 15))
    assert fc["target_date"].iloc[0] == date(2026, 2, 16)
    assert fc["yhat"].iloc[0] == pytest.approx(8.0 * 14 / 28)


def test_zero_horizon_and_bad_arguments():
    assert forecast_baseline(daily([1, 2, 3]), 0).empty
    with pytest.raises(ValueError, match="unknown baseline method"):
        forecast_baseline(daily([1, 2, 3]), 3, method="prophet")
    with pytest.raises(ValueError):
        forecast_baseline(daily([1, 2, 3]), -1)


# --- classify_demand / choose_baseline ------------------------------------------------


def test_classify_smooth():
    assert classify_demand(daily([18, 20, 22, 19, 21] * 24)) == "smooth"


def test_classify_erratic():
    # Demand every day, sizes alternate 1 and 20: CV² = (9.5 / 10.5)² = 0.82.
    assert classify_demand(daily([1, 20] * 60)) == "erratic"


def test_classify_intermittent():
    # A steady 5 every third day: ADI 3, CV² 0.
    assert classify_demand(daily([5, 0, 0] * 40)) == "intermittent"


def test_classify_lumpy():
    assert classify_demand(daily([1, 0, 0, 30, 0, 0] * 20)) == "lumpy"


def test_classify_new_counts_from_first_demand():
    assert classify_demand(daily([0] * 200 + [5] * 30)) == "new"
    assert classify_demand(daily([0] * 200 + [5] * 56)) == "smooth"


def test_classify_an_item_whose_every_demand_fell_on_stockout_days():
    history = daily([0, 0, 4, 0, 0, 4] * 20)
    censored = pd.Series(history.to_numpy() > 0, index=history.index)
    # Nothing uncensored to measure sizes on (it used to divide by zero): served as new.
    assert classify_demand(history, censored) == "new"


def test_classify_dead():
    assert classify_demand(daily([10] * 200 + [0] * 90)) == "dead"
    assert classify_demand(daily([10] * 400 + [0] * 89)) == "smooth"  # ADI 489/400
    assert classify_demand(pd.Series(dtype=float)) == "dead"
    assert classify_demand(daily([0] * 50)) == "dead"
    # Demand long ago, nothing since, but as_of is what decides "recent".
    assert classify_demand(daily([10] * 100), as_of=date(2026, 9, 1)) == "dead"


def test_classify_ignores_censored_days_in_adi():
    # Real demand 10/day, but every other day was a stockout recorded as 0.
    history = daily([10, 0] * 60)
    censored = pd.Series([False, True] * 60, index=history.index)
    assert classify_demand(history) == "intermittent"
    assert classify_demand(history, censored=censored) == "smooth"


@pytest.mark.parametrize(
    ("demand_class", "method"),
    [
        ("smooth", "seasonal_naive"),
        ("erratic", "seasonal_naive"),
        ("intermittent", "croston_sba"),
        ("lumpy", "croston_sba"),
        ("new", "moving_average"),
        ("dead", "moving_average"),
    ],
)
def test_choose_baseline(demand_class, method):
    assert choose_baseline(demand_class) == method


def test_choose_baseline_rejects_unknown_class():
    with pytest.raises(ValueError):
        choose_baseline("seasonal")


# --- project_inventory / first_stockout_date -----------------------------------------

START = date(2026, 3, 2)


def flat_forecast(days: int, yhat: float, upper: float | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "target_date": [START + timedelta(days=i) for i in range(days)],
            "horizon_day": range(1, days + 1),
            "yhat": [yhat] * days,
        }
    )
    if upper is not None:
        frame["yhat_upper"] = upper
    return frame


def test_projection_known_stockout_day_with_receipt():
    # 100 on hand, 12/day, +30 arriving on day 5: 130 - 12 * d < 0 first at d = 11.
    supply = pd.DataFrame({"expected_date": [START + timedelta(days=4)], "quantity": [30.0]})
    proj = project_inventory(100, flat_forecast(14, 12.0, upper=15.0), supply)

    day5 = proj.iloc[4]
    assert day5["cumulative_supply"] == 30
    assert day5["cumulative_demand"] == 60
    assert day5["projected_on_hand"] == pytest.approx(70)
    assert proj.iloc[3]["projected_on_hand"] == pytest.approx(52)  # before the receipt
    assert first_stockout_date(proj) == START + timedelta(days=10)
    # Pessimistic path at 15/day: 130 - 15 * d < 0 first at d = 9.
    assert first_stockout_date(proj, "projected_on_hand_p80") == START + timedelta(days=8)
    assert proj["horizon_day"].tolist() == list(range(1, 15))


def test_overdue_receipts_land_on_day_one_and_late_ones_are_ignored():
    supply = pd.DataFrame(
        {
            "expected_date": [START - timedelta(days=3), START, START + timedelta(days=30)],
            "quantity": [5.0, 7.0, 1000.0],
        }
    )
    proj = project_inventory(0, flat_forecast(5, 1.0), supply)
    assert proj["supply_qty"].tolist() == [12.0, 0, 0, 0, 0]
    assert proj["cumulative_supply"].iloc[-1] == 12.0
    assert proj["projected_on_hand"].tolist() == pytest.approx([11, 10, 9, 8, 7])


def test_projection_accepts_timestamps_and_unsorted_input():
    fc = flat_forecast(3, 2.0).iloc[::-1]
    fc["target_date"] = pd.to_datetime(fc["target_date"])
    supply = pd.DataFrame({"expected_date": ["2026-03-03"], "quantity": [4]})
    proj = project_inventory(1, fc, supply)
    assert proj["target_date"].tolist() == [START + timedelta(days=i) for i in range(3)]
    assert proj["projected_on_hand"].tolist() == pytest.approx([-1, 1, -1])


def test_projection_without_upper_or_supply():
    proj = project_inventory(10, flat_forecast(4, 2.5), None)
    assert proj["projected_on_hand"].tolist() == pytest.approx([7.5, 5, 2.5, 0])
    assert proj["projected_on_hand_p80"].tolist() == proj["projected_on_hand"].tolist()
    assert first_stockout_date(proj) is None  # reaching exactly zero is not a stockout


def test_empty_forecast_gives_empty_projection():
    proj = project_inventory(10, flat_forecast(0, 1.0), None)
    assert proj.empty
    assert first_stockout_date(proj) is None


def test_portfolio_projection_equals_the_per_item_projection():
    rng = np.random.default_rng(3)
    first = date(2026, 3, 1)
    forecast, supply = [], []
    keys = [("a", "sap:1000"), ("a", "odoo:WH"), ("b", "sap:1000"), ("c", "sap:2000")]
    for item, loc in keys:
        for day in range(30):
            upper = np.nan if day == 5 else rng.uniform(0, 8)
            forecast.append((item, loc, first + timedelta(days=day), day + 1, rng.uniform(-1, 6), upper))
    # Overdue, inside, on the last day, beyond the horizon, and two on one day.
    for days in (-4, 3, 3, 29, 45):
        supply.append(("a", "sap:1000", first + timedelta(days=days), 10.0))
    supply.append(("b", "sap:1000", first + timedelta(days=12), 7.5))
    supply.append(("z", "sap:1000", first, 99.0))  # no forecast: ignored
    fc = pd.DataFrame(forecast, columns=["item_id", "location_id", "target_date", "horizon_day",
                                         "yhat", "yhat_upper"]).sample(frac=1, random_state=1)
    sup = pd.DataFrame(supply, columns=["item_id", "location_id", "expected_date", "quantity"])
    stock = pd.DataFrame([("a", "sap:1000", 40.0), ("b", "sap:1000", 5.0), ("c", "sap:2000", 12.0)],
                         columns=["item_id", "location_id", "on_hand"])  # a/odoo:WH unknown: 0

    portfolio = project_portfolio(fc, stock, sup)
    for item, loc in keys:
        rows = fc[(fc.item_id == item) & (fc.location_id == loc)]
        on_hand = stock.set_index(["item_id", "location_id"])["on_hand"].get((item, loc), 0.0)
        expected = project_inventory(on_hand, rows, sup[(sup.item_id == item) & (sup.location_id == loc)])
        got = portfolio[(portfolio.item_id == item) & (portfolio.location_id == loc)]
        got = got.drop(columns=["item_id", "location_id"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_dtype=False)
    assert len(portfolio) == len(fc)
