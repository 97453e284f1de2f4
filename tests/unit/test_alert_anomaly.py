"""The demand-anomaly rules (assets/alerts/anomaly.py) on hand-made recent days."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from assets.alerts.anomaly import AnomalyPolicy, bounds_95, detect_anomaly

AS_OF = date(2026, 3, 1)
NO_FLOOR = 0.0


def days(actual, yhat=10.0, lower=None, upper=None, end=AS_OF, **extra) -> pd.DataFrame:
    """Recent days ending at ``end``: ``actual`` per day against a flat forecast."""
    n = len(actual)
    frame = pd.DataFrame({
        "target_date": [end - timedelta(days=n - 1 - i) for i in range(n)],
        "actual": np.asarray(actual, float),
        "yhat": np.full(n, yhat, float),
        "yhat_lower": np.full(n, yhat - 4 if lower is None else lower, float),
        "yhat_upper": np.full(n, yhat + 4 if upper is None else upper, float),
    })
    return frame.assign(**extra)


def noise(n: int, seed: int = 1, level: float = 10.0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(level, n).astype(float)


def ts(**kw) -> AnomalyPolicy:
    return AnomalyPolicy(rule="tracking_signal", value_floor=NO_FLOOR, **kw)


def test_a_sustained_level_shift_up_is_an_anomaly_with_direction_size_and_value():
    recent = days(np.r_[noise(56), noise(7, seed=2, level=15.0)])
    verdict = detect_anomaly(recent, 2.0, ts())
    assert verdict is not None and verdict.direction == "up"
    assert verdict.statistic >= 3.0
    assert 30 <= verdict.shift_pct <= 70  # 50% planted, one week of Poisson noise
    assert verdict.value_at_stake == pytest.approx(abs(verdict.shift_per_day) * 28 * 2.0)
    assert verdict.since == AS_OF - timedelta(days=6)
    assert verdict.details()["direction"] == "up"


def test_a_level_shift_down_is_reported_down():
    verdict = detect_anomaly(days(np.r_[noise(56), noise(7, seed=3, level=5.0)]), 2.0, ts())
    assert verdict is not None and verdict.direction == "down" and verdict.shift_pct < -30


def test_noise_around_the_forecast_rarely_raises_anything():
    # At the default limit (2.5 sd) a night of pure Poisson noise fires about 1 in 100;
    # held for a week, about 1 noise series in 20 has an alert open on a given night.
    fired = [detect_anomaly(days(noise(63, seed=s)), 2.0, ts(hold_days=1)) is not None
             for s in range(100)]
    held = [detect_anomaly(days(noise(63, seed=s)), 2.0, ts()) is not None for s in range(100)]
    assert sum(fired) <= 2 and sum(held) <= 8


@pytest.mark.parametrize("rule", ["tracking_signal", "cusum", "m_of_n_95", "last_day_80"])
def test_a_flat_zero_series_raises_nothing(rule):
    assert detect_anomaly(days(np.zeros(63), yhat=0.0, lower=0.0, upper=0.0), 1.0,
                          AnomalyPolicy(rule=rule, value_floor=NO_FLOOR)) is None


@pytest.mark.parametrize("rule", ["tracking_signal", "cusum", "m_of_n_95", "last_day_80"])
def test_one_observation_raises_nothing_but_the_old_one_day_rule(rule):
    verdict = detect_anomaly(days([100.0]), 1.0, AnomalyPolicy(rule=rule, value_floor=NO_FLOOR))
    assert (verdict is not None) == (rule == "last_day_80")


@pytest.mark.parametrize("rule", ["tracking_signal", "cusum", "m_of_n_95"])
def test_a_one_day_spike_raises_nothing(rule):
    spike = np.r_[np.full(60, 10.0), 100.0, 10.0, 10.0]  # x10 two days ago
    steady = days(spike, lower=6.0, upper=14.0)
    assert detect_anomaly(steady, 5.0, AnomalyPolicy(rule=rule, value_floor=NO_FLOOR)) is None
    assert detect_anomaly(days(np.r_[noise(62), 100.0]), 5.0,
                          AnomalyPolicy(rule=rule, value_floor=NO_FLOOR)) is None


def test_the_spike_echo_in_a_forecast_that_absorbed_it_is_not_a_change():
    # A moving average carries a x10 day for weeks: the days after look like a drop.
    actual = np.r_[10 + np.tile([2.0, -2.0], 20), 100.0, np.full(22, 10.0)]
    yhat = np.r_[np.full(41, 10.0), np.full(22, 13.2)]
    recent = days(actual).assign(yhat=yhat)
    policy = ts(echo_ratio=2.0, ts_limit=2.5)
    assert detect_anomaly(recent, 5.0, replace(policy, echo_ratio=0.0)) is not None
    assert detect_anomaly(recent, 5.0, policy) is None


def test_m_of_n_fires_at_exactly_m_days_outside_the_95_bound_on_one_side():
    policy = AnomalyPolicy(rule="m_of_n_95", m=3, n=5, value_floor=NO_FLOOR)
    _, upper = bounds_95(days([10.0]))
    high = float(upper[0]) + 1
    two = days(np.r_[np.full(30, 10.0), high, 10, high, 10, 10])
    three = days(np.r_[np.full(30, 10.0), high, 10, high, 10, high])
    assert detect_anomaly(two, 1.0, policy) is None
    verdict = detect_anomaly(three, 1.0, policy)
    assert verdict is not None and verdict.statistic == 3.0 == verdict.limit
    # Two above and one below is not three on the same side.
    mixed = days(np.r_[np.full(30, 10.0), high, 10, high, 10, 0.0])
    assert detect_anomaly(mixed, 1.0, policy) is None


def test_the_95_bounds_are_the_stored_ones_or_the_80_ones_widened():
    lower, upper = bounds_95(days([10.0]))
    assert upper[0] == pytest.approx(10 + 4 * 1.96 / 1.2816)
    assert lower[0] == pytest.approx(10 - 4 * 1.96 / 1.2816)
    stored = days([10.0], yhat_lower_95=[1.0], yhat_upper_95=[30.0])
    assert tuple(float(b[0]) for b in bounds_95(stored)) == (1.0, 30.0)


def test_the_tracking_signal_fires_at_its_limit_exactly_and_not_below():
    actual = np.r_[10 + np.tile([2.0, -2.0], 28), np.full(7, 14.0)]
    recent = days(actual)
    statistic = detect_anomaly(recent, 1.0, ts(ts_limit=0.1)).statistic
    # Reference errors +-2 (sd 2 x 1.2533, below Poisson's sqrt(10), which stands), a week
    # of +4: 7 x 4 over sd x sqrt(7).
    assert statistic == pytest.approx(28 / (np.sqrt(10) * np.sqrt(7)), rel=1e-9)
    assert detect_anomaly(recent, 1.0, ts(ts_limit=statistic)).statistic == statistic
    assert detect_anomaly(recent, 1.0, ts(ts_limit=float(np.nextafter(statistic, 99)))) is None


def test_missing_days_are_absent_evidence_not_zeros():
    full = days(np.r_[noise(56), noise(7, seed=2, level=20.0)])
    gaps = full.drop(index=[57, 59, 61])  # three of the last seven days never arrived
    verdict = detect_anomaly(gaps, 2.0, ts())
    assert verdict is not None and verdict.direction == "up" and verdict.days == 4
    # With most of the week missing, too few days to say anything.
    assert detect_anomaly(full.drop(index=range(57, 62)), 2.0, ts()) is None


def test_stockout_days_are_left_out_censored_demand_is_no_drop():
    actual = np.r_[noise(56), np.zeros(7)]
    censored = days(actual, is_stockout=[False] * 56 + [True] * 7)
    assert detect_anomaly(days(actual), 2.0, ts()) is not None
    assert detect_anomaly(censored, 2.0, ts()) is None


def test_the_value_floor_keeps_cheap_changes_quiet_and_unknown_cost_passes():
    recent = days(np.r_[noise(56), noise(7, seed=2, level=15.0)])
    verdict = detect_anomaly(recent, 2.0, ts())
    floor = replace(ts(), value_floor=verdict.value_at_stake + 1)
    assert detect_anomaly(recent, 2.0, floor) is None
    assert detect_anomaly(recent, None, floor).value_at_stake is None


def test_a_verdict_holds_for_hold_days_after_the_rule_last_fired():
    shifted = np.r_[noise(56), noise(7, seed=2, level=15.0)]
    back_to_normal = np.r_[shifted, np.full(3, 10.0)]
    later = AS_OF + timedelta(days=3)
    recent = days(back_to_normal, end=later)
    plain = detect_anomaly(recent.iloc[:-3], 2.0, ts())
    assert plain is not None
    held = detect_anomaly(recent, 2.0, ts(hold_days=7))
    assert held is not None and held.direction == "up"


def test_cusum_detects_a_drift_the_window_sum_would_call_noise():
    actual = np.r_[noise(40), noise(23, seed=5, level=13.0)]
    verdict = detect_anomaly(days(actual), 2.0, AnomalyPolicy(rule="cusum", value_floor=0))
    assert verdict is not None and verdict.direction == "up"


def test_an_unknown_rule_or_impossible_m_of_n_is_refused():
    with pytest.raises(ValueError, match="unknown anomaly rule"):
        AnomalyPolicy(rule="zscore")
    with pytest.raises(ValueError, match="m <= n"):
        AnomalyPolicy(rule="m_of_n_95", m=6, n=5)


def test_no_recent_days_no_verdict():
    assert detect_anomaly(None, 1.0) is None
    assert detect_anomaly(days([]), 1.0) is None
    censored = days([5.0, 6.0], is_stockout=[True, True])
    assert detect_anomaly(censored, 1.0, AnomalyPolicy(rule="last_day_80")) is None
