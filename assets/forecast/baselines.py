"""Baseline daily demand forecasts and Syntetos-Boylan demand classification.

Pure pandas/numpy: no Dagster, no database. The baselines are the fallback (and the
yardstick) for Prophet: every item gets one, whatever its history looks like.

Conventions shared by every function here:
- ``history`` is daily demand indexed by a DatetimeIndex. Gaps are zero-filled, duplicate
  dates are summed and negative values (net returns) are clipped to 0.
- ``censored`` marks stockout days: demand seen on those days is only what stock allowed,
  so they are treated as *missing*, not as zero demand, when estimating the level.
- ``as_of`` is the last observed day. Forecasts start the day after it. Without it the
  last date of ``history`` is used (and, for an empty history, today).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from assets.forecast.intervals import bounds, calibrate, offsets

SEASON_LENGTH = 7
SEASONAL_WEEKS = 4
MOVING_AVERAGE_DAYS = 28
CROSTON_ALPHA = 0.1
ADI_THRESHOLD = 1.32
CV2_THRESHOLD = 0.49
NEW_ITEM_MIN_DAYS = 56
DEAD_ITEM_DAYS = 90

METHODS = ("seasonal_naive", "moving_average", "croston_sba")
FORECAST_COLUMNS = ["target_date", "horizon_day", "yhat", "yhat_lower", "yhat_upper",
                    "yhat_lower_95", "yhat_upper_95"]
# Days ahead whose in-sample residuals calibrate the interval: one per horizon bucket of
# intervals.HORIZON_BUCKETS up to four weeks; later days grow from the 28-day widths.
RESIDUAL_LAGS = (1, 7, 14, 28)

_BASELINE_FOR_CLASS = {
    "smooth": "seasonal_naive",
    "erratic": "seasonal_naive",
    "intermittent": "croston_sba",
    "lumpy": "croston_sba",
    "new": "moving_average",
    "dead": "moving_average",
}


def _prepare(
    history: pd.Series | None, censored: pd.Series | None, as_of: date | None
) -> tuple[pd.Series, pd.Series]:
    """Return (demand, observed mask) on a gap-free daily index ending at ``as_of``."""
    if history is None or len(history) == 0:
        values = pd.Series(dtype="float64", index=pd.DatetimeIndex([]))
    else:
        index = _naive_days(history.index)
        numbers = pd.to_numeric(history, errors="coerce").to_numpy(dtype="float64")
        values = pd.Series(numbers, index=index).groupby(level=0).sum()
    last_seen = values.index.max() if len(values) else None
    end = pd.Timestamp(as_of) if as_of is not None else last_seen
    if end is None or (len(values) and values.index.min() > end):
        empty = pd.Series(dtype="float64", index=pd.DatetimeIndex([]))
        return empty, empty.astype(bool)
    days = pd.date_range(values.index.min() if len(values) else end, end, freq="D")
    demand = values.reindex(days, fill_value=0.0).fillna(0.0).clip(lower=0.0)

    observed = pd.Series(True, index=days)
    if censored is not None and len(censored):
        flags = pd.Series(censored).fillna(False).to_numpy(dtype=bool)
        mask = pd.Series(flags, index=_naive_days(censored.index))
        observed = ~mask.groupby(level=0).any().reindex(days, fill_value=False)
    return demand, observed


def _naive_days(index: pd.Index) -> pd.DatetimeIndex:
    """Midnight, time-zone-naive version of a date-like index."""
    days = pd.DatetimeIndex(index).normalize()
    return days.tz_localize(None) if days.tz is not None else days


def _croston_sba(values: np.ndarray, alpha: float = CROSTON_ALPHA) -> tuple[np.ndarray, float]:
    """Croston with the Syntetos-Boylan bias correction (1 - alpha/2).

    Sizes and inter-demand intervals are each smoothed with SES, initialised with the
    first demand and its interval counted from the start of the series (the same
    convention as statsforecast). Returns the one-step-ahead fitted values (NaN until
    the first demand) and the final flat forecast.
    """
    fitted = np.full(len(values), np.nan)
    size = interval = None
    periods_since_demand = 0
    for t, demand in enumerate(values):
        periods_since_demand += 1
        if size is not None:
            fitted[t] = (1 - alpha / 2) * size / interval
        if demand > 0:
            if size is None:
                size, interval = float(demand), float(periods_since_demand)
            else:
                size += alpha * (demand - size)
                interval += alpha * (periods_since_demand - interval)
            periods_since_demand = 0
    forecast = 0.0 if size is None else (1 - alpha / 2) * size / interval
    return fitted, forecast


def _fit(method: str, observed: pd.Series, target_days: pd.DatetimeIndex) -> tuple[np.ndarray, pd.Series]:
    """Return (point forecast per target day, in-sample one-step fitted values).

    ``observed`` holds only uncensored days, so "the last N days" means the last N
    observed days: a stockout stretch pushes the window back instead of dragging the
    level down.
    """
    if observed.empty:
        return np.zeros(len(target_days)), pd.Series(dtype="float64")
    if method == "moving_average":
        fitted = observed.rolling(MOVING_AVERAGE_DAYS, min_periods=1).mean().shift(1)
        level = observed.iloc[-MOVING_AVERAGE_DAYS:].mean()
        return np.full(len(target_days), level), fitted
    if method == "croston_sba":
        fitted_values, level = _croston_sba(observed.to_numpy())
        return np.full(len(target_days), level), pd.Series(fitted_values, index=observed.index)
    # seasonal_naive: same weekday, mean of its last 4 observed occurrences.
    weekday = observed.index.day_of_week
    fitted = observed.groupby(weekday).transform(
        lambda x: x.rolling(SEASONAL_WEEKS, min_periods=1).mean().shift(1)
    )
    per_weekday = observed.groupby(weekday).apply(lambda x: x.iloc[-SEASONAL_WEEKS:].mean())
    # A weekday never observed (short or heavily censored history) falls back to the
    # recent overall level rather than to zero.
    fallback = observed.iloc[-MOVING_AVERAGE_DAYS:].mean()
    yhat = np.array([per_weekday.get(d, fallback) for d in target_days.day_of_week], dtype=float)
    return yhat, fitted


def forecast_baseline(
    history: pd.Series,
    horizon: int,
    method: str = "seasonal_naive",
    censored: pd.Series | None = None,
    as_of: date | None = None,
) -> pd.DataFrame:
    """Forecast ``horizon`` days of demand after the last observed day.

    The 80% and 95% intervals come from the in-sample residuals of the method's own
    forecasts made 1, 7, 14 and 28 days ahead (observed days only), calibrated per horizon
    bucket like a selected model's backtest errors (``intervals.calibrate``: finite-sample
    quantiles, widths non-decreasing, growing with sqrt(days / 28) after four weeks). The
    bounds contain ``yhat`` and are clamped at 0; without residuals they collapse onto it.
    """
    if method not in METHODS:
        raise ValueError(f"unknown baseline method {method!r}; expected one of {METHODS}")
    if horizon < 0:
        raise ValueError("horizon must be >= 0")

    demand, observed_mask = _prepare(history, censored, as_of)
    if as_of is not None:
        last_day = pd.Timestamp(as_of)
    elif len(demand):
        last_day = demand.index.max()
    else:
        last_day = pd.Timestamp(date.today() - timedelta(days=1))
    target_days = pd.date_range(last_day + pd.Timedelta(days=1), periods=horizon, freq="D")

    observed = demand[observed_mask]
    yhat, fitted = _fit(method, observed, target_days)
    yhat = np.clip(np.nan_to_num(yhat), 0.0, None)
    errors, steps = _ahead_residuals(method, observed, fitted)
    calibration = calibrate(errors, steps, "day")
    steps_ahead = np.arange(1, horizon + 1)
    if calibration is None:
        zero = np.zeros(horizon)
        offs = {k: zero for k in ("lower_80", "upper_80", "lower_95", "upper_95")}
    else:
        offs = offsets(calibration, steps_ahead)
    return pd.DataFrame(
        {"target_date": [d.date() for d in target_days],
         "horizon_day": steps_ahead.astype("int64"), "yhat": yhat} | bounds(yhat, offs),
        columns=FORECAST_COLUMNS,
    )


def _ahead_residuals(method: str, observed: pd.Series,
                     fitted: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(residual, days ahead) of the forecasts the method would have made ``RESIDUAL_LAGS``
    days before each observed day. ``fitted`` is one step ahead; the flat methods' forecast
    k days ahead is the fitted value k - 1 days earlier, the seasonal naive's drops the
    weekday's last ceil(k / 7) - 1 occurrences."""
    if fitted.empty:
        return np.zeros(0), np.zeros(0, dtype=int)
    errors, steps = [], []
    weekday = observed.index.day_of_week
    for k in RESIDUAL_LAGS:
        if method == "seasonal_naive":
            ahead = fitted.groupby(weekday).shift(-(-k // 7) - 1)
        else:
            ahead = fitted.shift(k - 1)
        residuals = (observed - ahead).dropna().to_numpy()
        errors.append(residuals)
        steps.append(np.full(len(residuals), k))
    return np.concatenate(errors), np.concatenate(steps)


def classify_demand(history: pd.Series, censored: pd.Series | None = None, as_of: date | None = None) -> str:
    """Syntetos-Boylan class: smooth / erratic / intermittent / lumpy, or new / dead.

    - dead: no demand in the last 90 days (including an empty or all-zero history);
    - new: fewer than 56 days from the first non-zero demand to ``as_of``;
    - otherwise ADI (observed days per demand occurrence, counted from the first demand)
      against 1.32 and CV² of the non-zero demand sizes (population variance) against 0.49.
    Censored days are left out of ADI so stockouts do not make an item look intermittent.
    """
    demand, observed_mask = _prepare(history, censored, as_of)
    if demand.empty or not (demand > 0).any():
        return "dead"
    end = demand.index.max()
    if not (demand[demand.index > end - pd.Timedelta(days=DEAD_ITEM_DAYS)] > 0).any():
        return "dead"
    first_demand = demand.index[demand.to_numpy() > 0][0]
    active = demand[first_demand:]
    if len(active) < NEW_ITEM_MIN_DAYS:
        return "new"
    active = active[observed_mask[first_demand:]]
    sizes = active[active > 0]
    if sizes.empty:  # every day with demand was a stockout day: nothing observed to classify
        return "new"
    adi = len(active) / len(sizes)
    cv2 = float((sizes.std(ddof=0) / sizes.mean()) ** 2)
    if adi < ADI_THRESHOLD:
        return "smooth" if cv2 < CV2_THRESHOLD else "erratic"
    return "intermittent" if cv2 < CV2_THRESHOLD else "lumpy"


def choose_baseline(demand_class: str) -> str:
    """Baseline method suited to a demand class (see ``classify_demand``)."""
    try:
        return _BASELINE_FOR_CLASS[demand_class]
    except KeyError:
        raise ValueError(f"unknown demand class {demand_class!r}") from None
