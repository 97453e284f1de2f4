"""One PNG per alert for the planner: demand history, the forecast with its 80% interval,
projected on hand with safety stock and reorder point lines, the stockout date marked.

Pure matplotlib (Agg backend, no display), no Dagster, no database: frames in, a file out.
``render_charts`` spreads many charts over a process pool: at ~0.1 s a chart, one core
would spend minutes on the alerts of 10,000 items.
"""

from __future__ import annotations

import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd


@dataclass
class ChartData:
    title: str
    history: pd.DataFrame | None  # demand_date, quantity
    forecast: pd.DataFrame | None  # target_date, yhat, yhat_lower, yhat_upper
    projection: pd.DataFrame | None  # target_date, projected_on_hand
    safety_stock: float = 0.0
    reorder_point: float = 0.0
    stockout_date: date | None = None
    order_by_date: date | None = None


def chart_file(root: Path, as_of: date, dedup_key: str) -> Path:
    """<root>/<as_of>/<dedup key made file-safe>.png"""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dedup_key)[:150]
    return root / as_of.isoformat() / f"{safe}.png"


def render_chart(data: ChartData, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), dpi=80, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    if data.history is not None and not data.history.empty:
        top.plot(pd.to_datetime(data.history["demand_date"]), data.history["quantity"],
                 color="0.35", lw=1, label="actual demand")
    if data.forecast is not None and not data.forecast.empty:
        days = pd.to_datetime(data.forecast["target_date"])
        top.fill_between(days, data.forecast["yhat_lower"], data.forecast["yhat_upper"],
                         color="tab:blue", alpha=0.2, label="80% interval")
        top.plot(days, data.forecast["yhat"], color="tab:blue", lw=1.5, label="forecast")
    top.set_ylabel("demand / day")
    top.legend(loc="upper left", fontsize=7)
    top.grid(alpha=0.3)
    top.set_title(data.title, fontsize=9)
    if data.projection is not None and not data.projection.empty:
        bottom.plot(pd.to_datetime(data.projection["target_date"]),
                    data.projection["projected_on_hand"], color="tab:green", lw=1.5,
                    label="projected on hand")
    if data.safety_stock:
        bottom.axhline(data.safety_stock, color="tab:orange", ls="--", lw=1, label="safety stock")
    if data.reorder_point:
        bottom.axhline(data.reorder_point, color="tab:purple", ls=":", lw=1, label="reorder point")
    bottom.axhline(0, color="black", lw=0.8)
    for ax in (top, bottom):
        if data.stockout_date:
            ax.axvline(pd.Timestamp(data.stockout_date), color="tab:red", lw=1.2)
        if data.order_by_date:
            ax.axvline(pd.Timestamp(data.order_by_date), color="tab:red", lw=0.8, ls="--")
    if data.stockout_date:
        bottom.annotate(f"stockout {data.stockout_date.isoformat()}",
                        (pd.Timestamp(data.stockout_date), 0), xytext=(4, 8),
                        textcoords="offset points", color="tab:red", fontsize=7)
    bottom.set_ylabel("units on hand")
    bottom.legend(loc="lower left", fontsize=7)
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    # A fixed layout: tight_layout() would draw the figure once more just to measure it.
    for label in bottom.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.15, hspace=0.08)
    fig.savefig(path)
    plt.close(fig)
    return path


def _render_batch(jobs: list[tuple[ChartData, Path]]) -> list[Path]:
    return [render_chart(data, path) for data, path in jobs]


def render_charts(jobs: list[tuple[ChartData, Path]], workers: int = 1,
                  chunk: int = 25) -> list[Path]:
    """Render every (data, path) job; in ``workers`` processes when there is enough work
    to pay for starting them. Returns the paths in the order of ``jobs``."""
    if workers <= 1 or len(jobs) <= chunk:
        return _render_batch(jobs)
    batches = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [path for done in pool.map(_render_batch, batches) for path in done]
