"""Forecast stage throughput: the platform beside the naive way, in the same run.

Synthetic portfolio (seeded): N items x 730 days with the demo's mix of demand patterns
(smooth / erratic with weekly and yearly seasonality, intermittent, lumpy).

- naive: a serial loop of default Prophet (fit, then predict the horizon with its default
  1,000 uncertainty samples for the interval), timed on a sample of items.
- platform, nightly cold-start selection (items without a stored selection): the
  3-origin backtest without Prophet, quick (the default) and with AutoETS.
- platform, weekly selection: the rolling-origin backtest per item (process pool),
  timed on a sample (it runs once a week, not nightly).
- platform, nightly forecast stage: every item refit with its selected model (Prophet
  warm-started, intervals from the backtest errors) and forecast for the horizon, over the
  process pool; items outside the selection sample reuse the choice made for the sampled
  item of the same pattern and seed slot.

    .venv/bin/python bench/forecast.py [--items 1000] [--naive-sample 100] [--select-sample 200]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assets.forecast.engine import ItemTask, default_workers, run_items, warm_imports  # noqa: E402
from assets.forecast.selection import MIN_ORIGINS, ForecastConfig  # noqa: E402

AS_OF = date(2025, 12, 31)
WEEKDAY = np.array([1.05, 1.0, 1.0, 1.0, 0.9, 0.2, 0.02])
PATTERNS = ("smooth",) * 8 + ("erratic",) * 3 + ("intermittent",) * 3 + ("lumpy",) * 2


def portfolio(items: int, days: int, seed: int = 7) -> list[ItemTask]:
    dates = pd.date_range(end=pd.Timestamp(AS_OF), periods=days, freq="D")
    t = np.arange(days)
    tasks = []
    for i in range(items):
        rng = np.random.default_rng([seed, i])
        pattern = PATTERNS[i % len(PATTERNS)]
        level = rng.lognormal(np.log(8), 0.8)
        season = 1 + rng.uniform(0.05, 0.4) * np.sin(2 * np.pi * t / 365 + rng.uniform(0, 6))
        trend = 1 + rng.uniform(-0.15, 0.35) * t / 365
        mean = level * season * trend * WEEKDAY[dates.day_of_week]
        if pattern == "smooth":
            q = rng.poisson(mean)
        elif pattern == "erratic":
            q = rng.gamma(0.5, mean / 0.5)
        elif pattern == "intermittent":
            q = (rng.random(days) < 0.08) * rng.poisson(3, days)
        else:
            q = (rng.random(days) < 0.03) * rng.lognormal(np.log(25), 0.6, days)
        tasks.append(ItemTask(f"item-{i:05d}", "L1", dates.values, np.round(q, 1).astype(float),
                              np.zeros(days, bool), int(np.clip(rng.lognormal(np.log(14), 0.5),
                                                                3, 60))))
    return tasks


def naive_prophet(tasks: list[ItemTask], horizon: int) -> float:
    from prophet import Prophet

    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.ERROR)
    started = time.monotonic()
    for task in tasks:
        frame = pd.DataFrame({"ds": pd.DatetimeIndex(task.dates), "y": task.quantity})
        model = Prophet()  # defaults: 1,000 uncertainty samples for yhat_lower / yhat_upper
        model.fit(frame)
        model.predict(model.make_future_dataframe(horizon, include_history=False))
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument("--select-sample", type=int, default=160)
    parser.add_argument("--cold-sample", type=int, default=320)
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()

    tasks = portfolio(args.items, args.days)
    config = ForecastConfig(horizon_days=args.horizon, holiday_country="DE")
    warm_imports(config)
    rows = []

    sample = tasks[:args.naive_sample]
    seconds = naive_prophet(sample, args.horizon)
    naive_rate = len(sample) / seconds
    rows.append({"implementation": "naive: serial default Prophet, 1,000-sample intervals",
                 "items timed": len(sample), "seconds": seconds, "series/s": naive_rate})

    # A nightly cold start (an item without a stored selection, e.g. every item on a new
    # installation): the 3-origin backtest without Prophet, quick (no model searches, the
    # default) and with AutoETS (FORGECAST_FORECAST_COLD_START_ETS).
    cold = tasks[:args.cold_sample]
    for label, include_ets in (("quick: baselines, Theta, intermittent", False),
                               ("with AutoETS + ETS/Theta", True)):
        cold_config = replace(config, include_prophet=False, include_ets=include_ets,
                              n_origins=MIN_ORIGINS)
        started = run_items("select", cold, AS_OF, cold_config, args.workers)
        rows.append({"implementation": f"platform nightly cold-start selection, {label}",
                     "items timed": len(cold), "seconds": started.seconds,
                     "series/s": len(cold) / started.seconds})

    picked = tasks[:args.select_sample]
    selection = run_items("select", picked, AS_OF, config, args.workers)
    rows.append({"implementation": f"platform weekly selection (backtest, {args.workers} workers)",
                 "items timed": len(picked), "seconds": selection.seconds,
                 "series/s": len(picked) / selection.seconds})
    chosen = [selection.results[t.key] for t in picked]
    for i, task in enumerate(tasks):
        task.selection = chosen[i % len(chosen)]
        task.warm_params = task.selection.get("params") or None
    nightly = run_items("forecast", tasks, AS_OF, config, args.workers)
    assert not nightly.failures, nightly.failures[:3]
    rate = len(tasks) / nightly.seconds
    rows.append({"implementation": f"platform nightly forecast stage ({args.workers} workers)",
                 "items timed": len(tasks), "seconds": nightly.seconds, "series/s": rate})
    table = pd.DataFrame(rows)
    table["vs naive"] = table["series/s"] / naive_rate
    print(f"\n{args.items} items x {args.days} days, horizon {args.horizon} days, "
          f"intervals included everywhere")
    print(table.to_markdown(index=False, floatfmt=".2f"))
    mix = pd.Series([c["model_name"] for c in chosen]).value_counts().to_dict()
    print("\nselected models (sample):", mix)
    print(f"10,000-item nightly forecast stage, extrapolated from this rate: "
          f"{10_000 / rate / 60:.1f} min (compute only; the database write of 900k rows "
          "comes on top)")


if __name__ == "__main__":
    main()
