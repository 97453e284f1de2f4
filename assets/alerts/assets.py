"""Alerts asset: evaluate the inventory rules per item x location and keep one row per
dedup key (type + item + location) with its lifecycle (open / resolved, first and last
seen, last event), and a PNG chart per open alert (``chart_path``) that notifications
attach."""


import json
import time
from collections import Counter
from datetime import date, timedelta

import dagster as dg

from assets.alerts.charts import ChartData, chart_file, render_charts
from assets.alerts.lifecycle import diff_alerts, needs_chart
from assets.alerts.rules import AlertPolicy, ItemContext, evaluate_item_alerts
from assets.forecast.assets import FORECAST_ACCURACY, PROJECTED_INVENTORY, UNIFIED
from assets.forecast.engine import default_workers
from assets.forecast.store import LATEST_ON_HAND_SQL, copy_out
from resources.frames import read_frame
from resources.partitions import daily_partitions, partition_date
from resources.settings import Settings
from resources.warehouse import WarehouseResource

FORECAST_ALERTS = dg.AssetKey(["forecast", "forecast_alerts"])

ITEM_CONTEXT_SQL = f"""
with latest_stock as ({LATEST_ON_HAND_SQL}
), recent_demand as (
    select item_id, location_id, avg(quantity) as avg_daily_demand,
           sum(quantity) filter (where demand_date = %(as_of)s) as last_actual
    from unified.demand_history where demand_date > %(as_of)s::date - 28
    group by item_id, location_id
), last_interval as (
    select distinct on (item_id, location_id) item_id, location_id, yhat_lower, yhat_upper
    from forecast.forecasts where target_date = %(as_of)s and forecast_date < %(as_of)s
    order by item_id, location_id, forecast_date desc
)
select p.item_id, p.location_id, i.sku, i.name, coalesce(i.lead_time_days, 0) as lead_time_days,
       coalesce(i.safety_stock, 0) as safety_stock, coalesce(i.reorder_point, 0) as reorder_point,
       i.unit_cost, coalesce(s.on_hand, 0) as on_hand,
       coalesce(d.avg_daily_demand, 0) as avg_daily_demand, d.last_actual,
       l.yhat_lower, l.yhat_upper
from (select distinct item_id, location_id from forecast.projected_inventory
      where forecast_date = %(as_of)s) p
join unified.manufacturing_items i on i.item_id::text = p.item_id
left join latest_stock s on s.item_id = p.item_id and s.location_id = p.location_id
left join recent_demand d on d.item_id::text = p.item_id and d.location_id = p.location_id
left join last_interval l on l.item_id = p.item_id and l.location_id = p.location_id
where i.status = 'active'
"""


@dg.asset(
    key=FORECAST_ALERTS,
    deps=[PROJECTED_INVENTORY, FORECAST_ACCURACY, UNIFIED["manufacturing_items"]],
    group_name="forecast",
    kinds={"python", "postgres"},
    partitions_def=daily_partitions,
    description="Inventory alerts: projected stockout inside the lead time (stockout date, "
    "order-by date, shortfall), below safety stock, excess cover, demand outside the forecast "
    "interval, forecast accuracy worse than the seasonal naive. One row per type + item + "
    "location with a PNG chart; resolved when the condition no longer holds.",
)
def forecast_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    started = time.monotonic()
    with warehouse.connection() as conn:
        as_of = partition_date(context)
        newest = conn.execute("select max(forecast_date) from forecast.projected_inventory"
                              ).fetchone()[0]
        if newest is not None and as_of < newest:
            # Alerts are the current state: an older day (a backfill) must not reopen or
            # resolve what the newest day decided.
            return dg.MaterializeResult(metadata={"skipped": f"{as_of} is older than {newest}"})
        # Set-wise joins over rows this night just wrote (projections, forecasts) that have
        # no statistics yet: estimated at a few rows, they get nested loops that take
        # minutes at 10,000 items.
        conn.execute("set local enable_nestloop = off")
        items = read_frame(conn, ITEM_CONTEXT_SQL, {"as_of": as_of})
        projection = read_frame(conn, "select item_id, location_id, target_date, "
                                      "projected_on_hand, projected_on_hand_p80 from "
                                      "forecast.projected_inventory where forecast_date = %s",
                                (as_of,))
        by_key = dict(tuple(projection.groupby(["item_id", "location_id"])))
        accuracy = _latest_accuracy(conn, as_of)
        policy = alert_policy(warehouse.settings)
        today = as_of + timedelta(days=1)
        current = []
        for row in items.itertuples(index=False):
            item = ItemContext(row.item_id, row.sku, row.name, row.location_id,
                               int(row.lead_time_days), float(row.safety_stock),
                               float(row.reorder_point),
                               None if row.unit_cost is None else float(row.unit_cost),
                               float(row.on_hand), float(row.avg_daily_demand))
            interval = (None if row.yhat_lower is None
                        else (float(row.yhat_lower), float(row.yhat_upper)))
            actual = None if row.last_actual is None else float(row.last_actual)
            current += evaluate_item_alerts(item, by_key.get((row.item_id, row.location_id)),
                                            actual, interval, today, policy,
                                            accuracy.get((row.item_id, row.location_id)))
        stored = {key: (severity, chart) for key, severity, chart in conn.execute(
            "select dedup_key, severity, chart_path from forecast.forecast_alerts "
            "where status = 'open'").fetchall()}
        changes = diff_alerts({key: v[0] for key, v in stored.items()}, current)
        evaluated = time.monotonic()
        context.log.info(f"{len(items)} item-locations evaluated in {evaluated - started:.1f}s: "
                         f"{len(changes)} alert events")
        for change in changes:
            if change.alert is None:
                conn.execute("update forecast.forecast_alerts set status = 'resolved', "
                             "last_event = 'resolved', resolved_at = now(), last_run_id = %s "
                             "where dedup_key = %s", (context.run.run_id, change.dedup_key))
                continue
            a = change.alert
            conn.execute(
                """
                insert into forecast.forecast_alerts (dedup_key, alert_type, severity, item_id,
                    location_id, message, details, last_event, last_run_id)
                values (%(key)s, %(type)s, %(severity)s, %(item)s, %(location)s, %(message)s,
                        %(details)s, %(event)s, %(run)s)
                on conflict (dedup_key) do update set
                    severity = excluded.severity, message = excluded.message,
                    details = excluded.details, last_event = excluded.last_event,
                    status = 'open', resolved_at = null, last_seen_at = now(),
                    last_run_id = excluded.last_run_id,
                    first_seen_at = case when forecast_alerts.status = 'resolved'
                                         then now() else forecast_alerts.first_seen_at end,
                    severity_changed_at = case when forecast_alerts.severity <> excluded.severity
                                          then now() else forecast_alerts.severity_changed_at end
                """,
                {"key": a.dedup_key, "type": a.alert_type, "severity": a.severity,
                 "item": str(a.item_id), "location": str(a.location_id), "message": a.message,
                 "details": json.dumps(a.details, default=str), "event": change.event,
                 "run": context.run.run_id})
        redraw = [c.alert for c in changes if c.alert is not None
                  and needs_chart(c.event, stored.get(c.dedup_key, (None, None))[1])]
        stored_at = time.monotonic()
        kept = sum(c.alert is not None for c in changes) - len(redraw)
        context.log.info(f"drawing {len(redraw)} chart(s), keeping {kept}")
        charts = _render_charts(conn, warehouse.settings, as_of, redraw, items, by_key)
        context.log.info(f"alerts stored in {stored_at - evaluated:.1f}s, "
                         f"charts drawn in {time.monotonic() - stored_at:.1f}s")
        for key, path in charts.items():
            conn.execute("update forecast.forecast_alerts set chart_path = %s where dedup_key = %s",
                         (str(path), key))
        open_now = conn.execute("select alert_type, severity, message from "
                                "forecast.forecast_alerts where status = 'open' order by "
                                "array_position(array['critical','high','medium','low'], "
                                "severity), dedup_key").fetchall()
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
    return AlertPolicy(excess_cover_days=settings.alert_excess_cover_days,
                       degraded_ratio=settings.alert_degraded_ratio)


def _latest_accuracy(conn, as_of) -> dict:
    """Each item's lag-7 score as of the run's day (forecast degraded)."""
    rows = conn.execute(
        "select item_id, location_id, wape, baseline_wape, observations, lag_days, model_name "
        "from forecast.forecast_accuracy where scored_date = %s and lag_days = 7 "
        "and item_id is not null", (as_of,)).fetchall()
    names = ("wape", "baseline_wape", "observations", "lag_days", "model_name")
    return {(r[0], r[1]): dict(zip(names, r[2:], strict=True)) for r in rows}


def _render_charts(conn, settings: Settings, as_of, alerts, items, projections) -> dict:
    """A PNG per alert that holds now: <data_dir>/charts/<as_of>/<dedup key>.png."""
    if not alerts:
        return {}
    keys = sorted({(str(a.item_id), str(a.location_id)) for a in alerts})
    wanted = {"items": [k[0] for k in keys], "locations": [k[1] for k in keys],
              "as_of": as_of}
    pairs = "select unnest(%(items)s::text[]) as item_id, unnest(%(locations)s::text[]) as loc"
    history = copy_out(conn, f"""
        select d.item_id::text as item_id, d.location_id, d.demand_date, d.quantity
        from unified.demand_history d join ({pairs}) k
          on k.item_id = d.item_id::text and k.loc = d.location_id
        where d.demand_date > %(as_of)s::date - 120 and d.demand_date <= %(as_of)s""", wanted)
    forecast = copy_out(conn, f"""
        select f.item_id, f.location_id, f.target_date, f.yhat, f.yhat_lower, f.yhat_upper,
               f.model_name
        from forecast.forecasts f join ({pairs}) k
          on k.item_id = f.item_id and k.loc = f.location_id
        where f.forecast_date = %(as_of)s""", wanted)
    hist_by = dict(tuple(history.groupby(["item_id", "location_id"]))) if not history.empty else {}
    fc_by = dict(tuple(forecast.groupby(["item_id", "location_id"]))) if not forecast.empty else {}
    info = {(str(r.item_id), str(r.location_id)): r for r in items.itertuples(index=False)}
    root = settings.data_dir / "charts"
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
    paths = render_charts(jobs, workers=default_workers())
    return {alert.dedup_key: path for alert, path in zip(alerts, paths, strict=True)}


ASSETS = [forecast_alerts]
ASSET_CHECKS: list = []
