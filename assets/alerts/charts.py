"""One PNG per alert for the planner: demand history, the forecast with its 80% interval,
a component's dependent demand (what parents' production will consume) apart from it,
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

import numpy as np
import pandas as pd


@dataclass
class ChartData:
    title: str
    history: pd.DataFrame | None  # demand_date, quantity
    forecast: pd.DataFrame | None  # target_date, yhat, yhat_lower, yhat_upper
    projection: pd.DataFrame | None  # target_date, projected_on_hand[, dependent_demand]
    safety_stock: float = 0.0
    reorder_point: float = 0.0
    stockout_date: date | None = None
    order_by_date: date | None = None


def chart_file(root: Path, as_of: date, dedup_key: str) -> Path:
    """<root>/<as_of>/<dedup key made file-safe>.png"""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dedup_key)[:150]
    return root / as_of.isoformat() / f"{safe}.png"


def render_chart(data: ChartData, path: Path) -> Path:
    """Draw ``data`` into a PNG at ``path`` (directories created)."""
    global _canvas
    if _canvas is None:
        _canvas = _ChartCanvas()
    path.parent.mkdir(parents=True, exist_ok=True)
    _canvas.draw(data, path)
    return path


# One canvas per process, reused for every chart it draws: building a figure with its
# axes, legends and date axis costs several times more than drawing into it, and
# thousands of alerts share one layout. Only the data and the visible markers change.
_canvas: _ChartCanvas | None = None


def _dates(values) -> np.ndarray:
    import matplotlib.dates as mdates

    return mdates.date2num(pd.to_datetime(pd.Series(values)).to_numpy())


class _ChartCanvas:
    def __init__(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        self.figure = Figure(figsize=(8, 5), dpi=80)
        FigureCanvasAgg(self.figure)
        self.top, self.bottom = self.figure.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
        top, bottom = self.top, self.bottom
        self.history, = top.plot([], [], color="0.35", lw=1, label="actual demand")
        self.forecast, = top.plot([], [], color="tab:blue", lw=1.5, label="forecast", zorder=3)
        self.dependent, = top.plot([], [], color="tab:orange", lw=1.2, drawstyle="steps-mid",
                                   label="dependent demand (parents' production)", zorder=4)
        self.interval_legend = Patch(color="tab:blue", alpha=0.2, label="80% interval")
        self.interval = None  # a fill_between collection, replaced per chart
        self.projection, = bottom.plot([], [], color="tab:green", lw=1.5,
                                       label="projected on hand")
        self.safety_stock = bottom.axhline(0, color="tab:orange", ls="--", lw=1,
                                           label="safety stock")
        self.reorder_point = bottom.axhline(0, color="tab:purple", ls=":", lw=1,
                                            label="reorder point")
        bottom.axhline(0, color="black", lw=0.8)
        self.stockout_lines = [ax.axvline(0, color="tab:red", lw=1.2) for ax in (top, bottom)]
        self.order_by_lines = [ax.axvline(0, color="tab:red", lw=0.8, ls="--")
                               for ax in (top, bottom)]
        self.stockout_label = bottom.annotate("", (0, 0), xytext=(4, 8),
                                              textcoords="offset points", color="tab:red",
                                              fontsize=7)
        self.title = top.set_title("", fontsize=9)
        top.set_ylabel("demand / day")
        bottom.set_ylabel("units on hand")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        bottom.xaxis.set_major_locator(mdates.AutoDateLocator())
        bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        bottom.tick_params(axis="x", labelrotation=30)
        # A fixed layout: tight_layout() would draw the figure once more just to measure it.
        self.figure.subplots_adjust(left=0.1, right=0.98, top=0.93, bottom=0.15, hspace=0.08)

    def draw(self, data: ChartData, path: Path) -> None:
        top, bottom = self.top, self.bottom
        xs: list[np.ndarray] = []
        top_ys: list[np.ndarray] = [np.zeros(1)]
        bottom_ys: list[np.ndarray] = [np.zeros(1)]

        history = data.history if data.history is not None and not data.history.empty else None
        self.history.set_visible(history is not None)
        if history is not None:
            x, y = _dates(history["demand_date"]), history["quantity"].to_numpy(float)
            self.history.set_data(x, y)
            xs.append(x)
            top_ys.append(y)

        forecast = data.forecast if data.forecast is not None and not data.forecast.empty else None
        if self.interval is not None:
            self.interval.remove()
            self.interval = None
        self.forecast.set_visible(forecast is not None)
        if forecast is not None:
            x = _dates(forecast["target_date"])
            lower, upper = (forecast[c].to_numpy(float) for c in ("yhat_lower", "yhat_upper"))
            self.interval = top.fill_between(x, lower, upper, color="tab:blue", alpha=0.2,
                                             lw=0)
            self.forecast.set_data(x, forecast["yhat"].to_numpy(float))
            xs.append(x)
            top_ys += [lower, upper]

        projection = (data.projection if data.projection is not None
                      and not data.projection.empty else None)
        dependent = (projection if projection is not None and "dependent_demand" in projection
                     and bool((projection["dependent_demand"] > 0).any()) else None)
        self.dependent.set_visible(dependent is not None)
        if dependent is not None:
            x, y = _dates(dependent["target_date"]), dependent["dependent_demand"].to_numpy(float)
            self.dependent.set_data(x, y)
            top_ys.append(y)
        self.projection.set_visible(projection is not None)
        if projection is not None:
            x, y = (_dates(projection["target_date"]),
                    projection["projected_on_hand"].to_numpy(float))
            self.projection.set_data(x, y)
            xs.append(x)
            bottom_ys.append(y)

        for line, level in ((self.safety_stock, data.safety_stock),
                            (self.reorder_point, data.reorder_point)):
            line.set_visible(bool(level))
            line.set_ydata([level, level])
            bottom_ys.append(np.array([level or 0.0]))

        for lines, day in ((self.stockout_lines, data.stockout_date),
                           (self.order_by_lines, data.order_by_date)):
            x = _dates([day])[0] if day else 0.0
            for line in lines:
                line.set_visible(bool(day))
                line.set_xdata([x, x])
            if day:
                xs.append(np.array([x]))
        self.stockout_label.set_visible(bool(data.stockout_date))
        if data.stockout_date:
            self.stockout_label.set_text(f"stockout {data.stockout_date.isoformat()}")
            self.stockout_label.xy = (_dates([data.stockout_date])[0], 0)

        self.title.set_text(data.title)
        _set_limits(top, bottom, xs, top_ys, bottom_ys)
        top_handles = [self.history] if history is not None else []
        if forecast is not None:
            top_handles += [self.interval_legend, self.forecast]
        if dependent is not None:
            top_handles.append(self.dependent)
        _legend(top, top_handles, "upper left")
        _legend(bottom, [h for h in (self.projection, self.safety_stock, self.reorder_point)
                         if h.get_visible()], "lower left")
        for label in bottom.get_xticklabels():
            label.set_horizontalalignment("right")
        # PNG compression level 1: a little larger file, several times faster to write.
        self.figure.savefig(path, pil_kwargs={"compress_level": 1})


def _legend(ax, handles: list, loc: str) -> None:
    if handles:
        ax.legend(handles=handles, loc=loc, fontsize=7)
    elif ax.get_legend() is not None:
        ax.get_legend().remove()


def _set_limits(top, bottom, xs, top_ys, bottom_ys) -> None:
    """Axis limits from the data, with a margin (relim() ignores the interval band)."""
    def span(values: list[np.ndarray], pad: float) -> tuple[float, float]:
        joined = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(1)
        low, high = (float(joined.min()), float(joined.max())) if joined.size else (0.0, 1.0)
        margin = (high - low) * pad or 1.0
        return low - margin, high + margin

    if xs:
        bottom.set_xlim(*span(xs, 0.03))
    top.set_ylim(*span(top_ys, 0.05))
    bottom.set_ylim(*span(bottom_ys, 0.08))


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


def alert_chart_jobs(alerts: list, as_of: date, root: Path, items: pd.DataFrame,
                     history: pd.DataFrame, forecast: pd.DataFrame,
                     projections: dict) -> list[tuple[ChartData, Path]]:
    """What to draw for each alert and where: ``items`` is the item context (safety stock,
    reorder point), ``history`` and ``forecast`` the chart inputs of the alerts' item-
    locations, ``projections`` the projection per ``(item_id, location_id)``."""
    hist_by = dict(tuple(history.groupby(["item_id", "location_id"]))) if not history.empty else {}
    fc_by = dict(tuple(forecast.groupby(["item_id", "location_id"]))) if not forecast.empty else {}
    info = {(str(r.item_id), str(r.location_id)): r for r in items.itertuples(index=False)}
    jobs = []
    for alert in alerts:
        key = (str(alert.item_id), str(alert.location_id))
        item = info.get(key)
        details = alert.details or {}
        model = fc_by[key]["model_name"].iloc[0] if key in fc_by else "no forecast"
        stockout = details.get("stockout_date")
        order_by = details.get("order_by_date")
        data = ChartData(
            title=f"{alert.alert_type}: {details.get('sku', key[0])} at {key[1]} "
                  f"(as of {as_of.isoformat()}, model {model})",
            history=hist_by.get(key), forecast=fc_by.get(key), projection=projections.get(key),
            safety_stock=float(item.safety_stock) if item is not None else 0.0,
            reorder_point=float(item.reorder_point) if item is not None else 0.0,
            stockout_date=None if not stockout else date.fromisoformat(stockout),
            order_by_date=None if not order_by else date.fromisoformat(order_by))
        jobs.append((data, chart_file(root, as_of, alert.dedup_key)))
    return jobs
