"""Forecast accuracy: score past forecasts against the actuals that arrived (SQL does the
joins), per item and for the portfolio, by lag; the trend over runs as a table and a PNG.

Definitions, for a lag L and the 28 target days ending on the scored date, comparing the
forecast made L days before each target day with the actual demand (censored stockout days
are left out: they are not demand):
- WAPE = sum |actual - forecast| / sum actual
- bias = sum (forecast - actual) / sum actual (positive: over-forecast)
- MASE = mean |actual - forecast| / mean |d_t - d_{t-7}| over the year before the window
- coverage = share of actuals inside the 80% interval (well calibrated: about 0.8)
- baseline_wape: the seasonal naive (the same weekday, at least L days before) on the same
  days, so "worse than the baseline" is measurable per item.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from assets.forecast.store import copy_in, copy_out

LAGS = (1, 7, 14, 28)
WINDOW_DAYS = 28

SCORE_SQL = """
with f as (
    select item_id, location_id, target_date, target_date - forecast_date as lag, yhat,
           yhat_lower, yhat_upper, model_name
    from forecast.forecasts
    where target_date between %(start)s and %(as_of)s
      and target_date - forecast_date in ({lags})
), a as (
    select item_id::text as item_id, location_id, demand_date, quantity, is_stockout
    from unified.demand_history
    where demand_date between %(start)s::date - 35 and %(as_of)s
), j as (
    select f.*, a.quantity as actual, n.quantity as naive
    from f
    join a on a.item_id = f.item_id and a.location_id = f.location_id
          and a.demand_date = f.target_date
    left join a n on n.item_id = f.item_id and n.location_id = f.location_id
          and n.demand_date = f.target_date - 7 * ceil(f.lag / 7.0)::int
    where not a.is_stockout
), scale as (
    select item_id, location_id, avg(abs(quantity - prev)) as scale
    from (select item_id::text as item_id, location_id, quantity,
                 lag(quantity, 7) over (partition by item_id, location_id
                                        order by demand_date) as prev
          from unified.demand_history
          where demand_date < %(start)s and demand_date >= %(start)s::date - 365) x
    where prev is not null
    group by 1, 2
)
select j.item_id, j.location_id, j.lag as lag_days,
       sum(abs(actual - yhat)) as abs_err, sum(actual) as actual_total,
       sum(yhat - actual) as bias_sum,
       avg(abs(actual - yhat)) as mae,
       avg(case when actual between yhat_lower and yhat_upper then 1.0 else 0.0 end) as coverage,
       sum(abs(actual - coalesce(naive, 0))) as naive_err,
       count(*) as observations,
       (array_agg(model_name order by target_date desc))[1] as model_name,
       max(s.scale) as scale
from j left join scale s on s.item_id = j.item_id and s.location_id = j.location_id
group by j.item_id, j.location_id, j.lag
"""

COLUMNS = ["scored_date", "item_id", "location_id", "lag_days", "window_start", "model_name",
           "wape", "bias", "mase", "coverage", "baseline_wape", "actual_total", "observations",
           "run_id"]


def _ratio(num, den):
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def metrics_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Per-item rows from the SQL sums, plus one portfolio row (item null) per lag."""
    if raw.empty:
        return raw
    out = raw.copy()
    for column in ("abs_err", "actual_total", "bias_sum", "mae", "coverage", "naive_err",
                   "scale"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["wape"] = _ratio(out["abs_err"], out["actual_total"])
    out["bias"] = _ratio(out["bias_sum"], out["actual_total"])
    out["mase"] = _ratio(out["mae"], out["scale"])
    out["baseline_wape"] = _ratio(out["naive_err"], out["actual_total"])
    portfolio = out.groupby("lag_days").agg(
        abs_err=("abs_err", "sum"), actual_total=("actual_total", "sum"),
        bias_sum=("bias_sum", "sum"), naive_err=("naive_err", "sum"),
        mase=("mase", "mean"),
        hits=("coverage", lambda c: float((c * out.loc[c.index, "observations"]).sum())),
        observations=("observations", "sum")).reset_index()
    portfolio["wape"] = _ratio(portfolio["abs_err"], portfolio["actual_total"])
    portfolio["bias"] = _ratio(portfolio["bias_sum"], portfolio["actual_total"])
    portfolio["baseline_wape"] = _ratio(portfolio["naive_err"], portfolio["actual_total"])
    portfolio["coverage"] = portfolio["hits"] / portfolio["observations"]
    portfolio["item_id"] = None
    portfolio["location_id"] = None
    portfolio["model_name"] = None
    return pd.concat([out, portfolio], ignore_index=True)


def score(conn, as_of: date, run_id: str) -> int:
    """Score forecasts for the window ending ``as_of``; replaces that day's rows."""
    start = as_of - timedelta(days=WINDOW_DAYS - 1)
    # Set-wise joins of forecasts and actuals: the rows the night just appended to
    # forecast.forecasts have no statistics yet, and an estimate of a few rows makes the
    # planner nest loops over the actuals (minutes at 10,000 items instead of seconds).
    conn.execute("set local enable_nestloop = off")
    raw = copy_out(conn, SCORE_SQL.format(lags=", ".join(map(str, LAGS))),
                   {"start": start, "as_of": as_of})
    conn.execute("delete from forecast.forecast_accuracy where scored_date = %s", (as_of,))
    frame = metrics_frame(raw)
    if frame.empty:
        return 0
    frame = frame.assign(scored_date=as_of, window_start=start, run_id=run_id)
    frame["observations"] = frame["observations"].astype(int)
    return copy_in(conn, "forecast.forecast_accuracy", frame, COLUMNS)


def portfolio_trend(conn, as_of: date, days: int = 90) -> pd.DataFrame:
    return copy_out(conn, "select scored_date, lag_days, wape, bias, mase, coverage, "
                          "baseline_wape, observations from forecast.forecast_accuracy "
                          "where item_id is null and scored_date <= %(as_of)s and "
                          "scored_date > %(as_of)s::date - %(days)s order by 1, 2",
                    {"as_of": as_of, "days": days})


def trend_chart(trend: pd.DataFrame, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3), dpi=80)
    trend = trend.assign(scored_date=pd.to_datetime(trend["scored_date"]))
    for lag, rows in trend.groupby("lag_days"):
        ax.plot(rows["scored_date"], rows["wape"], marker="o", label=f"lag {lag}d")
    if "baseline_wape" in trend and trend["baseline_wape"].notna().any():
        naive = trend[trend["lag_days"] == trend["lag_days"].min()]
        ax.plot(naive["scored_date"], naive["baseline_wape"], "k--", label="seasonal naive")
    ax.set_ylabel("portfolio WAPE")
    ax.set_title("Forecast accuracy over runs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def trend_markdown(trend: pd.DataFrame, png: Path | None = None) -> str:
    table = trend.tail(40).to_markdown(index=False, floatfmt=".3f")
    if png is None or not png.exists():
        return table
    data = base64.b64encode(png.read_bytes()).decode()
    return f"![accuracy trend](data:image/png;base64,{data})\n\n{table}"
