"""Alert quality against planted ground truth: the demo at 500 items (fixed seed) with
labelled events (``demo.planting``), replayed over 60 consecutive as-of days through the
functions the assets call.

    nice .venv/bin/python bench/alerts.py [--items 500 --days 60 --seed 42 --workers 2]
    (while developing: --items 100 --days 20; --cache FILE keeps the replay for re-scoring)

Per as-of day (after ``--warmup`` days that give the rules their first weeks of lag-1
errors, unscored): the demand history up to the day, read straight from the exports
(``bench/alerts_data.py``: the shortcut for ingest + dbt, see there), is forecast per
item-location with ``forecast_item`` (models selected once, on the first day, with
``select_model``; refit nightly, warm-started; the engine's worker pool). The inventory
side runs ``project_portfolio`` on the stock of the day, the open orders reconstructed for
it and the components' later consumption as dependent demand (the firm parent orders'
need; no MRP explosion of forecasts), then ``evaluate_portfolio``. The demand anomaly
runs ``detect_anomaly`` per candidate rule on the lag-1 forecasts and the actuals (the
days ``anomaly_lookback`` asks for, as the store reads them);
``diff_alerts`` turns each night's alerts into opened ("raised") ones. Prophet is left out
of the candidates (its nightly refit of 500 items x 80 days would take hours here).

Scoring (an item-location's label is its planted event; the rest are clean):
* anomaly precision: of the opened anomaly alerts, those on an item-location with a
  demand event (shift, trend, promotion, discontinue) opened on or after the event day
  (within 14 days for a promotion) are true; one on an entry-error item-location, on a
  clean one or before the event is false;
* recall: events whose item-location the rule flags, in the event's direction, on some
  as-of day in [day, day + 7]; days to detection = first such as-of day - event day;
* alerts per 1,000 clean item-locations per night: opened alerts on clean item-locations,
  nights after the first week of the scored days;
* interval coverage at lags 1, 7, 28: share of item-days (stockout days left out: their
  demand is censored) inside the 80% and 95% bounds (95%: stored bounds if the forecast
  carries them, else the 80% ones widened, as the rule does).
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assets.alerts.anomaly import AnomalyPolicy, detect_anomaly  # noqa: E402
from assets.alerts.assets import anomaly_lookback  # noqa: E402
from assets.alerts.rules import Alert, AlertPolicy, evaluate_portfolio  # noqa: E402
from assets.forecast.engine import ItemTask, run_items  # noqa: E402
from assets.forecast.projection import project_portfolio  # noqa: E402
from assets.forecast.selection import ForecastConfig  # noqa: E402
from bench.alerts_data import DemoFrames, load, supply_on  # noqa: E402
from demo.generator import generate_demo_data  # noqa: E402
from demo.planting import PlantPlan  # noqa: E402

END = date(2025, 6, 30)
LAGS = (1, 7, 28)
CHANGES = ("level_up", "level_down", "trend_break", "promotion", "discontinue")
TS = "tracking_signal"
CANDIDATES = {
    # The rule before issue 14: one day, no hold, no echo check (and no floor).
    "last_day_80, no floor (before)": AnomalyPolicy(rule="last_day_80", value_floor=0.0,
                                                    hold_days=1, echo_ratio=0.0),
    "last_day_80": AnomalyPolicy(rule="last_day_80", hold_days=1, echo_ratio=0.0),
    "m_of_n_95 3/5": AnomalyPolicy(rule="m_of_n_95", m=3, n=5),
    "m_of_n_95 2/7": AnomalyPolicy(rule="m_of_n_95", m=2, n=7),
    "tracking_signal k2.5": AnomalyPolicy(rule=TS),
    "tracking_signal k3": AnomalyPolicy(rule=TS, ts_limit=3.0),
    "tracking_signal k3.5": AnomalyPolicy(rule=TS, ts_limit=3.5),
    "tracking_signal k2.5 no echo check": AnomalyPolicy(rule=TS, echo_ratio=0.0),
    "tracking_signal k2.5 no hold": AnomalyPolicy(rule=TS, hold_days=1),
    "tracking_signal k2.5 w14": AnomalyPolicy(rule=TS, ts_window=14),
    # CUSUM holds by itself (its sum decays slowly): no extra hold.
    "cusum k0.5 h4": AnomalyPolicy(rule="cusum", cusum_k=0.5, cusum_h=4.0, hold_days=1),
    "cusum k0.5 h5": AnomalyPolicy(rule="cusum", cusum_k=0.5, cusum_h=5.0, hold_days=1),
    "cusum k1 h3": AnomalyPolicy(rule="cusum", cusum_k=1.0, cusum_h=3.0, hold_days=1),
    "level_shift z3.5 (chosen: the default)": AnomalyPolicy(),
    "level_shift z3": AnomalyPolicy(ls_limit=3.0),
    "level_shift z2.5": AnomalyPolicy(ls_limit=2.5),
    "level_shift z3.5 no history gate": AnomalyPolicy(min_history_days=0),
    "level_shift z3.5 cap 4 sd": AnomalyPolicy(ls_cap=4.0),
    "level_shift z3 cap 2 sd, 10-day window": AnomalyPolicy(ls_limit=3.0, ls_cap=2.0,
                                                            ls_window=10),
}


# ----------------------------------------------------------------------------- replay
def _tasks(f: DemoFrames, i: int, selections: dict, warm: dict) -> list[ItemTask]:
    days = f.days[:i + 1]
    lead = f.items.set_index(["sku", "location_id"])["lead_time_days"]
    return [ItemTask(sku, loc, days, f.demand[(sku, loc)].to_numpy()[:i + 1],
                     (f.stock[(sku, loc)].to_numpy()[:i + 1] == 0), int(lead[(sku, loc)]),
                     selections.get((sku, loc)), warm.get((sku, loc)))
            for sku, loc in f.demand.columns]


def _item_context(f: DemoFrames, i: int) -> pd.DataFrame:
    used = (f.demand + f.consumption).iloc[max(0, i - 27):i + 1].mean()
    items = f.items.copy()
    items["item_id"] = items["sku"]
    keys = pd.MultiIndex.from_frame(items[["sku", "location_id"]])
    items["on_hand"] = f.stock.iloc[i].reindex(keys).to_numpy()
    items["avg_daily_demand"] = used.reindex(keys).to_numpy()
    return items


def _issues(f: DemoFrames, i: int) -> pd.DataFrame:
    ahead = f.consumption.iloc[i + 1:i + 91]
    rows = ahead.stack(level=[0, 1], future_stack=True)
    rows = rows[rows > 0].reset_index()
    rows.columns = ["required_date", "item_id", "location_id", "quantity"]
    return rows.assign(kind="dependent")


def replay(f: DemoFrames, first: int, last: int, workers: int) -> dict:
    """Forecast, project and evaluate every as-of day ``first..last`` (day indexes)."""
    config = ForecastConfig(include_prophet=False)
    keys = list(f.demand.columns)
    shape = (len(f.days), len(keys))
    fc = {(lag, c): np.full(shape, np.nan) for lag in LAGS
          for c in ("yhat", "yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95")}
    started = time.monotonic()
    chosen = run_items("select", _tasks(f, first, {}, {}), f.days[first].date(), config, workers)
    selections = chosen.results
    warm: dict = {}
    inventory: dict[int, list[Alert]] = {}
    policy = AlertPolicy()
    for i in range(first, last + 1):
        as_of = f.days[i].date()
        run = run_items("forecast", _tasks(f, i, selections, warm), as_of, config, workers)
        frames = []
        for k, key in enumerate(keys):
            result = run.results.get(key)
            if result is None:
                continue
            warm[key] = result["params"]
            frame = result["frame"]
            for lag in LAGS:
                if i + lag < len(f.days):
                    row = frame.iloc[lag - 1]
                    for c in ("yhat", "yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95"):
                        if c in frame:
                            fc[(lag, c)][i + lag, k] = row[c]
            frames.append(frame.assign(item_id=key[0], location_id=key[1]))
        forecast = pd.concat(frames, ignore_index=True)
        items = _item_context(f, i)
        projection = project_portfolio(forecast, items[["item_id", "location_id", "on_hand"]],
                                       supply_on(f, f.days[i]), _issues(f, i))
        by_key = dict(tuple(projection.groupby(["item_id", "location_id"])))
        inventory[i] = evaluate_portfolio(items, by_key, {}, as_of + timedelta(days=1), policy)
        print(f"  {as_of}: {len(run.results)} forecast ({len(run.failures)} failed) in "
              f"{run.seconds:.1f}s, {len(inventory[i])} inventory alerts; "
              f"{time.monotonic() - started:.0f}s so far", flush=True)
    return {"fc": fc, "inventory": inventory, "keys": keys, "seconds": time.monotonic() - started,
            "models": Counter(s["model_name"] for s in selections.values())}


# ----------------------------------------------------------------------------- anomaly
def _recent_frames(f: DemoFrames, fc: dict, keys: list) -> list[pd.DataFrame]:
    out = []
    for k, key in enumerate(keys):
        frame = pd.DataFrame({"target_date": f.days.date, "actual": f.demand[key].to_numpy(),
                              "is_stockout": f.stock[key].to_numpy() == 0})
        for c in ("yhat", "yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95"):
            frame[c] = fc[(1, c)][:, k]
        # Days without a forecast stay: level_shift reads the demand alone (as the store's
        # recent_days gives it); the forecast rules skip them.
        out.append(frame)
    return out


def _flags(args) -> dict:
    """{candidate: [(day index, key index, direction)]} for a slice of item-locations."""
    frames, costs, days, key_ids, candidates = args
    lookback = max(anomaly_lookback(AlertPolicy(anomaly=p)) for p in candidates.values())
    out: dict[str, list] = {name: [] for name in candidates}
    for frame, cost, k in zip(frames, costs, key_ids, strict=True):
        dates = frame["target_date"].to_numpy()
        for i, as_of in days:
            end = int(np.searchsorted(dates, as_of, side="right"))
            recent = frame.iloc[max(0, end - lookback):end]
            for name, policy in candidates.items():
                verdict = detect_anomaly(recent, cost, policy, as_of=as_of)
                if verdict is not None:
                    out[name].append((i, k, verdict.direction))
    return out


def anomaly_flags(f: DemoFrames, fc: dict, keys: list, first: int, last: int, workers: int,
                  candidates: dict) -> dict:
    from concurrent.futures import ProcessPoolExecutor

    frames = _recent_frames(f, fc, keys)
    cost = f.items.set_index(["sku", "location_id"])["unit_cost"]
    costs = [None if pd.isna(cost.get(key)) else float(cost[key]) for key in keys]
    days = [(i, f.days[i].date()) for i in range(first, last + 1)]
    parts = np.array_split(np.arange(len(keys)), workers * 4)
    jobs = [([frames[k] for k in p], [costs[k] for k in p], days, p.tolist(), candidates)
            for p in parts]
    out: dict[str, list] = {name: [] for name in candidates}
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_flags, jobs):
            for name, rows in part.items():
                out[name] += rows
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--days", type=int, default=60, help="scored as-of days")
    parser.add_argument("--warmup", type=int, default=14, help="unscored as-of days before")
    parser.add_argument("--history", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rules", default="",
                        help="score only candidate rules whose name contains this")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the replay here (pickle) and reuse it for re-scoring")
    return parser.parse_args()


def prepare(args) -> tuple[DemoFrames, dict, int, int]:
    out = Path(tempfile.mkdtemp(prefix="forgecast-alerts-"))
    summary = generate_demo_data(out, items=args.items, days=args.history, seed=args.seed,
                                 end_date=END, fault_rate=0.0, plant=PlantPlan())
    print(f"demo: {args.items} items, planted {summary.planted}, built shortages "
          f"{summary.runs_short}, {summary.component_runs_short}", flush=True)
    f = load(out)
    shutil.rmtree(out)  # read whole: the frames are all the replay needs
    n = len(f.days)
    last = n - 2  # the last as-of day with an actual after it
    first = last - args.days - args.warmup + 1
    if args.cache and args.cache.exists():
        state = pickle.loads(args.cache.read_bytes())
    else:
        state = replay(f, first, last, args.workers)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(state))
    return f, state, first + args.warmup, last



def main() -> None:
    from bench.alerts_score import report

    args = parse_args()
    started = time.monotonic()
    f, state, first, last = prepare(args)
    print(f"replay: {state['seconds']:.0f}s; models selected {dict(state['models'])}", flush=True)
    candidates = {k: v for k, v in CANDIDATES.items() if args.rules in k}
    flags = anomaly_flags(f, state["fc"], state["keys"], first - 14, last, args.workers,
                          candidates)
    report(f, state, flags, first, last, candidates)
    cpu = os.times()
    print(f"\ntotal {time.monotonic() - started:.0f}s wall (replay {state['seconds']:.0f}s), "
          f"{cpu.user + cpu.system + cpu.children_user + cpu.children_system:.0f}s CPU; "
          f"{args.items} items, {args.days} scored + {args.warmup} warm-up days, "
          f"{args.workers} workers, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
