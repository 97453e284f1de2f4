"""Per-item model selection by rolling-origin backtest, and the nightly forecast of one
item with its selected model.

Pure: no Dagster, no database. Everything here works on one item x location and returns
plain, picklable values, so the engine can run it in worker processes.

Selection: the item's last ``n_origins`` windows of ``horizon`` buckets (horizon = max(the
item's lead time, ``MIN_HORIZON_DAYS``); 6 origins where the history allows, at least 3) are
forecast from the history before each window, by every candidate, and scored on WAPE per
window and pooled, with each window's bias. The class's combination (the median of the
seasonal naive, ETS and Theta; intermittent: the mean of MA, TSB and IMAPA) is scored from its
members' backtest forecasts at no extra fit and serves by default; see ``pick_model`` for
what moves an item off it. The backtest errors of the winner (for a combination too: its
own errors, not its members'), each with the horizon step it was made at, calibrate the
item's 80% and 95% intervals per horizon bucket (``intervals.calibrate``); the pooled 80%
pair stays in ``err_low``/``err_high`` for selections read by older code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from assets.forecast.baselines import classify_demand, forecast_baseline
from assets.forecast.intervals import bounds, calibrate, offsets, scalar_offsets
from assets.forecast.models import (
    COMBINATIONS,
    INTERMITTENT_CLASSES,
    MODEL_VERSIONS,
    REFITS_ETS,
    Series,
    buckets_for_days,
    candidates_for,
    combine,
    forecast_model,
    prepare_series,
    to_daily,
)

N_ORIGINS = 6  # more windows, steadier scores (daily demand is noisy)
MIN_ORIGINS = 3
INTERVAL = 0.8
MIN_TRAIN = {"day": 28, "week": 12, "month": 12}
MIN_WINDOW_POINTS = 7  # a shorter backtest is noise: widen the windows' span instead
# The default combination serves unless another candidate's backtest WAPE is more than 20%
# lower (and it wins at least half the windows): a WAPE over 3-6 windows is a noisy
# estimate, and a combination of decent models is the safer bet when they score about the
# same. Measured with bench/accuracy.py on cached backtests: an edge of 10% served worse
# on M3 (sMAPE +0.2) and the demo, 30% no better than 20%.
COMBINATION_EDGE = 0.20
# A combination that refits ETS nightly replaces a default that does not (the intermittent
# mix) only with the edge a single model needs: at no edge the median served most
# intermittent items, demo WAPE 0.485 instead of 0.510, but the nightly forecast stage
# took ~25% longer and fell below 4x naive Prophet (bench/forecast.py). 0.0 buys that.
COSTLIER_COMBINATION_EDGE = COMBINATION_EDGE
MIN_HORIZON_DAYS = 28  # backtest windows cover max(lead time, this)
BIAS_LIMIT = 0.20  # mean bias beyond which a model leaning one way on every window loses
CALIBRATION_ORIGINS = 18  # windows of an intermittent item's interval calibration


@dataclass
class ForecastConfig:
    horizon_days: int = 90
    bucket: str = "day"
    holiday_country: str | None = None
    n_origins: int = N_ORIGINS
    include_prophet: bool = True
    include_ets: bool = True
    history_days: int = 730
    min_horizon_days: int = MIN_HORIZON_DAYS


@dataclass
class Selection:
    model_name: str
    model_version: str
    demand_class: str
    wape: float | None
    scores: dict = field(default_factory=dict)
    err_low: float = 0.0  # 10% quantile of backtest errors (actual - forecast), per bucket
    err_high: float = 0.0  # 90% quantile (both pooled over the horizon; kept for old readers)
    horizon: int = 0
    origins: int = 0
    params: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)  # candidate -> error (it did not compete)
    note: str | None = None
    # 80% and 95% error offsets per horizon bucket (intervals.calibrate); None: stored
    # before them, or no backtest.
    interval_errors: dict | None = None


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sum |a - f| / sum |a|; the mean absolute error when there was no demand."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denom = np.abs(actual).sum()
    err = np.abs(actual - forecast).sum()
    return float(err / denom) if denom > 0 else float(err / max(len(actual), 1))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, the M3 convention (200 |a - f| / (|a| + |f|))."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denom = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(2 * np.abs(actual - forecast), denom, out=np.zeros_like(denom),
                      where=denom > 0)
    return float(100 * ratio.mean())


def backtest_origins(n: int, horizon: int, bucket: str, n_origins: int = N_ORIGINS) -> list[int]:
    """Train lengths (= origins) of the rolling windows; [] when the series is too short.

    Windows are ``horizon`` long and end at the series' end, ``step`` apart; the step is
    the horizon, shrunk when the history is short and widened when the horizon is tiny so
    the windows cover enough points. A short history gets fewer origins, never below 3.
    """
    min_train = MIN_TRAIN[bucket]
    room = n - horizon - min_train
    if room < 0:
        return []
    for origins in range(n_origins, min(MIN_ORIGINS, n_origins) - 1, -1):
        step = max(horizon, -(-MIN_WINDOW_POINTS // origins))
        if origins > 1:
            step = min(step, room // (origins - 1))
        if step >= 1 or origins == 1:
            # Fewer origins rather than windows crammed into a handful of days.
            if origins > MIN_ORIGINS and step < horizon:
                continue
            return [n - horizon - k * step for k in range(origins - 1, -1, -1)]
    return []


def run_backtest(series: Series, candidates, horizon: int, n_origins: int = N_ORIGINS):
    """{model: (wape, errors, params of the last fit, per-window WAPEs, per-window biases,
    horizon step of each error, level of each error's window)} and {model: error} of
    failures. ``errors`` (actual - forecast) hold the observed buckets only, window after
    window; their steps count from 1, the first bucket after the window's origin; a
    window's level is ``recent_level`` at its origin."""
    origins = backtest_origins(len(series), horizon, series.bucket, n_origins)
    results, failures = {}, {}
    if not origins:
        return results, failures, origins
    fits: dict[str, tuple[list, dict]] = {}  # model -> (forecast per origin, last params)
    for name in candidates:
        actual, predicted, mask, params = [], [], [], {}
        members = COMBINATIONS.get(name, ())
        reuse = bool(members) and all(m in fits for m in members)
        try:
            for i, origin in enumerate(origins):
                if reuse:  # a combination of backtested candidates costs no extra fit
                    yhat = combine(name, [fits[m][0][i] for m in members])
                    params = {m: fits[m][1] for m in members}
                else:
                    yhat, params = forecast_model(name, series, horizon, params, upto=origin)
                fits.setdefault(name, ([], {}))[0].append(yhat)
                actual.append(series.values[origin:origin + horizon])
                predicted.append(yhat[:len(actual[-1])])
                mask.append(series.observed[origin:origin + horizon])
        except Exception as exc:  # a candidate that cannot fit this item does not compete
            failures[name] = f"{type(exc).__name__}: {exc}"[:200]
            fits.pop(name, None)
            continue
        fits[name] = (fits[name][0], params)
        a, p, m = np.concatenate(actual), np.concatenate(predicted), np.concatenate(mask)
        steps = np.concatenate([np.arange(1, len(w) + 1) for w in actual])
        levels = np.concatenate([np.full(len(w), recent_level(series, o, horizon))
                                 for o, w in zip(origins, actual, strict=True)])
        # Censored buckets are not demand: score only what was observed.
        if m.any():
            a, p, steps, levels = a[m], p[m], steps[m], levels[m]
        per_origin = [_origin_scores(*w) for w in zip(actual, predicted, mask, strict=True)]
        results[name] = (wape(a, p), a - p, params, [w for w, _ in per_origin],
                         [b for _, b in per_origin], steps, levels)
    return results, failures, origins


def recent_level(series: Series, upto: int, buckets: int) -> float:
    """Mean demand per bucket over the ``buckets`` before ``upto``: the level intervals
    scale with (see ``intervals.calibrate``). The demand seen, not a model's forecast,
    which can collapse to zero in one window."""
    recent = series.values[max(0, upto - max(buckets, 1)):upto]
    return float(recent.mean()) if len(recent) else 0.0


def _origin_scores(actual, predicted, mask) -> tuple[float, float]:
    """(WAPE, bias) of one backtest window; bias = sum(f - a) / sum(a), NaN without demand."""
    a, p = (actual[mask], predicted[mask]) if mask.any() else (actual, predicted)
    total = float(np.abs(a).sum())
    return wape(a, p), float((p - a).sum() / total) if total > 0 else float("nan")


def one_sided(result: tuple) -> bool:
    """A model whose bias leans the same way on every backtest window (at least three),
    by more than ``BIAS_LIMIT`` on average: consistently over- or under-forecasting."""
    biases = np.asarray(result[4] if len(result) > 4 else [], float)
    biases = biases[np.isfinite(biases)]
    return (len(biases) >= MIN_ORIGINS and bool((biases > 0).all() or (biases < 0).all())
            and abs(float(biases.mean())) > BIAS_LIMIT)


def _wins_half_the_origins(challenger: tuple, incumbent: tuple) -> bool:
    """The challenger's WAPE is lower on at least half of the windows (True when the results
    carry no per-window scores). Half, not a strict majority: on 6 windows a majority asks
    for 4, and a combination that guessed two demand-free windows closer kept an item the
    moving average forecast 25% better (M5); one lucky window still cannot decide."""
    if len(challenger) < 4 or len(incumbent) < 4 or not challenger[3]:
        return True
    wins = sum(c < i for c, i in zip(challenger[3], incumbent[3], strict=True))
    return 2 * wins >= len(challenger[3])


def _beats(challenger: tuple, incumbent: tuple, edge: float) -> bool:
    """A pooled WAPE lower by more than ``edge`` and a lower WAPE on half the windows."""
    return (challenger[0] < incumbent[0] * (1 - edge)
            and _wins_half_the_origins(challenger, incumbent))


def pick_model(results: dict, candidates) -> str:
    """The model that serves an item, from its backtest ``results`` ({model: (wape, errors,
    params, per-window WAPEs, per-window biases)}).

    The first combination among ``candidates`` (the class's) serves by default. A single
    model, a baseline like any other, replaces it only with clear evidence: a pooled WAPE
    lower by more than ``COMBINATION_EDGE`` and a lower WAPE on at least half the windows.
    Another combination, as robust as the default, needs only a lower pooled WAPE and half
    the windows, unless it refits ETS nightly where the default does not
    (``COSTLIER_COMBINATION_EDGE``). A model whose bias is one-sided (``one_sided``) does
    not compete while one that is not does. Without a combination the lowest WAPE wins
    (ties: the earlier, simpler candidate).
    """
    order = {name: i for i, name in enumerate(candidates)}
    fair = [n for n in results if not one_sided(results[n])] or list(results)

    def lowest(names):
        return min(names, key=lambda n: (round(results[n][0], 9), order.get(n, len(order))))

    best = lowest(fair)
    default = next((n for n in candidates if n in COMBINATIONS and n in fair), None)
    if default is None or best == default:
        return best
    if best not in COMBINATIONS and _beats(results[best], results[default], COMBINATION_EDGE):
        return best
    others = [n for n in fair if n in COMBINATIONS and n != default]
    if others:
        other = lowest(others)
        costlier = other in REFITS_ETS and default not in REFITS_ETS
        if _beats(results[other], results[default], COSTLIER_COMBINATION_EDGE if costlier else 0.0):
            return other
    return default


def select_model(history: pd.Series, censored: pd.Series | None, as_of: date, lead_time_days: int,
                 config: ForecastConfig, prior_params: dict | None = None) -> Selection:
    """Backtest every candidate for one item and pick the best on WAPE."""
    demand_class = classify_demand(history, censored=censored, as_of=as_of)
    series = prepare_series(history, censored, as_of, config.bucket, config.holiday_country,
                            config.history_days)
    # What a stockout depends on is the demand over at least the lead time; shorter windows
    # score noise (a holiday dip in the last weeks decided the model).
    horizon = buckets_for_days(max(int(lead_time_days or 0), config.min_horizon_days, 1),
                               config.bucket)
    if demand_class in ("new", "dead"):
        name = "moving_average"
        return Selection(name, MODEL_VERSIONS[name], demand_class, None, horizon=horizon,
                         note="short history" if demand_class == "new" else "no recent demand")
    candidates = candidates_for(demand_class, config.bucket, config.include_prophet,
                                config.include_ets)
    results, failures, origins = run_backtest(series, candidates, horizon, config.n_origins)
    if not results:
        name = "moving_average"
        return Selection(name, MODEL_VERSIONS[name], demand_class, None, horizon=horizon,
                         failures=failures, note="history too short for a backtest")
    best = pick_model(results, candidates)
    score, errors, params = results[best][:3]
    tail = (1 - INTERVAL) / 2
    low, high = (np.quantile(errors, [tail, 1 - tail]) if len(errors) >= 2 else (0.0, 0.0))
    calibration = _calibration(series, demand_class, best, results[best], origins, horizon,
                               config.n_origins)
    if best == "prophet" and prior_params:
        params = params or prior_params
    return Selection(best, MODEL_VERSIONS[best], demand_class, float(score),
                     scores={n: round(float(r[0]), 6) for n, r in results.items()},
                     err_low=float(low), err_high=float(high), horizon=horizon,
                     origins=len(origins), params=params, failures=failures,
                     interval_errors=calibration)


def _calibration(series: Series, demand_class: str, best: str, result: tuple,
                 origins: list[int], horizon: int, n_origins: int) -> dict | None:
    """The per-horizon interval errors of the selected model (``intervals.calibrate``).

    Intermittent demand's tails are a few orders: its (cheap) models are backtested again
    on ``CALIBRATION_ORIGINS`` windows, about a year and a half of errors instead of half a
    year. Smooth and erratic demand varies with its level (the errors grow with a trend or
    a season), so its widths follow the level; an intermittent item's order sizes do not
    shrink when orders come less often, so its widths stay as measured.
    """
    errors, steps, levels = result[1], result[5], result[6]
    if (demand_class in INTERMITTENT_CLASSES and best != "prophet"
            and n_origins < CALIBRATION_ORIGINS):
        more, _, more_origins = run_backtest(series, [best], horizon, CALIBRATION_ORIGINS)
        if best in more and len(more_origins) > len(origins):
            errors, steps, levels = more[best][1], more[best][5], more[best][6]
            origins = more_origins
    # An all-censored backtest is scored on every bucket (see run_backtest); an interval
    # is calibrated on observed demand only.
    if not any(series.observed[o:o + horizon].any() for o in origins):
        return None
    return calibrate(errors, steps, series.bucket,
                     levels=None if demand_class in INTERMITTENT_CLASSES else levels)


@dataclass
class ItemForecast:
    frame: pd.DataFrame  # target_date, horizon_day, yhat, yhat_lower/_upper (80%), *_95
    model_name: str
    model_version: str
    demand_class: str
    params: dict
    note: str | None = None


def forecast_item(history: pd.Series, censored: pd.Series | None, as_of: date,
                  selection: Selection | None, config: ForecastConfig,
                  warm_params: dict | None = None) -> ItemForecast:
    """The nightly forecast of one item with its selected model (refit on all history,
    warm-started from its previous parameters), 80% and 95% intervals from the backtest
    errors of each horizon step (a selection stored without them: its pooled 80% pair on
    every step, see ``intervals.scalar_offsets``)."""
    horizon = config.horizon_days
    if selection is None or selection.model_name not in MODEL_VERSIONS:
        demand_class = classify_demand(history, censored=censored, as_of=as_of)
        frame = forecast_baseline(history, horizon, "moving_average", censored=censored,
                                  as_of=as_of)
        return ItemForecast(frame, "moving_average", MODEL_VERSIONS["moving_average"],
                            demand_class, {}, note="no selection")
    if selection.wape is None:  # new / dead / too short: a baseline with its own interval
        frame = forecast_baseline(history, horizon, selection.model_name if selection.model_name
                                  in ("seasonal_naive", "moving_average") else "moving_average",
                                  censored=censored, as_of=as_of)
        return ItemForecast(frame, selection.model_name, selection.model_version,
                            selection.demand_class, {}, note=selection.note)
    series = prepare_series(history, censored, as_of, config.bucket, config.holiday_country,
                            config.history_days)
    h = buckets_for_days(horizon + series.skip_days, config.bucket) + 1
    params = dict(selection.params or {})
    if warm_params:
        params.update(warm_params)
    yhat_b, new_params = forecast_model(selection.model_name, series, h, params)
    # Bounds per bucket step (step 1 = the first forecast bucket, as in the backtest), then
    # spread over the days like the point forecast: a week's bounds on its seven days.
    calibration = selection.interval_errors
    offs = (offsets(calibration, np.arange(1, h + 1),
                    level=recent_level(series, len(series), int(calibration["last_step"])))
            if calibration else
            scalar_offsets(selection.err_low, selection.err_high, h))
    bands = bounds(yhat_b, offs)
    days = pd.date_range(pd.Timestamp(as_of) + pd.Timedelta(days=1), periods=horizon, freq="D")
    frame = pd.DataFrame({"target_date": [d.date() for d in days],
                          "horizon_day": np.arange(1, horizon + 1, dtype="int64"),
                          "yhat": to_daily(series, yhat_b, as_of, horizon)}
                         | {name: to_daily(series, values, as_of, horizon)
                            for name, values in bands.items()})
    return ItemForecast(frame, selection.model_name, selection.model_version,
                        selection.demand_class, new_params)
