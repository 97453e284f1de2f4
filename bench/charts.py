"""Benchmark of the alert charts (assets/alerts/charts.py).

    .venv/bin/python bench/charts.py [--charts 200]

Every open alert that is new, escalated or reopened gets a PNG; at 10,000 items that is
thousands of charts a night. Compared in the same run, on the same data (120 days of
history, a 90-day forecast with its interval, a projection, safety stock, reorder point,
stockout and order-by markers):
- naive: a new pyplot figure per chart (``naive_render`` below, the first implementation),
- ``render_chart``: one canvas per process, only the data and markers change per chart,
- ``render_charts`` with the platform's worker count.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assets.alerts.charts import ChartData, render_chart, render_charts  # noqa: E402
from assets.forecast.engine import default_workers  # noqa: E402

AS_OF = date(2026, 11, 27)


def sample_chart(seed: int) -> ChartData:
    rng = np.random.default_rng(seed)
    history = pd.DataFrame({
        "demand_date": [AS_OF - timedelta(days=k) for k in range(119, -1, -1)],
        "quantity": rng.poisson(5 + seed % 7, 120).astype(float)})
    ahead = [AS_OF + timedelta(days=k) for k in range(1, 91)]
    yhat = 5 + seed % 7 + np.sin(np.arange(90) / 7)
    forecast = pd.DataFrame({"target_date": ahead, "yhat": yhat, "yhat_lower": yhat - 2,
                             "yhat_upper": yhat + 2})
    projection = pd.DataFrame({"target_date": ahead,
                               "projected_on_hand": 300 + 10 * seed % 50 - np.cumsum(yhat)})
    return ChartData(title=f"stockout: SKU-{seed:05d} at sap:1000 (as of {AS_OF}, model auto_ets)",
                     history=history, forecast=forecast, projection=projection,
                     safety_stock=50, reorder_point=80, stockout_date=AS_OF + timedelta(days=45),
                     order_by_date=AS_OF + timedelta(days=35))


def naive_render(data: ChartData, path: Path) -> Path:
    """A new pyplot figure per chart: axes, legends and date axis built every time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), dpi=80, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    top.plot(pd.to_datetime(data.history["demand_date"]), data.history["quantity"],
             color="0.35", lw=1, label="actual demand")
    days = pd.to_datetime(data.forecast["target_date"])
    top.fill_between(days, data.forecast["yhat_lower"], data.forecast["yhat_upper"],
                     color="tab:blue", alpha=0.2, label="80% interval")
    top.plot(days, data.forecast["yhat"], color="tab:blue", lw=1.5, label="forecast")
    top.set_ylabel("demand / day")
    top.legend(loc="upper left", fontsize=7)
    top.grid(alpha=0.3)
    top.set_title(data.title, fontsize=9)
    bottom.plot(pd.to_datetime(data.projection["target_date"]),
                data.projection["projected_on_hand"], color="tab:green", lw=1.5,
                label="projected on hand")
    bottom.axhline(data.safety_stock, color="tab:orange", ls="--", lw=1, label="safety stock")
    bottom.axhline(data.reorder_point, color="tab:purple", ls=":", lw=1, label="reorder point")
    bottom.axhline(0, color="black", lw=0.8)
    for ax in (top, bottom):
        ax.axvline(pd.Timestamp(data.stockout_date), color="tab:red", lw=1.2)
        ax.axvline(pd.Timestamp(data.order_by_date), color="tab:red", lw=0.8, ls="--")
    bottom.annotate(f"stockout {data.stockout_date.isoformat()}",
                    (pd.Timestamp(data.stockout_date), 0), xytext=(4, 8),
                    textcoords="offset points", color="tab:red", fontsize=7)
    bottom.set_ylabel("units on hand")
    bottom.legend(loc="lower left", fontsize=7)
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    for label in bottom.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    fig.subplots_adjust(left=0.1, right=0.98, top=0.93, bottom=0.15, hspace=0.08)
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=200)
    args = parser.parse_args()
    charts = [sample_chart(seed) for seed in range(args.charts)]
    workers = default_workers()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fc-bench-charts-") as tmp:
        out = Path(tmp)
        # Imports and font cache once, outside every timing.
        naive_render(charts[0], out / "warm-naive.png")
        render_chart(charts[0], out / "warm.png")
        cases = [
            ("naive: new pyplot figure per chart, serial",
             lambda: [naive_render(c, out / f"naive-{k}.png") for k, c in enumerate(charts)]),
            ("render_chart: reused canvas, serial",
             lambda: [render_chart(c, out / f"serial-{k}.png") for k, c in enumerate(charts)]),
            (f"render_charts: reused canvas, {workers} worker processes",
             lambda: render_charts([(c, out / f"pool-{k}.png") for k, c in enumerate(charts)],
                                   workers=workers)),
        ]
        for name, run in cases:
            started = time.perf_counter()
            paths = run()
            seconds = time.perf_counter() - started
            size = sum(p.stat().st_size for p in paths) / len(paths)
            rows.append((name, seconds, size))
    naive = rows[0][1]
    print("| implementation | charts | seconds | ms/chart | charts/s | vs naive | mean PNG KB |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for name, seconds, size in rows:
        print(f"| {name} | {args.charts} | {seconds:.2f} | {1000 * seconds / args.charts:.1f} | "
              f"{args.charts / seconds:.1f} | {naive / seconds:.2f}x | {size / 1024:.0f} |")


if __name__ == "__main__":
    main()
