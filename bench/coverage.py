"""Forecast interval coverage: the per-horizon calibration (80% and 95%) beside the scalar
interval it replaced, through the platform's own ``select_model`` and ``forecast_item``.

- M5 small (8 daily series, /work/shared/data/m5_small): a selection as of the start of
  the 28-day holdout, then a forecast from every as-of day of the holdout (refit nightly,
  the selection kept), scored on the holdout's days; ``--m5-blocks N`` repeats that for
  the N 28-day blocks before the end (a selection per block) for more lag-28 points.
  Target: within 5 points of nominal.
- Demo portfolio (demo.patterns, the generator's items and demand, true demand without
  stockouts; seeded): a selection as of the first as-of day, then forecasts from
  ``--origins`` as-of days 5 days apart (coprime with the week, so every lag meets every
  weekday), 90 days ahead, refit each time. Target: within 3 points of nominal.

"old (scalar)": the item's pooled 80% error pair on every horizon day (the interval before
issue 14); its 95% is that pair stretched by the normal ratio (what a selection stored
before per-horizon errors gets now). Baseline items (new, dead) had the one-step residual
quantiles on every day. Coverage counts an actual on a bound as inside (as the accuracy
SQL's ``between``).

    nice .venv/bin/python bench/coverage.py [--skip-m5] [--skip-demo] [--items 200]
        [--origins 12] [--m5-blocks 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path and its name would shadow
# the ``coverage`` package numba imports: the folder leaves the path, the project joins it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path
                             if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from assets.forecast.baselines import _fit, _prepare  # noqa: E402
from assets.forecast.engine import default_workers, warm_imports  # noqa: E402
from assets.forecast.intervals import bounds, scalar_offsets  # noqa: E402
from assets.forecast.selection import ForecastConfig, forecast_item, select_model  # noqa: E402
from bench.accuracy import DATA  # noqa: E402

LAGS = (1, 7, 28)
BANDS = ("80", "95")
COLUMNS = {"new": ("yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95"),
           "old": ("old_lower", "old_upper", "old_lower_95", "old_upper_95")}


def _old_baseline(history: pd.Series, as_of: date, yhat: np.ndarray) -> dict:
    """The interval a baseline item had before: 10%/90% quantiles of the moving average's
    one-step residuals on every day (95%: stretched like a stored scalar pair)."""
    demand, mask = _prepare(history, None, as_of)
    observed = demand[mask]
    days = pd.date_range(pd.Timestamp(as_of), periods=2)[1:]
    _, fitted = _fit("moving_average", observed, days)
    residuals = (observed - fitted).dropna().to_numpy()
    low, high = np.quantile(residuals, [0.1, 0.9]) if len(residuals) >= 2 else (0.0, 0.0)
    return bounds(yhat, scalar_offsets(low, high, len(yhat)))


def run_item(task: tuple) -> pd.DataFrame:
    """Select as of ``select_at``, forecast from every as-of day in ``origins`` (indices
    into ``values``), and return one row per (origin, lag) with an actual."""
    name, values, start, lead, config, select_at, origins = task
    dates = pd.date_range(start, periods=len(values), freq="D")
    full = pd.Series(values, index=dates)
    as_of = dates[select_at].date()
    selection = select_model(full.iloc[:select_at + 1], None, as_of, lead, config)
    warm, rows = None, []
    for origin in origins:
        as_of = dates[origin].date()
        history = full.iloc[:origin + 1]
        fc = forecast_item(history, None, as_of, selection, config, warm)
        warm = fc.params or warm
        frame = fc.frame
        yhat = frame["yhat"].to_numpy(float)
        if selection.wape is None:
            old = _old_baseline(history, as_of, yhat)
        else:
            old = bounds(yhat, scalar_offsets(selection.err_low, selection.err_high, len(yhat)))
        frame = frame.assign(old_lower=old["yhat_lower"], old_upper=old["yhat_upper"],
                             old_lower_95=old["yhat_lower_95"],
                             old_upper_95=old["yhat_upper_95"])
        ahead = origin + frame["horizon_day"].to_numpy()
        frame = frame[ahead < len(values)].assign(actual=values[ahead[ahead < len(values)]])
        rows.append(frame.assign(series=name, origin=origin, model=selection.model_name,
                                 demand_class=selection.demand_class))
    return pd.concat(rows, ignore_index=True)


def coverage_table(rows: pd.DataFrame, lag_groups: dict) -> pd.DataFrame:
    """Coverage per lag group: old and new, 80% and 95%, with the point count."""
    table = []
    actual = rows["actual"].to_numpy(float)
    for label, lags in lag_groups.items():
        pick = rows["horizon_day"].isin(lags).to_numpy()
        line = {"lags": label, "points": int(pick.sum())}
        for kind, (lo80, hi80, lo95, hi95) in COLUMNS.items():
            for band, (lo, hi) in zip(BANDS, ((lo80, hi80), (lo95, hi95)), strict=True):
                inside = ((rows[lo].to_numpy(float) <= actual)
                          & (actual <= rows[hi].to_numpy(float)))[pick]
                line[f"{kind} {band}%"] = float(inside.mean()) if pick.any() else np.nan
        width = (rows["yhat_upper"] - rows["yhat_lower"])[pick].mean()
        old_width = (rows["old_upper"] - rows["old_lower"])[pick].mean()
        line["80% width new/old"] = float(width / old_width) if old_width else np.nan
        table.append(line)
    return pd.DataFrame(table)


def _verdict(table: pd.DataFrame, tolerance: float) -> str:
    worst = max(abs(table["new 80%"] - 0.80).max(), abs(table["new 95%"] - 0.95).max())
    return (f"new: worst distance from nominal {100 * worst:.1f} points "
            f"({'within' if worst <= tolerance else 'OUTSIDE'} +-{100 * tolerance:.0f})")


def _run(tasks: list, workers: int) -> pd.DataFrame:
    warm_imports(ForecastConfig())
    with ProcessPoolExecutor(workers) as pool:
        return pd.concat(list(pool.map(run_item, tasks, chunksize=1)), ignore_index=True)


def m5(workers: int, blocks: int) -> pd.DataFrame:
    data = pd.read_csv(DATA / "m5_small" / "m5_sales_exog_small.csv")
    config = ForecastConfig(horizon_days=28, holiday_country="US")
    tasks = []
    for uid, group in data.groupby("unique_id"):
        group = group.sort_values("ds")
        y = group["y"].to_numpy(float)
        first = int(np.argmax(y > 0))  # the item was not on sale before its first sale
        y, start = y[first:], pd.Timestamp(group["ds"].iloc[first])
        for block in range(blocks):
            end = len(y) - 28 * block  # this block's holdout: the 28 days before ``end``
            select_at = end - 29  # the last day before the holdout
            tasks.append((f"{uid}#{block}", y[:end], start, 0, config, select_at,
                          list(range(select_at, end - 1))))
    return _run(tasks, workers)


def demo(items: int, origins: int, workers: int, seed: int) -> pd.DataFrame:
    from demo.patterns import (
        PATTERN_BLOCK,
        SYSTEM_BLOCK,
        build_calendar,
        deal_blocks,
        make_item,
        make_series,
    )

    history_days, horizon, step = 600, 90, 5
    days = history_days + step * (origins - 1) + horizon
    start = date(2024, 1, 1)
    cal = build_calendar(start, days)
    systems = deal_blocks(seed, items, SYSTEM_BLOCK, 1)
    patterns = deal_blocks(seed, items, PATTERN_BLOCK, 2)
    # Prophet left out: hours on 2 cores for the rolling origins, and its intervals are
    # calibrated exactly like every other model's.
    config = ForecastConfig(horizon_days=horizon, include_prophet=False)
    first = history_days - 1
    tasks = []
    for i in range(items):
        item = make_item(i, seed, systems[i], patterns[i], i + 1, days)
        for k, s in enumerate(make_series(item, seed, cal)):
            # The warehouse has no demand rows before an item's launch: its history starts
            # at the first demand, as in the platform (and the M5 part above).
            launch = min(int(np.argmax(s.demand > 0)) if s.demand.any() else 0, first)
            tasks.append((f"{item.sku}@{k}", s.demand[launch:] / item.scale,
                          pd.Timestamp(start) + pd.Timedelta(days=launch), s.lead, config,
                          first - launch, [first - launch + step * j for j in range(origins)]))
    return _run(tasks, workers)


def report(title: str, rows: pd.DataFrame, lag_groups: dict, tolerance: float) -> None:
    table = coverage_table(rows, lag_groups)
    print(f"\n{title}")
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print(_verdict(table[table["lags"].isin([str(lag) for lag in LAGS] + ["1-28"])], tolerance))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=min(2, default_workers()))
    parser.add_argument("--skip-m5", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--m5-blocks", type=int, default=1,
                        help="M5: 28-day holdout blocks before the end, each selected apart")
    parser.add_argument("--items", type=int, default=200, help="demo: items")
    parser.add_argument("--origins", type=int, default=12, help="demo: as-of days, 5 apart")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    lag_groups = {str(lag): [lag] for lag in LAGS} | {"1-28": list(range(1, 29))}

    if not args.skip_m5:
        started = time.monotonic()
        rows = m5(args.workers, args.m5_blocks)
        report(f"M5 small: 8 series x {args.m5_blocks} holdout block(s) of 28 days, a forecast "
               f"from every as-of day ({time.monotonic() - started:.0f} s)", rows, lag_groups,
               0.05)
        print("models:", rows.groupby("series")["model"].first().value_counts().to_dict())
    if not args.skip_demo:
        started = time.monotonic()
        rows = demo(args.items, args.origins, args.workers, args.seed)
        groups = lag_groups | {"29-90": list(range(29, 91))}
        report(f"Demo: {args.items} items, {rows['series'].nunique()} item-locations, "
               f"{args.origins} as-of days 5 apart, 90 days ahead "
               f"({time.monotonic() - started:.0f} s)", rows, groups, 0.03)
        by_class = []
        for demand_class, part in rows.groupby("demand_class"):
            line = coverage_table(part, {"1-28": list(range(1, 29))}).iloc[0].to_dict()
            by_class.append({"class": demand_class, "items": part["series"].nunique()} | line)
        print("\nby demand class, lags 1-28")
        print(pd.DataFrame(by_class).drop(columns="lags").to_markdown(index=False,
                                                                       floatfmt=".3f"))


if __name__ == "__main__":
    main()
