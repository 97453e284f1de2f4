"""Alerts asset: evaluate the inventory rules per item x location and keep one row per
dedup key (type + item + location) with its lifecycle (open / resolved, first and last
seen, last event)."""


import json
from collections import Counter
from datetime import timedelta

import dagster as dg

from assets.alerts.lifecycle import diff_alerts
from assets.alerts.rules import ItemContext, evaluate_item_alerts
from assets.forecast.assets import PROJECTED_INVENTORY, UNIFIED
from orchestration.partitions import daily_partitions, partition_date
from resources.frames import read_frame
from resources.warehouse import WarehouseResource

FORECAST_ALERTS = dg.AssetKey(["forecast", "forecast_alerts"])

ITEM_CONTEXT_SQL = """
with latest_stock as (
    select distinct on (item_id, location_id) item_id, location_id, on_hand
    from unified.inventory_snapshots where snapshot_date <= %(as_of)s
    order by item_id, location_id, snapshot_date desc
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
left join latest_stock s on s.item_id::text = p.item_id and s.location_id = p.location_id
left join recent_demand d on d.item_id::text = p.item_id and d.location_id = p.location_id
left join last_interval l on l.item_id = p.item_id and l.location_id = p.location_id
where i.status = 'active'
"""


@dg.asset(
    key=FORECAST_ALERTS,
    deps=[PROJECTED_INVENTORY, UNIFIED["manufacturing_items"]],
    group_name="forecast",
    kinds={"python", "postgres"},
    partitions_def=daily_partitions,
    description="Inventory alerts: projected stockout inside the lead time, below safety "
    "stock, excess cover, demand outside the forecast interval. One row per type + item + "
    "location; resolved when the condition no longer holds.",
)
def forecast_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.connection() as conn:
        as_of = partition_date(context)
        newest = conn.execute("select max(forecast_date) from forecast.projected_inventory"
                              ).fetchone()[0]
        if newest is not None and as_of < newest:
            # Alerts are the current state: an older day (a backfill) must not reopen or
            # resolve what the newest day decided.
            return dg.MaterializeResult(metadata={"skipped": f"{as_of} is older than {newest}"})
        items = read_frame(conn, ITEM_CONTEXT_SQL, {"as_of": as_of})
        projection = read_frame(conn, "select item_id, location_id, target_date, "
                                      "projected_on_hand, projected_on_hand_p80 from "
                                      "forecast.projected_inventory where forecast_date = %s",
                                (as_of,))
        by_key = dict(tuple(projection.groupby(["item_id", "location_id"])))
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
                                            actual, interval, today)
        open_before = dict(conn.execute(
            "select dedup_key, severity from forecast.forecast_alerts where status = 'open'"
        ).fetchall())
        changes = diff_alerts(open_before, current)
        for change in changes:
            if change.alert is None:
                conn.execute("update forecast.forecast_alerts set status = 'resolved', "
                             "last_event = 'resolved', resolved_at = now(), last_run_id = %s "
                             "where dedup_key = %s", (context.run_id, change.dedup_key))
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
                 "run": context.run_id})
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
    })


ASSETS = [forecast_alerts]
ASSET_CHECKS: list = []
