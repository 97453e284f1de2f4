"""Alerts asset (group ``alerts``): evaluate the inventory rules per item x location and
keep one row per dedup key (type + item + location) with its lifecycle (open / resolved,
first and last seen, last event), and a PNG chart per open alert (``chart_path``) that
notifications attach.

The rules are in rules.py, the lifecycle in lifecycle.py, the drawing in charts.py, the SQL
in store.py."""


import time
from collections import Counter
from datetime import timedelta

import dagster as dg

from assets.alerts import store
from assets.alerts.anomaly import AnomalyPolicy
from assets.alerts.charts import alert_chart_jobs, render_charts
from assets.alerts.lifecycle import diff_alerts, needs_chart
from assets.alerts.rules import AlertPolicy, evaluate_portfolio
from assets.forecast.assets import FORECAST_ACCURACY, PROJECTED_INVENTORY, UNIFIED
from assets.forecast.engine import default_workers
from resources.partitions import daily_partitions, partition_date
from resources.settings import Settings
from resources.warehouse import WarehouseResource

FORECAST_ALERTS = dg.AssetKey(["alerts", "forecast_alerts"])


@dg.asset(
    key=FORECAST_ALERTS,
    deps=[PROJECTED_INVENTORY, FORECAST_ACCURACY, UNIFIED["manufacturing_items"]],
    group_name="alerts",
    kinds={"python", "postgres"},
    partitions_def=daily_partitions,
    description="Inventory alerts: projected stockout inside the lead time on firm supply "
    "(stockout date, order-by date, shortfall, the parent orders consuming a component; one "
    "step less severe when planned orders would cover it), below safety stock, excess cover, "
    "open orders late past their due date, a demand change worth a look (tracking signal "
    "of the lag-1 forecast errors above a value floor), forecast "
    "accuracy worse than the seasonal naive. One row per type + item + "
    "location with a PNG chart; resolved when the condition no longer holds.",
)
def forecast_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    started = time.monotonic()
    as_of = partition_date(context)
    run_id = context.run.run_id
    with warehouse.connection() as conn:
        newest = store.newest_projection_date(conn)
        if newest is not None and as_of < newest:
            # Alerts are the current state: an older day (a backfill) must not reopen or
            # resolve what the newest day decided.
            return dg.MaterializeResult(metadata={"skipped": f"{as_of} is older than {newest}"})
        items = store.item_context(conn, as_of)
        projection = store.projection(conn, as_of)
        by_key = dict(tuple(projection.groupby(["item_id", "location_id"])))
        policy = alert_policy(warehouse.settings)
        current = evaluate_portfolio(items, by_key, store.latest_accuracy(conn, as_of),
                                     as_of + timedelta(days=1), policy,
                                     store.supply_context(conn, as_of),
                                     store.recent_days(conn, as_of, anomaly_lookback(policy)))
        stored = store.open_alerts(conn)
        changes = diff_alerts({key: v[0] for key, v in stored.items()}, current)
        evaluated = time.monotonic()
        context.log.info(f"{len(items)} item-locations evaluated in {evaluated - started:.1f}s: "
                         f"{len(changes)} alert events")
        store.save_changes(conn, changes, run_id)
        redraw = [c.alert for c in changes if c.alert is not None
                  and needs_chart(c.event, stored.get(c.dedup_key, (None, None))[1])]
        stored_at = time.monotonic()
        kept = sum(c.alert is not None for c in changes) - len(redraw)
        context.log.info(f"drawing {len(redraw)} chart(s), keeping {kept}")
        charts = _draw_charts(conn, warehouse.settings, as_of, redraw, items, by_key)
        context.log.info(f"alerts stored in {stored_at - evaluated:.1f}s, "
                         f"charts drawn in {time.monotonic() - stored_at:.1f}s")
        store.set_chart_paths(conn, charts)
        open_now = store.open_alert_summary(conn)
    events = Counter(c.event for c in changes)
    by_type = Counter(t for t, _, _ in open_now)
    preview = "\n".join(f"- **{s}** {t}: {m}" for t, s, m in open_now[:15]) or "_none_"
    return dg.MaterializeResult(metadata={
        "forecast_date": as_of.isoformat(),
        "open_alerts": len(open_now),
        "alerts_by_type": dict(by_type),
        "events": dict(events),
        "dagster/row_count": len(open_now),
        "open_alerts_preview": dg.MetadataValue.md(preview),
        "charts": len(charts),
        "charts_kept": len(open_now) - len(charts),
    })


def alert_policy(settings: Settings) -> AlertPolicy:
    anomaly = AnomalyPolicy(rule=settings.alert_anomaly_rule,
                            ts_limit=settings.alert_anomaly_ts_limit,
                            ts_window=settings.alert_anomaly_window_days,
                            m=settings.alert_anomaly_m, n=settings.alert_anomaly_n,
                            hold_days=settings.alert_anomaly_hold_days,
                            value_floor=settings.alert_anomaly_value_floor)
    return AlertPolicy(excess_cover_days=settings.alert_excess_cover_days,
                       degraded_ratio=settings.alert_degraded_ratio,
                       late_supply_days=settings.alert_late_supply_days, anomaly=anomaly)


def anomaly_lookback(policy: AlertPolicy) -> int:
    """Days of history the anomaly rule reads: its longest window, the scale before it
    and the days it holds a verdict."""
    a = policy.anomaly
    return max(a.ts_max_window, a.cusum_days, a.n) + a.mad_days + a.hold_days


def _draw_charts(conn, settings: Settings, as_of, alerts, items, projections) -> dict:
    """A PNG per alert that holds now: <data_dir>/charts/<as_of>/<dedup key>.png."""
    if not alerts:
        return {}
    keys = sorted({(str(a.item_id), str(a.location_id)) for a in alerts})
    jobs = alert_chart_jobs(alerts, as_of, settings.data_dir / "charts", items,
                            store.chart_history(conn, as_of, keys),
                            store.chart_forecasts(conn, as_of, keys), projections)
    paths = render_charts(jobs, workers=default_workers())
    return {alert.dedup_key: path for alert, path in zip(alerts, paths, strict=True)}


ASSETS = [forecast_alerts]
ASSET_CHECKS: list = []
