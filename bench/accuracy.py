"""Forecast accuracy through the platform's own model and selection code: every policy side
by side, in one run, on three data sets.

- M3 monthly (1,428 series; ``--every 8``: a 179-series sample), the standard holdout (the
  last 18 points), mean sMAPE per series.
- M5 small (8 daily FOODS series from /work/shared/data), the last 28 days held out, WAPE.
- The demo (``demo/generator.py`` as it is: 1,000 items, 730 days, seed 42, ending
  2025-06-30), the last 28 days held out: the platform sees what the generator's simulation
  issued (demand censored by stock, stockout days flagged), the score is against the true
  demand. Daily WAPE and the error of the 28-day totals (what a stockout depends on).

Policies per series: ``selection`` (``run_backtest`` + ``pick_model`` over the weekly
selection's candidates, ``candidates_for``), the same with ``COSTLIER_COMBINATION_EDGE`` 0
(the median combination replaces the intermittent mix on any lower WAPE: more accurate,
a slower nightly refit), ``combination by default`` (the class's combination everywhere),
the previous rule (issue 15's first pass, for comparison), and
each model alone, the 28-day moving average and the seasonal naive among them. New and
dead items get the moving average under every policy that selects, as the platform does.

    .venv/bin/python bench/accuracy.py [--sets m3,m5,demo] [--every N] [--workers W]
                                       [--demo-items 1000] [--csv FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import assets.forecast.selection as selection  # noqa: E402
from assets.forecast.baselines import classify_demand  # noqa: E402
from assets.forecast.engine import default_workers, warm_imports  # noqa: E402
from assets.forecast.models import (  # noqa: E402
    COMBINATIONS,
    Series,
    buckets_for_days,
    candidates_for,
    forecast_model,
    prepare_series,
)
from assets.forecast.selection import (  # noqa: E402
    MIN_HORIZON_DAYS,
    ForecastConfig,
    pick_model,
    run_backtest,
    smape,
    wape,
)

# shared/data beside the checkout (main) or beside the worktrees' folder (a worktree).
DATA = next((p / "shared" / "data" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "data").is_dir()), ROOT.parent / "shared" / "data")
# Every model scored alone, per bucket (the combinations are added to these).
ALONE = {"day": ("seasonal_naive", "moving_average", "croston_sba", "tsb", "adida", "imapa",
                 "auto_ets", "theta", "prophet"),
         "month": ("seasonal_naive", "moving_average", "auto_ets", "theta", "auto_arima",
                   "prophet")}
POLICIES = ("selection", "selection, costlier combination at no edge", "combination by default",
            "previous selection")
HELD_OUT_DAYS = 28
DEMO = {"items": 1000, "days": 730, "seed": 42, "end": date(2025, 6, 30)}


@dataclass
class Task:
    sid: str
    series: Series  # the history the platform sees
    test: np.ndarray  # held-out actuals, one per bucket
    horizon: int  # backtest window, buckets
    demand_class: str


# ----------------------------------------------------------------------------- data sets
def load_m3_monthly(path: Path) -> list[tuple[str, np.ndarray, int]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split(",")
        sid = fields[0].replace(" ", "")
        if not 1402 <= int(sid[1:]) <= 2829:
            continue
        n, nf = int(fields[1]), int(fields[2])
        out.append((sid, np.array([float(v) for v in fields[6:6 + n]]), nf))
    return out


def m3_tasks(every: int = 1, limit: int | None = None) -> list[Task]:
    rows = load_m3_monthly(DATA / "m3" / "M3data.csv")[:limit][::every]
    tasks = []
    for sid, values, nf in rows:
        train = values[:-nf]
        series = Series(train, np.ones(len(train), bool),
                        pd.date_range("2000-01-01", periods=len(train), freq="MS"), "month")
        # Monthly data: classified like any item would be is meaningless (no zeros); the
        # class only chooses the candidates, and every M3 series is a smooth one.
        tasks.append(Task(sid, series, values[-nf:], nf, "smooth"))
    return tasks


def m5_tasks() -> list[Task]:
    data = pd.read_csv(DATA / "m5_small" / "m5_sales_exog_small.csv")
    tasks = []
    for uid, group in data.groupby("unique_id"):
        y = group.sort_values("ds")["y"].to_numpy(float)
        train = y[:-HELD_OUT_DAYS]
        first = int(np.argmax(train > 0))  # before the launch the item was not on sale
        start = pd.Timestamp("2011-01-29") + pd.Timedelta(days=first)
        history = pd.Series(train[first:], index=pd.date_range(start, periods=len(train) - first))
        series = prepare_series(history, None, history.index[-1].date(), "day", "US", None)
        tasks.append(Task(uid, series, y[-HELD_OUT_DAYS:], MIN_HORIZON_DAYS,
                          classify_demand(history)))
    return tasks


def demo_simulation(items: int, days: int, seed: int, end: date) -> list[tuple]:
    """(series, simulation result) per chunk of ``generate_demo_data``, unchanged: the
    generator runs for real (into a temporary folder) and its ``simulate`` is wrapped to
    keep what it returns, which the export files only hold spread over ERPs and faults."""
    import demo.generator as generator

    captured, simulate = [], generator.simulate

    def keep(series, cal, per_unit):
        result = simulate(series, cal, per_unit)
        captured.append((series, result))
        return result

    generator.simulate = keep
    try:
        with tempfile.TemporaryDirectory() as out:
            generator.generate_demo_data(Path(out), items=items, days=days, seed=seed,
                                         end_date=end, fault_rate=0.0)
    finally:
        generator.simulate = simulate
    return captured


def demo_tasks(items: int = DEMO["items"]) -> list[Task]:
    days, end = DEMO["days"], DEMO["end"]
    dates = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    as_of = end - timedelta(days=HELD_OUT_DAYS)
    cut = days - HELD_OUT_DAYS
    tasks = []
    for series, result in demo_simulation(items, days, DEMO["seed"], end):
        for k, s in enumerate(series):
            first = s.item.profile.launch  # the ERPs hold no stock or demand before it
            scale = s.item.scale  # quantity ticks per unit
            history = pd.Series(result.issued[first:cut, k] / scale, index=dates[first:cut])
            stockout = pd.Series(result.stock[first:cut, k] <= 0, index=dates[first:cut])
            demand_class = classify_demand(history, censored=stockout, as_of=as_of)
            horizon = buckets_for_days(max(s.lead, MIN_HORIZON_DAYS), "day")
            tasks.append(Task(f"{s.item.sku}@{s.location}",
                              prepare_series(history, stockout, as_of, "day", None, days),
                              s.demand[cut:] / scale, horizon, demand_class))
    return tasks


# ----------------------------------------------------------------------------- one series
def previous_pick(results: dict, demand_class: str) -> str:
    """Issue 15's first pass, for comparison: among its candidates (intermittent items
    without ETS and Theta), the class's combination by default (``ets_theta``, or
    ``intermittent_mix``), replaced by a model with a pooled WAPE more than 20% lower and a
    lower WAPE on most windows, never by one biased one way on every window."""
    intermittent = demand_class in ("intermittent", "lumpy")
    default = "intermittent_mix" if intermittent else "ets_theta"
    dropped = {"auto_ets", "theta", "ets_theta", "median_ets_theta_snaive"} if intermittent \
        else {"median_ets_theta_snaive", "intermittent_mix"}
    names = [n for n in results if n not in dropped]
    fair = [n for n in names if not selection.one_sided(results[n])] or names
    best = min(fair, key=lambda n: (round(results[n][0], 9), names.index(n)))
    if default not in fair or best == default:
        return best
    wins = sum(b < d for b, d in zip(results[best][3], results[default][3], strict=True))
    clear = results[best][0] < results[default][0] * 0.8 and wins > len(results[best][3]) / 2
    return best if clear else default


def pick_at_no_costlier_edge(results: dict, candidates) -> str:
    """``pick_model`` with ``COSTLIER_COMBINATION_EDGE`` = 0 (this worker process only)."""
    saved = selection.COSTLIER_COMBINATION_EDGE
    selection.COSTLIER_COMBINATION_EDGE = 0.0
    try:
        return pick_model(results, candidates)
    finally:
        selection.COSTLIER_COMBINATION_EDGE = saved


def evaluate(task: Task) -> dict:
    series, h = task.series, len(task.test)
    forecasts: dict[str, np.ndarray] = {}
    fitted: dict[str, dict] = {}
    for name in (*ALONE[series.bucket], *COMBINATIONS):
        # A combination refits its members with the specs their own fits chose, as the
        # nightly refit does: the same forecast without a second model search.
        params = {m: fitted.get(m, {}) for m in COMBINATIONS.get(name, ())}
        try:
            forecasts[name], fitted[name] = forecast_model(name, series, h, params)
        except Exception:  # a model that cannot fit this series: the moving average stands in
            forecasts[name], fitted[name] = forecast_model("moving_average", series, h)[0], {}
    picks = dict.fromkeys(POLICIES, "moving_average")  # new and dead items (and too short)
    if task.demand_class not in ("new", "dead"):
        candidates = candidates_for(task.demand_class, series.bucket)
        results = run_backtest(series, candidates, task.horizon)[0]
        if results:
            picks = {"selection": pick_model(results, candidates),
                     "selection, costlier combination at no edge":
                         pick_at_no_costlier_edge(results, candidates),
                     "combination by default": next(n for n in candidates if n in COMBINATIONS),
                     "previous selection": previous_pick(results, task.demand_class)}
    return {"sid": task.sid, "class": task.demand_class, "test": task.test,
            "forecasts": forecasts, "picks": picks}


def run(tasks: list[Task], workers: int, label: str) -> tuple[list[dict], float]:
    warm_imports(ForecastConfig())
    started, rows = time.monotonic(), []
    with ProcessPoolExecutor(workers) as pool:
        for row in pool.map(evaluate, tasks, chunksize=1):
            rows.append(row)
            if len(rows) % 50 == 0:
                print(f"  {label}: {len(rows)}/{len(tasks)} series, "
                      f"{time.monotonic() - started:.0f} s", flush=True)
    return rows, time.monotonic() - started


# ----------------------------------------------------------------------------- scores
def served(row: dict, policy: str) -> np.ndarray:
    name = row["picks"].get(policy, policy)
    return row["forecasts"][name]


def table(rows: list[dict], metric: str) -> pd.DataFrame:
    """One line per policy and per model alone; ``metric``: smape (mean per series) or
    wape (pooled over series and days, plus the pooled error of each series' total)."""
    names = [*POLICIES, *rows[0]["forecasts"]]
    out = []
    actual = np.concatenate([r["test"] for r in rows])
    totals = np.array([r["test"].sum() for r in rows])
    for name in names:
        preds = [served(r, name) for r in rows]
        if metric == "smape":
            line = {"sMAPE": float(np.mean([smape(r["test"], p)
                                            for r, p in zip(rows, preds, strict=True)]))}
        else:
            sums = np.array([p.sum() for p in preds])
            line = {"WAPE": wape(actual, np.concatenate(preds)),
                    "28-day total error": float(np.abs(sums - totals).sum() / totals.sum())}
        out.append({"policy / model": name if name in POLICIES else f"{name} alone", **line})
    frame = pd.DataFrame(out)
    key = frame.columns[1]
    base = float(frame.loc[frame["policy / model"] == "moving_average alone", key].iloc[0])
    frame["vs moving average"] = frame[key] / base
    return frame


def report(label: str, rows: list[dict], seconds: float, metric: str, workers: int) -> None:
    print(f"\n{label}: {len(rows)} series, {seconds:.0f} s on {workers} worker(s)")
    print(table(rows, metric).to_markdown(index=False, floatfmt=".3f"))
    picks = pd.Series([r["picks"]["selection"] for r in rows]).value_counts().to_dict()
    print("selection served:", picks)
    classes = pd.Series([r["class"] for r in rows]).value_counts().to_dict()
    print("demand classes:", classes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="m5,demo,m3", help="comma-separated: m3,m5,demo")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--every", type=int, default=1, help="M3: every n-th series only")
    parser.add_argument("--m3-limit", type=int, default=None)
    parser.add_argument("--demo-items", type=int, default=DEMO["items"])
    parser.add_argument("--csv", type=Path, default=None, help="per-series picks and scores")
    args = parser.parse_args()
    frames = []
    for name in args.sets.split(","):
        if name == "m5":
            label, metric, tasks = "M5 small (8 daily series, last 28 days held out)", "wape", \
                m5_tasks()
        elif name == "demo":
            label, metric, tasks = (f"Demo ({args.demo_items} items, {DEMO['days']} days, seed "
                                    f"{DEMO['seed']}, last 28 days held out)"), "wape", \
                demo_tasks(args.demo_items)
        elif name == "m3":
            label, metric, tasks = "M3 monthly (horizon 18, standard holdout)", "smape", \
                m3_tasks(args.every, args.m3_limit)
        else:
            parser.error(f"unknown data set {name!r}")
        rows, seconds = run(tasks, args.workers, name)
        report(label, rows, seconds, metric, args.workers)
        frames.append(pd.DataFrame([{"set": name, "series": r["sid"], "class": r["class"],
                                     **{p: r["picks"][p] for p in POLICIES}} for r in rows]))
    if args.csv:
        pd.concat(frames).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
