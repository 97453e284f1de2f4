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


@pytest.mark.parametrize("rule", ["tracking_signal", "cusum", "m_of_n_95", "last_day_80",
                                  "level_shift"])
def test_a_flat_zero_series_raises_nothing(rule):
    assert detect_anomaly(days(np.zeros(63), yhat=0.0, lower=0.0, upper=0.0), 1.0,
                          AnomalyPolicy(rule=rule, value_floor=NO_FLOOR)) is None


@pytest.mark.parametrize("rule", ["tracking_signal", "cusum", "m_of_n_95", "last_day_80",
                                  "level_shift"])
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


# ----------------------------------------------------------------------------- level_shift
LS = AnomalyPolicy(value_floor=NO_FLOOR)  # the default rule


def history(actual, **extra) -> pd.DataFrame:
    """Demand only (no forecast at all: level_shift needs none), ending at AS_OF."""
    return days(actual, **extra).assign(yhat=np.nan, yhat_lower=np.nan, yhat_upper=np.nan)


def test_level_shift_is_the_default_and_needs_no_forecast():
    assert AnomalyPolicy().rule == "level_shift"
    verdict = detect_anomaly(history(np.r_[noise(133), noise(7, seed=2, level=16.0)]), 2.0, LS)
    assert verdict is not None and verdict.direction == "up" and verdict.rule == "level_shift"
    assert verdict.since == AS_OF - timedelta(days=6) and verdict.days == 7
    assert 40 <= verdict.shift_pct <= 80  # 60% planted
    assert verdict.value_at_stake == pytest.approx(abs(verdict.shift_per_day) * 28 * 2.0)


def test_level_shift_down():
    verdict = detect_anomaly(history(np.r_[noise(133), noise(7, seed=3, level=4.0)]), 2.0, LS)
    assert verdict is not None and verdict.direction == "down" and verdict.shift_pct < -40


def test_level_shift_fires_at_exactly_its_limit():
    # A constant 9 a day: no weekday spread, so the sd is Poisson's, 3; the reference is
    # 55 days (its largest day left out). A week at 12 reads 3 / (3 sqrt(1/7 + 1/55)).
    actual = np.r_[np.full(133, 9.0), np.full(7, 12.0)]
    z = 3 / (3 * np.sqrt(1 / 7 + 1 / 55))
    verdict = detect_anomaly(history(actual), 1.0, replace(LS, ls_limit=z))
    assert verdict is not None and verdict.statistic == pytest.approx(z)
    assert detect_anomaly(history(actual), 1.0, replace(LS, ls_limit=np.nextafter(z, 9))) is None


def test_level_shift_says_nothing_after_weeks_without_any_demand():
    # Demand long ago, none in the eight weeks before: there is no scale to judge by.
    actual = np.r_[noise(70), np.zeros(63), np.full(7, 5.0)]
    assert detect_anomaly(history(actual), 1.0, LS) is None


@pytest.mark.parametrize("spike_day", [2, 20])
def test_level_shift_ignores_a_one_day_x10_entry_error(spike_day):
    # In the window it is capped at 3 sd; in the reference, left out (else the weeks
    # after it would read as a drop).
    actual = noise(140, seed=4)
    actual[-1 - spike_day] *= 10
    assert detect_anomaly(history(actual), 5.0, LS) is None
    if spike_day < 7:  # uncapped, the one day alone would raise it
        assert detect_anomaly(history(actual), 5.0, replace(LS, ls_cap=100.0)) is not None


def test_level_shift_leaves_a_new_item_ramping_up_alone():
    # Launched 56 days ago (no stock before: censored), ramping up over six weeks.
    ramp = history(np.r_[np.zeros(84), np.minimum(np.arange(1, 57) / 42, 1) * 10]
                   ).assign(is_stockout=np.arange(140) < 84)
    assert detect_anomaly(ramp, 5.0, replace(LS, ls_limit=3.0)) is None
    ungated = replace(LS, ls_limit=3.0, min_history_days=0)
    assert detect_anomaly(ramp, 5.0, ungated).direction == "up"


def test_level_shift_skips_missing_and_stockout_days():
    actual = np.r_[noise(133), noise(7, seed=2, level=20.0)]
    recent = history(actual)
    assert detect_anomaly(recent, 2.0, LS) is not None
    # Three of the shifted week's days absent: four observed still tell.
    assert detect_anomaly(recent.drop(index=[134, 136, 138]), 2.0, LS) is not None
    # Five absent: fewer than min_days (3) observed, nothing to say.
    assert detect_anomaly(recent.drop(index=[133, 134, 136, 137, 138]), 2.0, LS) is None
    # Stockout days are censored: the same as absent.
    censored = recent.assign(is_stockout=recent.index.isin([133, 134, 136, 137, 138]))
    assert detect_anomaly(censored, 2.0, LS) is None


def test_level_shift_does_not_take_the_weekly_pattern_for_noise_or_a_change():
    week = np.array([10.5, 10.0, 10.0, 10.0, 9.0, 2.0, 0.2])
    quiet = [detect_anomaly(history(np.random.default_rng(s).poisson(np.tile(week, 20))
                                    .astype(float)), 1.0, LS) for s in range(50)]
    assert sum(v is not None for v in quiet) <= 2
    shifted = np.random.default_rng(7).poisson(np.r_[np.tile(week, 19), week * 1.6]).astype(float)
    verdict = detect_anomaly(history(shifted), 1.0, LS)
    assert verdict is not None and verdict.direction == "up"


def test_level_shift_holds_its_verdict_for_hold_days():
    actual = np.r_[noise(126), noise(7, seed=2, level=16.0), noise(7, seed=5)]
    # The shift was last week; the week since is back to normal.
    assert detect_anomaly(history(actual), 2.0, LS) is not None
    assert detect_anomaly(history(actual), 2.0, replace(LS, hold_days=1)) is None
