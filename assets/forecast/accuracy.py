"""Forecast accuracy: score past forecasts against the actuals that arrived (the store's
SQL does the joins and sums), per item and for the portfolio, by lag; the trend over runs
as a table and a PNG. Pure: no SQL, no Dagster.

Definitions, for a lag L and the 28 target days ending on the scored date, comparing the
forecast made L days before each target day with the actual demand (censored stockout days
are left out: they are not demand):
- WAPE = sum |actual - forecast| / sum actual
- bias = sum (forecast - actual) / sum actual (positive: over-forecast)
- MASE = mean |actual - forecast| / mean |d_t - d_{t-7}| over the year before the window
- coverage = share of actuals inside the 80% interval (well calibrated: about 0.8);
  coverage_95 the same for the 95% interval, over the forecasts that carry one (null for
  those made before the 95% band existed)
- baseline_wape: the seasonal naive (the same weekday, at least L days before) on the same
  days, so "worse than the baseline" is measurable per item.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

LAGS = (1, 7, 14, 28)
WINDOW_DAYS = 28


def _ratio(num, den):
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def metrics_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Per-item rows from the SQL sums, plus one portfolio row (item null) per lag."""
    if raw.empty:
        return raw
    out = raw.copy()
    if "coverage_95" not in out:  # sums from before the 95% band
        out["coverage_95"], out["observations_95"] = np.nan, 0
    for column in ("abs_err", "actual_total", "bias_sum", "mae", "coverage", "coverage_95",
                   "observations_95", "naive_err", "scale"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["observations_95"] = out["observations_95"].fillna(0.0)
    out["wape"] = _ratio(out["abs_err"], out["actual_total"])
    out["bias"] = _ratio(out["bias_sum"], out["actual_total"])
    out["mase"] = _ratio(out["mae"], out["scale"])
    out["baseline_wape"] = _ratio(out["naive_err"], out["actual_total"])
    weighted = out.assign(hits=out["coverage"] * out["observations"],
                          hits_95=out["coverage_95"].fillna(0.0) * out["observations_95"])
    portfolio = weighted.groupby("lag_days").agg(
        abs_err=("abs_err", "sum"), actual_total=("actual_total", "sum"),
        bias_sum=("bias_sum", "sum"), naive_err=("naive_err", "sum"),
        mase=("mase", "mean"), hits=("hits", "sum"), hits_95=("hits_95", "sum"),
        observations=("observations", "sum"),
        observations_95=("observations_95", "sum")).reset_index()
    portfolio["wape"] = _ratio(portfolio["abs_err"], portfolio["actual_total"])
    portfolio["bias"] = _ratio(portfolio["bias_sum"], portfolio["actual_total"])
    portfolio["baseline_wape"] = _ratio(portfolio["naive_err"], portfolio["actual_total"])
    portfolio["coverage"] = portfolio["hits"] / portfolio["observations"]
    portfolio["coverage_95"] = _ratio(portfolio["hits_95"], portfolio["observations_95"])
    portfolio["item_id"] = None
    portfolio["location_id"] = None
    portfolio["model_name"] = None
    return pd.concat([out, portfolio], ignore_index=True)


def window_start(as_of: date) -> date:
    """First target day of the window scored as of ``as_of``."""
    return as_of - timedelta(days=WINDOW_DAYS - 1)


def scored_rows(raw: pd.DataFrame, as_of: date, run_id: str) -> pd.DataFrame:
    """The rows forecast.forecast_accuracy stores for ``as_of`` (empty: nothing scored)."""
    frame = metrics_frame(raw)
    if frame.empty:
        return frame
    frame = frame.assign(scored_date=as_of, window_start=window_start(as_of), run_id=run_id)
    frame["observations"] = frame["observations"].astype(int)
    return frame


def trend_chart(trend: pd.DataFrame, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax, cover) = plt.subplots(2, 1, figsize=(7, 5), dpi=80, sharex=True,
                                    height_ratios=(3, 2))
    trend = trend.assign(scored_date=pd.to_datetime(trend["scored_date"]))
    for lag, rows in trend.groupby("lag_days"):
        line, = ax.plot(rows["scored_date"], rows["wape"], marker="o", label=f"lag {lag}d")
        cover.plot(rows["scored_date"], rows["coverage"], color=line.get_color())
        if "coverage_95" in rows:
            cover.plot(rows["scored_date"], rows["coverage_95"], color=line.get_color(),
                       ls="--")
    for nominal in (0.8, 0.95):  # where calibrated intervals' coverage lies
        cover.axhline(nominal, color="grey", lw=0.8, ls=":")
    cover.set_ylabel("coverage 80% / 95%")
    cover.grid(alpha=0.3)
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
    """The portfolio trend as a table (both coverages named by their band), under the
    chart when there is one."""
    table = trend.rename(columns={"coverage": "coverage_80"}).tail(40).to_markdown(
        index=False, floatfmt=".3f")
    if png is None or not png.exists():
        return table
    data = base64.b64encode(png.read_bytes()).decode()
    return f"![accuracy trend](data:image/png;base64,{data})\n\n{table}"
