"""Candidate forecasting models behind one signature, and the series preparation they share.

Pure numpy/pandas (statsforecast and Prophet imported lazily): no Dagster, no database.

- ``prepare_series`` turns a daily demand history (with censored stockout days) into the
  bucket series the models see: day (default), week or month buckets. Censored days are
  *missing* demand: Prophet drops them, the other models see them imputed with the
  same-weekday level of the observed days (never below what was recorded).
- ``forecast_model(name, series, h, params)`` returns the point forecast for ``h``
  buckets (clamped at 0) and the parameters worth keeping for the item's next fit (warm
  start): Prophet's fitted k/m/delta/beta/sigma, the ETS spec AutoETS chose.
- Intervals are not sampled: they come from the item's backtest errors (see
  ``selection.py``), which makes Prophet ~3x cheaper and gives every model the same,
  honest kind of interval.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

# statsforecast compiles its models with numba on first use (seconds each); with this set
# (before it is imported) the machine code is cached on disk and every later process,
# including pool workers, loads it in milliseconds.
os.environ.setdefault("NIXTLA_NUMBA_CACHE", "1")

BUCKETS = {"day": 7, "week": 52, "month": 12}  # bucket -> season length
BASELINES = ("seasonal_naive", "moving_average", "croston_sba", "tsb", "adida", "imapa")
STATISTICAL = ("auto_ets", "theta", "auto_arima")
# Combinations of their members' forecasts, backtested from the members' fits at no extra
# fit. The first combination among an item's candidates serves by default (see
# ``selection.pick_model``): for smooth and erratic demand the median of the seasonal
# naive, ETS and Theta, robust where one member goes astray (a trend extrapolated too far,
# a flat level on a weekday pattern); for intermittent and lumpy demand the mean of the
# 28-day moving average, TSB and IMAPA, which refits nightly in a millisecond where the
# median's ETS and Theta take ~30 ms, and which the median replaces where it backtests
# better (orders that follow the working week). Chosen by measurement on M3 monthly, the M5
# sample and the demo (bench/accuracy.py; docs/performance.md#forecast-accuracy).
MEDIAN_COMBINATION = "median_ets_theta_snaive"
COMBINATIONS = {MEDIAN_COMBINATION: ("seasonal_naive", "auto_ets", "theta"),
                "ets_theta": ("auto_ets", "theta"),
                "intermittent_mix": ("moving_average", "tsb", "imapa")}
MEDIAN_COMBINATIONS = frozenset({MEDIAN_COMBINATION})  # the others: the mean
# Combinations refit nightly with ETS and Theta inside (~40 ms an item where the
# intermittent mix takes ~3 ms; see ``selection.COSTLIER_COMBINATION_EDGE``).
REFITS_ETS = frozenset({MEDIAN_COMBINATION, "ets_theta"})
MODELS = (*BASELINES, *STATISTICAL, *COMBINATIONS, "prophet")
INTERMITTENT_CLASSES = ("intermittent", "lumpy")
MODEL_VERSION = "2"
# Bump a model's entry when its code or defaults change: the registry then records a new
# version, promotes it and retires the old one.
MODEL_VERSIONS = {name: MODEL_VERSION for name in MODELS}
MODEL_TYPES = {
    "seasonal_naive": "baseline", "moving_average": "baseline", "croston_sba": "intermittent",
    "tsb": "intermittent", "adida": "intermittent", "imapa": "intermittent",
    "auto_ets": "statistical", "theta": "statistical", "auto_arima": "statistical",
    MEDIAN_COMBINATION: "combination", "ets_theta": "combination",
    "intermittent_mix": "combination", "prophet": "prophet",
}
# Prophet parameters carried from one fit of an item to the next.
PROPHET_PARAMS = ("k", "m", "sigma_obs", "delta", "beta")


@dataclass
class Series:
    """One item x location's demand in buckets, oldest first."""

    values: np.ndarray  # demand per bucket, censored days imputed (float, >= 0)
    observed: np.ndarray  # False where the bucket holds censored (stockout) days
    starts: pd.DatetimeIndex  # first day of each bucket
    bucket: str = "day"
    holiday_country: str | None = None
    # Days of the first forecast bucket already in the past (month bucket only).
    skip_days: int = 0

    @property
    def season(self) -> int:
        return BUCKETS[self.bucket]

    def __len__(self) -> int:
        return len(self.values)

    def head(self, n: int) -> Series:
        return Series(self.values[:n], self.observed[:n], self.starts[:n], self.bucket,
                      self.holiday_country)


def _impute_censored(daily: pd.Series, observed: pd.Series) -> pd.Series:
    """Censored days get the mean of the same weekday's last 4 observed days."""
    if observed.all():
        return daily
    seen = daily.where(observed)
    level = seen.groupby(seen.index.day_of_week).transform(
        lambda x: x.rolling(28, min_periods=1).mean().ffill())
    fallback = float(seen.mean()) if seen.notna().any() else 0.0
    level = level.fillna(fallback)
    return daily.where(observed, np.maximum(daily, level))


def prepare_series(history: pd.Series, censored: pd.Series | None, as_of: date,
                   bucket: str = "day", holiday_country: str | None = None,
                   max_days: int | None = 730) -> Series:
    """Daily history (DatetimeIndex, gaps = 0) up to ``as_of`` -> bucket series.

    Raises ValueError on non-finite demand: a poisoned series fails alone.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; expected one of {tuple(BUCKETS)}")
    values = pd.to_numeric(history, errors="coerce").astype(float)
    if not np.isfinite(values.to_numpy()).all():
        raise ValueError("demand history holds non-finite values")
    index = pd.DatetimeIndex(history.index).normalize()
    values = pd.Series(values.to_numpy(), index=index).groupby(level=0).sum()
    end = pd.Timestamp(as_of)
    values = values[values.index <= end]
    start = values.index.min() if len(values) else end
    if max_days:
        start = max(start, end - pd.Timedelta(days=max_days - 1))
    days = pd.date_range(start, end, freq="D")
    daily = values.reindex(days, fill_value=0.0).clip(lower=0.0)
    observed = pd.Series(True, index=days)
    if censored is not None and len(censored):
        flags = pd.Series(pd.Series(censored).fillna(False).astype(bool).to_numpy(),
                          index=pd.DatetimeIndex(censored.index).normalize())
        observed = ~flags.groupby(level=0).any().reindex(days, fill_value=False)
    daily = _impute_censored(daily, observed)
    if bucket == "day":
        return Series(daily.to_numpy(), observed.to_numpy(), days, bucket, holiday_country)
    if bucket == "week":
        # Weeks end on as_of, so the last bucket is complete.
        n = len(days) // 7
        daily, observed = daily.iloc[len(days) - 7 * n:], observed.iloc[len(days) - 7 * n:]
        v = daily.to_numpy().reshape(n, 7).sum(axis=1)
        o = observed.to_numpy().reshape(n, 7).all(axis=1)
        return Series(v, o, daily.index[::7], bucket, holiday_country)
    # month: calendar months; the running month is incomplete, so it is forecast, not fit.
    month_start = end.to_period("M").start_time
    full = daily[daily.index < month_start] if end != month_start + pd.offsets.MonthEnd(0) \
        else daily
    if end == month_start + pd.offsets.MonthEnd(0):
        month_start = end + pd.Timedelta(days=1)
    grouped = full.groupby(full.index.to_period("M"))
    obs = observed[observed.index < month_start].groupby(full.index.to_period("M")).all()
    counts = grouped.size()
    complete = counts.index[[c == p.days_in_month for p, c in counts.items()]]
    v, o = grouped.sum()[complete], obs[complete]
    return Series(v.to_numpy(dtype=float), o.to_numpy(dtype=bool),
                  pd.DatetimeIndex([p.start_time for p in complete]), bucket, holiday_country,
                  skip_days=(end - month_start).days + 1)


def buckets_for_days(days: int, bucket: str) -> int:
    return {"day": days, "week": math.ceil(days / 7), "month": math.ceil(days / 30)}[bucket] or 1


def to_daily(series: Series, values: np.ndarray, as_of: date, horizon_days: int) -> np.ndarray:
    """Spread bucket forecasts evenly over their days; the next ``horizon_days`` days."""
    if series.bucket == "day":
        return np.asarray(values[:horizon_days], dtype=float)
    if series.bucket == "week":
        return np.repeat(np.asarray(values, dtype=float) / 7.0, 7)[:horizon_days]
    first = pd.Timestamp(as_of) + pd.Timedelta(days=1 - series.skip_days)
    out: list[float] = []
    month = first.to_period("M")
    for value in values:
        out += [float(value) / month.days_in_month] * month.days_in_month
        month += 1
    return np.asarray(out[series.skip_days:series.skip_days + horizon_days])


# ------------------------------------------------------------------------------ models
def _seasonal_naive(y: np.ndarray, h: int, season: int, bucket: str) -> np.ndarray:
    cycles = 4 if bucket == "day" else 1  # daily demand is noisy: average the last 4 weeks
    if len(y) < season:
        return np.full(h, y[-28:].mean() if len(y) else 0.0)
    usable = (len(y) // season) * season
    cycles = min(cycles, max(1, usable // season))
    last = y[len(y) - cycles * season:].reshape(cycles, season).mean(axis=0)
    return np.resize(last, h)


def _moving_average(y: np.ndarray, h: int, bucket: str) -> np.ndarray:
    window = {"day": 28, "week": 8, "month": 6}[bucket]
    return np.full(h, y[-window:].mean() if len(y) else 0.0)


def _statsforecast(name: str, y: np.ndarray, h: int, season: int, params: dict) -> tuple:
    from statsforecast import models as sf

    keep: dict = {}
    if name == "croston_sba":
        model = sf.CrostonSBA()
    elif name == "tsb":
        model = sf.TSB(alpha_d=0.1, alpha_p=0.1)
    elif name == "adida":
        model = sf.ADIDA()
    elif name == "imapa":
        model = sf.IMAPA()
    elif name == "theta":
        model = sf.Theta(season_length=season if len(y) >= 2 * season else 1)
    elif name == "auto_arima":
        model = sf.AutoARIMA(season_length=season if len(y) >= 2 * season else 1)
    elif name == "auto_ets":
        m = season if len(y) >= 2 * season else 1
        spec = params.get("spec") if params.get("season") == m else None
        try:
            fitted = sf.AutoETS(season_length=m, model=spec or "ZZZ",
                                damped=params.get("damped")).fit(y)
        except ValueError:
            if not spec:
                raise
            # A multiplicative spec chosen on positive data does not fit once a zero
            # arrives: search again.
            fitted = sf.AutoETS(season_length=m, model="ZZZ").fit(y)
        method = fitted.model_["method"]  # e.g. "ETS(A,Ad,N)"
        parts = method[method.index("(") + 1:-1].split(",")
        keep = {"spec": parts[0] + parts[1][0] + parts[2], "damped": parts[1].endswith("d"),
                "season": m}
        return fitted.predict(h=h)["mean"], keep
    else:  # pragma: no cover - guarded by forecast_model
        raise ValueError(name)
    return model.forecast(y=y, h=h)["mean"], keep


def combine(name: str, forecasts) -> np.ndarray:
    """The combination ``name`` of its members' forecasts (one row per member)."""
    return (np.median if name in MEDIAN_COMBINATIONS else np.mean)(forecasts, axis=0)


def _combination(name: str, view: Series, h: int, params: dict) -> tuple:
    """The members' (clamped) forecasts combined; each member keeps its own warm-start
    parameters under its name, so a nightly refit of ETS inside it reuses the ETS spec."""
    forecasts, keep = [], {}
    for member in COMBINATIONS[name]:
        yhat, keep[member] = forecast_model(member, view, h, params.get(member))
        forecasts.append(yhat)
    return combine(name, forecasts), keep


_PROPHET_QUIET = False


def quiet_prophet_logs() -> None:
    """cmdstanpy logs every fit and Prophet warns about short histories: silence both.

    Configured after importing them (their modules set their loggers up on import), and
    cmdstanpy's logger gets a handler so it does not install its own console handler.
    """
    global _PROPHET_QUIET
    if _PROPHET_QUIET:
        return
    import cmdstanpy  # noqa: F401
    import prophet  # noqa: F401

    for name in ("cmdstanpy", "prophet", "prophet.models", "prophet.plot"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.ERROR)
        logger.propagate = False
    _PROPHET_QUIET = True


def fits_yearly_seasonality(span_days: int) -> bool:
    """About two years of history, like Prophet's own "auto" (730 days; 720 here so that
    the default 730-day window, which spans 729 days, keeps it): a yearly cycle needs two
    to be told from trend and noise. On one year its 20-term Fourier series fitted noise,
    and the optimizer took seconds on a few dozen monthly points."""
    return span_days >= 720


def _prophet(series: Series, y: np.ndarray, h: int, params: dict) -> tuple:
    quiet_prophet_logs()
    from prophet import Prophet

    n = len(y)
    span_days = (series.starts[-1] - series.starts[0]).days if n else 0
    model = Prophet(
        growth="linear",
        yearly_seasonality=fits_yearly_seasonality(span_days),
        weekly_seasonality=series.bucket == "day",
        daily_seasonality=False,
        uncertainty_samples=0,  # intervals come from backtest errors
        n_changepoints=min(25, max(0, int(n * 0.8) - 1)),
    )
    if series.holiday_country and series.bucket == "day":
        model.add_country_holidays(country_name=series.holiday_country)
    frame = pd.DataFrame({"ds": series.starts[:n], "y": y})
    frame.loc[~series.observed[:n], "y"] = np.nan  # censored days: not evidence of demand
    init = None
    if params and all(k in params for k in PROPHET_PARAMS):
        init = {k: (np.asarray(params[k], dtype=float) if k in ("delta", "beta")
                    else float(params[k])) for k in PROPHET_PARAMS}
    try:
        model.fit(frame, init=init) if init else model.fit(frame)
    except Exception:
        if init is None:
            raise
        return _prophet(series, y, h, {})  # a warm start that no longer fits: start cold
    freq = {"day": "D", "week": "7D", "month": "MS"}[series.bucket]
    last = series.starts[n - 1]
    future = pd.DataFrame({"ds": pd.date_range(last, periods=h + 1, freq=freq)[1:]})
    if series.bucket == "week":
        future["ds"] = [last + pd.Timedelta(days=7 * (i + 1)) for i in range(h)]
    yhat = model.predict(future)["yhat"].to_numpy()
    keep = {"k": float(model.params["k"][0][0]), "m": float(model.params["m"][0][0]),
            "sigma_obs": float(model.params["sigma_obs"][0][0]),
            "delta": [float(v) for v in np.ravel(model.params["delta"][0])],
            "beta": [float(v) for v in np.ravel(model.params["beta"][0])]}
    keep["warm_started"] = init is not None
    return yhat, keep


def forecast_model(name: str, series: Series, h: int, params: dict | None = None,
                   upto: int | None = None) -> tuple[np.ndarray, dict]:
    """Point forecast of ``h`` buckets after ``series[:upto]``; clamped at 0."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")
    view = series if upto is None else series.head(upto)
    y = np.asarray(view.values, dtype=float)
    params = params or {}
    if len(y) == 0:
        return np.zeros(h), {}
    if name == "seasonal_naive":
        yhat, keep = _seasonal_naive(y, h, view.season, view.bucket), {}
    elif name == "moving_average":
        yhat, keep = _moving_average(y, h, view.bucket), {}
    elif name == "prophet":
        yhat, keep = _prophet(view, y, h, params)
    elif name in COMBINATIONS:
        yhat, keep = _combination(name, view, h, params)
    elif not y.any():
        yhat, keep = np.zeros(h), {}  # statsforecast's intermittent methods need a demand
    else:
        yhat, keep = _statsforecast(name, y, h, view.season, params)
    yhat = np.nan_to_num(np.asarray(yhat, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(yhat, 0.0, None), keep


def warm_up(include_prophet: bool = False) -> None:
    """Compile (or load from cache) every statsforecast model once in this process, so
    forked workers inherit machine code instead of compiling it each."""
    y = np.resize(np.array([3.0, 0.0, 5.0, 2.0, 0.0, 4.0, 1.0]), 42)
    series = Series(y, np.ones(len(y), bool), pd.date_range("2024-01-01", periods=len(y)))
    for name in ("croston_sba", "tsb", "adida", "imapa", "auto_ets", "theta"):
        forecast_model(name, series, 3)
    if include_prophet:
        quiet_prophet_logs()


def candidates_for(demand_class: str, bucket: str, include_prophet: bool = True,
                   include_ets: bool = True) -> tuple:
    """Every model worth trying for a demand class, each combination after its members and
    the class's default first among the combinations (see ``COMBINATIONS``); baselines
    compete too. Intermittent items get the intermittent methods and, in the weekly
    selection, ETS, Theta and their combinations as well (where orders follow the working
    week, a flat rate misses every day). ``include_ets=False`` (a quick nightly cold start)
    leaves out the model searches, AutoETS and AutoARIMA, and the combinations built on ETS."""
    if demand_class in INTERMITTENT_CLASSES:
        models = ["moving_average", "seasonal_naive", "croston_sba", "tsb", "adida", "imapa",
                  "intermittent_mix"]
        if include_ets:
            models += ["auto_ets", "theta", MEDIAN_COMBINATION, "ets_theta"]
    elif not include_ets:
        models = ["seasonal_naive", "moving_average", "theta"]
    else:
        models = ["seasonal_naive", "moving_average", "auto_ets", "theta"]
        if bucket != "day":  # AutoARIMA with a weekly season on daily data is too slow
            models.append("auto_arima")
        models += [MEDIAN_COMBINATION, "ets_theta"]
    if include_prophet:
        models.append("prophet")
    return tuple(models)


def target_days(as_of: date, horizon_days: int) -> list[date]:
    return [as_of + timedelta(days=d) for d in range(1, horizon_days + 1)]
