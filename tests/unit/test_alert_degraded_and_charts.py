"""Forecast-degraded rule and the per-alert PNG chart (pure logic, Agg backend)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from assets.alerts.charts import ChartData, chart_file, render_chart, render_charts
from assets.alerts.lifecycle import needs_chart
from assets.alerts.rules import AlertPolicy, ItemContext, evaluate_item_alerts

TODAY = date(2026, 3, 2)
ITEM = ItemContext(7, "FC-7", "Gear", "sap:1000", 10, 5.0, 20.0, 1.0, 100.0, 1.0)


def degraded(accuracy, policy=None):
    alerts = evaluate_item_alerts(ITEM, None, None, TODAY, policy or AlertPolicy(), accuracy)
    return [a for a in alerts if a.alert_type == "accuracy_degraded"]


def test_forecast_worse_than_the_seasonal_naive_raises_degraded():
    [alert] = degraded({"wape": 0.9, "baseline_wape": 0.5, "observations": 28, "lag_days": 7,
                        "model_name": "prophet"})
    assert alert.dedup_key == "accuracy_degraded:7:sap:1000"
    assert alert.details["wape"] == 0.9 and alert.details["baseline_wape"] == 0.5
    assert "prophet" in alert.message and alert.severity == "medium"


def test_no_degraded_alert_when_close_to_baseline_or_too_few_days():
    assert not degraded({"wape": 0.55, "baseline_wape": 0.5, "observations": 28})
    assert not degraded({"wape": 0.9, "baseline_wape": 0.5, "observations": 5})
    assert not degraded({"wape": float("nan"), "baseline_wape": 0.5, "observations": 28})
    assert not degraded(None)
    assert degraded({"wape": 0.55, "baseline_wape": 0.5, "observations": 28},
                    AlertPolicy(degraded_ratio=1.05))


def test_chart_is_a_png_per_dedup_key(tmp_path):
    days = [TODAY - timedelta(days=k) for k in range(30, 0, -1)]
    ahead = [TODAY + timedelta(days=k) for k in range(20)]
    data = ChartData(
        title="stockout: FC-7 at sap:1000",
        history=pd.DataFrame({"demand_date": days, "quantity": [5.0] * 30}),
        forecast=pd.DataFrame({"target_date": ahead, "yhat": [5.0] * 20,
                               "yhat_lower": [3.0] * 20, "yhat_upper": [7.0] * 20}),
        projection=pd.DataFrame({"target_date": ahead,
                                 "projected_on_hand": [40 - 5.0 * k for k in range(20)]}),
        safety_stock=5.0, reorder_point=20.0, stockout_date=TODAY + timedelta(days=9),
        order_by_date=TODAY - timedelta(days=1))
    path = chart_file(tmp_path, TODAY, "stockout:7:sap:1000/x")
    assert path.parent.name == TODAY.isoformat() and "/" not in path.name
    render_chart(data, path)
    content = path.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) > 5000
    # A chart without a forecast (e.g. excess stock of a dead item) still renders.
    bare = render_chart(ChartData("excess", None, None, None), tmp_path / "bare.png")
    assert bare.read_bytes()[:4] == b"\x89PNG"
    # The canvas is reused from chart to chart: nothing of the bare chart (or of the
    # first one) is left over, so the same data gives the same picture again.
    again = render_chart(data, tmp_path / "again.png")
    assert again.read_bytes() == content
    assert bare.read_bytes() != content


def test_a_components_dependent_demand_is_drawn_apart_from_its_forecast(tmp_path):
    from assets.alerts import charts

    ahead = [TODAY + timedelta(days=k) for k in range(20)]
    projection = pd.DataFrame({"target_date": ahead,
                               "projected_on_hand": [100 - 9.0 * k for k in range(20)],
                               "dependent_demand": [0.0] * 5 + [40.0] + [0.0] * 14})
    forecast = pd.DataFrame({"target_date": ahead, "yhat": [1.0] * 20,
                             "yhat_lower": [0.0] * 20, "yhat_upper": [2.0] * 20})
    with_parents = render_chart(ChartData("stockout: C-1", None, forecast, projection),
                                tmp_path / "with.png")
    legend = [t.get_text() for t in charts._canvas.top.get_legend().get_texts()]
    assert "dependent demand (parents' production)" in legend and "forecast" in legend
    alone = render_chart(ChartData("stockout: C-1", None, forecast,
                                   projection.assign(dependent_demand=0.0)), tmp_path / "alone.png")
    legend = [t.get_text() for t in charts._canvas.top.get_legend().get_texts()]
    assert "dependent demand (parents' production)" not in legend
    assert with_parents.read_bytes() != alone.read_bytes()


def test_many_charts_render_in_worker_processes_in_order(tmp_path):
    jobs = [(ChartData(f"excess {k}", None, None, None), tmp_path / f"c{k}.png") for k in range(7)]
    paths = render_charts(jobs, workers=2, chunk=2)  # 4 batches over 2 processes
    assert paths == [path for _, path in jobs]
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in paths)


def test_an_unchanged_alert_keeps_its_chart_unless_the_file_is_gone(tmp_path):
    chart = tmp_path / "kept.png"
    chart.write_bytes(b"png")
    assert not needs_chart("unchanged", str(chart))
    assert needs_chart("raised", str(chart))
    assert needs_chart("escalated", str(chart))
    assert needs_chart("reopened", str(chart))
    assert not needs_chart("de-escalated", str(chart))  # better news: the chart stays
    assert needs_chart("unchanged", str(tmp_path / "gone.png"))
    assert needs_chart("unchanged", None)
