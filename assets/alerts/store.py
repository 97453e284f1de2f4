"""Warehouse reads and writes of the alerts stage (psycopg 3, no Dagster): the item context
the rules need, the projection and accuracy they read, the alert rows, their events and
lifecycle, chart paths, the history and forecast a chart draws, and the nightly budget.

Item ids are uuid in the warehouse and ``str`` in Python (as in the forecast stage), so
frames and dicts are keyed by the same ``(item_id, location_id)`` pairs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd

from assets.alerts.lifecycle import AlertChange
from assets.alerts.rules import SupplyContext
from assets.forecast.store import LATEST_ON_HAND_SQL
from resources.frames import copy_out, read_frame

ITEM_CONTEXT_SQL = f"""
with latest_stock as ({LATEST_ON_HAND_SQL}
), recent_demand as (
    -- Cover counts every outflow: a BOM component's consumption by production is left
    -- out of the demand it is forecast from (its parents' plan covers it), not out of use.
    select item_id, location_id,
           avg(coalesce(independent_quantity + consumption_quantity, quantity))
               as avg_daily_demand
    from unified.demand_history where demand_date > %(as_of)s::date - 28
    group by item_id, location_id
)
select p.item_id, p.location_id, i.sku, i.name, coalesce(i.lead_time_days, 0) as lead_time_days,
       coalesce(i.safety_stock, 0) as safety_stock, coalesce(i.reorder_point, 0) as reorder_point,
       i.unit_cost, coalesce(s.on_hand, 0) as on_hand,
       coalesce(d.avg_daily_demand, 0) as avg_daily_demand
from (select distinct item_id, location_id from forecast.projected_inventory
      where forecast_date = %(as_of)s) p
join unified.manufacturing_items i on i.item_id = p.item_id
left join latest_stock s on s.item_id = p.item_id and s.location_id = p.location_id
left join recent_demand d on d.item_id = p.item_id and d.location_id = p.location_id
where i.status = 'active'
"""

UPSERT_ALERT_SQL = """
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
"""


def newest_projection_date(conn) -> date | None:
    return conn.execute("select max(forecast_date) from forecast.projected_inventory"
                        ).fetchone()[0]


def item_context(conn, as_of: date) -> pd.DataFrame:
    """Per projected item-location of ``as_of``: the item, its stock and recent demand
    (ITEM_CONTEXT_SQL)."""
    # Set-wise joins over rows this night just wrote (projections, forecasts) that have no
    # statistics yet: estimated at a few rows, they get nested loops that take minutes at
    # 10,000 items. For the rest of the transaction too (the reads that follow).
    conn.execute("set local enable_nestloop = off")
    return read_frame(conn, ITEM_CONTEXT_SQL, {"as_of": as_of})


# Each item-location's recent days for the demand-anomaly rule: the actual (what the
# forecast reads) and the current forecast made the day before for that day (lag 1) with
# its 80% and 95% bounds. A day without a lag-1 forecast has none: the forecast rules
# skip it, level_shift (the default) reads the actual alone.
RECENT_DAYS_SQL = """
select d.item_id, d.location_id, d.demand_date as target_date, d.quantity as actual,
       d.is_stockout, f.yhat, f.yhat_lower, f.yhat_upper, f.yhat_lower_95, f.yhat_upper_95
from unified.demand_history d
left join forecast.forecasts f
  on f.item_id = d.item_id and f.location_id = d.location_id
 and f.target_date = d.demand_date and f.forecast_date = d.demand_date - 1 and f.is_current
where d.demand_date > %(as_of)s::date - %(days)s and d.demand_date <= %(as_of)s
order by d.item_id, d.location_id, d.demand_date
"""


def recent_days(conn, as_of: date, days: int) -> dict[tuple[str, str], pd.DataFrame]:
    """``(item_id, location_id)`` -> its last ``days`` days up to ``as_of``
    (RECENT_DAYS_SQL), one set-wise read for the portfolio."""
    frame = copy_out(conn, RECENT_DAYS_SQL, {"as_of": as_of, "days": days})
    if frame.empty:
        return {}
    frame["is_stockout"] = frame["is_stockout"].map({"t": True, "f": False, True: True,
                                                     False: False})
    return {(str(item), location): rows.drop(columns=["item_id", "location_id"])
            for (item, location), rows in frame.groupby(["item_id", "location_id"], sort=False)}


def projection(conn, as_of: date) -> pd.DataFrame:
    """The as-of day's projection, with the daily dependent demand (the chart shows it
    apart from the forecast)."""
    return read_frame(conn, """
        select item_id, location_id, target_date, projected_on_hand, projected_on_hand_p80,
               projected_on_hand_planned,
               cumulative_dependent_demand - coalesce(lag(cumulative_dependent_demand)
                   over (partition by item_id, location_id order by target_date), 0)
                   as dependent_demand
        from forecast.projected_inventory where forecast_date = %s""", (as_of,))


def supply_context(conn, as_of: date) -> dict[tuple[str, str], SupplyContext]:
    """Per item-location: the open orders the as-of day was projected with and the
    dependent demand pegged to it (parent SKU named), each by date."""
    orders = read_frame(conn, """
        select item_id, location_id, reference, supply_type, is_firm,
               due_date as expected_date, quantity::float8 as quantity
        from forecast.supply_snapshots where forecast_date = %s and flow = 'receipt'
        order by due_date, reference""", (as_of,))
    pegs = read_frame(conn, """
        select d.item_id, d.location_id, d.required_date, d.quantity, p.sku as parent_sku,
               d.peg_type, d.peg_reference, d.peg_date
        from forecast.dependent_demand d
        join unified.manufacturing_items p on p.item_id = d.parent_item_id
        where d.forecast_date = %s
        order by d.required_date, p.sku, d.peg_reference""", (as_of,))
    context: dict[tuple[str, str], dict[str, list]] = {}
    for name, frame in (("orders", orders), ("pegs", pegs)):
        for key, rows in frame.groupby(["item_id", "location_id"], sort=False):
            records = rows.drop(columns=["item_id", "location_id"]).to_dict("records")
            context.setdefault(key, {"orders": [], "pegs": []})[name] = records
    return {key: SupplyContext(tuple(v["orders"]), tuple(v["pegs"]))
            for key, v in context.items()}


def latest_accuracy(conn, as_of: date) -> dict:
    """Each item's lag-7 score as of the run's day (forecast degraded)."""
    rows = conn.execute(
        "select item_id, location_id, wape, baseline_wape, observations, lag_days, model_name "
        "from forecast.forecast_accuracy where scored_date = %s and lag_days = 7 "
        "and item_id is not null", (as_of,)).fetchall()
    names = ("wape", "baseline_wape", "observations", "lag_days", "model_name")
    return {(str(r[0]), r[1]): dict(zip(names, r[2:], strict=True)) for r in rows}


def open_alerts(conn) -> dict[str, tuple[str, str | None]]:
    """dedup key -> (severity, chart path) of every open alert."""
    return {key: (severity, chart) for key, severity, chart in conn.execute(
        "select dedup_key, severity, chart_path from forecast.forecast_alerts "
        "where status = 'open'").fetchall()}


def resolved_keys(conn, keys: list[str]) -> set[str]:
    """Which of these dedup keys name a resolved alert (holding again: reopened)."""
    return {r[0] for r in conn.execute(
        "select dedup_key from forecast.forecast_alerts where status = 'resolved' "
        "and dedup_key = any(%s)", (keys,)).fetchall()}


EVENTS_SQL = """
insert into forecast.alert_events (dedup_key, alert_type, item_id, location_id, event,
                                   severity_before, severity_after, as_of, run_id)
select a.dedup_key, a.alert_type, a.item_id, a.location_id, e.event, e.before, e.after,
       %(as_of)s, %(run)s
from unnest(%(keys)s::text[], %(events)s::text[], %(before)s::text[], %(after)s::text[])
     with ordinality as e(key, event, before, after, n)
join forecast.forecast_alerts a on a.dedup_key = e.key
order by e.n
"""


def save_changes(conn, changes: Iterable[AlertChange], run_id: str, as_of: date) -> None:
    """Resolve the alerts that no longer hold; insert, reopen or update the others; append
    every change but ``unchanged`` to forecast.alert_events."""
    changes = list(changes)
    resolved, upserts = [], []
    for change in changes:
        if change.alert is None:
            resolved.append((run_id, change.dedup_key))
            continue
        a = change.alert
        upserts.append({"key": a.dedup_key, "type": a.alert_type, "severity": a.severity,
                        "item": str(a.item_id), "location": str(a.location_id),
                        "message": a.message, "details": json.dumps(a.details, default=str),
                        "event": change.event, "run": run_id})
    with conn.cursor() as cur:
        if resolved:
            cur.executemany("update forecast.forecast_alerts set status = 'resolved', "
                            "last_event = 'resolved', resolved_at = now(), last_run_id = %s "
                            "where dedup_key = %s", resolved)
        if upserts:
            cur.executemany(UPSERT_ALERT_SQL, upserts)
    logged = [c for c in changes if c.event != "unchanged"]
    if logged:
        conn.execute(EVENTS_SQL, {
            "keys": [c.dedup_key for c in logged], "events": [c.event for c in logged],
            "before": [c.severity_before for c in logged],
            "after": [c.severity_after for c in logged], "as_of": as_of, "run": run_id})


def alert_events(conn, dedup_key: str) -> list[tuple]:
    """(event, severity before, severity after, as-of day) of one alert, oldest first."""
    return conn.execute("select event, severity_before, severity_after, as_of "
                        "from forecast.alert_events where dedup_key = %s order by id",
                        (dedup_key,)).fetchall()


def set_chart_paths(conn, charts: dict[str, Path]) -> None:
    if charts:
        with conn.cursor() as cur:
            cur.executemany("update forecast.forecast_alerts set chart_path = %s "
                            "where dedup_key = %s",
                            [(str(path), key) for key, path in charts.items()])


def open_alert_summary(conn) -> list[tuple[str, str, str]]:
    """(type, severity, message) of the open alerts, most severe first."""
    return conn.execute("select alert_type, severity, message from forecast.forecast_alerts "
                        "where status = 'open' order by array_position("
                        "array['critical','high','medium','low'], severity), dedup_key"
                        ).fetchall()


# Chart inputs of a few item-locations: the pairs are sent as two arrays.
_PAIRS = "select unnest(%(items)s::uuid[]) as item_id, unnest(%(locations)s::text[]) as loc"


def chart_history(conn, as_of: date, keys: list[tuple[str, str]]) -> pd.DataFrame:
    """The last 120 days of demand of the ``(item, location)`` pairs."""
    return copy_out(conn, f"""
        select d.item_id, d.location_id, d.demand_date, d.quantity
        from unified.demand_history d join ({_PAIRS}) k
          on k.item_id = d.item_id and k.loc = d.location_id
        where d.demand_date > %(as_of)s::date - 120 and d.demand_date <= %(as_of)s""",
                    _pairs(as_of, keys))


def chart_forecasts(conn, as_of: date, keys: list[tuple[str, str]]) -> pd.DataFrame:
    """The current forecast made as of ``as_of`` of the ``(item, location)`` pairs."""
    return copy_out(conn, f"""
        select f.item_id, f.location_id, f.target_date, f.yhat, f.yhat_lower, f.yhat_upper,
               f.model_name
        from forecast.forecasts f join ({_PAIRS}) k
          on k.item_id = f.item_id and k.loc = f.location_id
        where f.forecast_date = %(as_of)s and f.is_current""", _pairs(as_of, keys))


def _pairs(as_of: date, keys: list[tuple[str, str]]) -> dict:
    return {"items": [k[0] for k in keys], "locations": [k[1] for k in keys], "as_of": as_of}


def open_counts(conn) -> list[tuple[str, str, int]]:
    """(type, severity, open alerts) per type and severity."""
    return conn.execute("select alert_type, severity, count(*) from forecast.forecast_alerts "
                        "where status = 'open' group by 1, 2 order by 1, 2").fetchall()


def top_value_at_risk(conn, limit: int = 10) -> list[tuple]:
    """(sku, location, type, severity, value at risk) of the open alerts that put the most
    money at risk (a shortage's shortfall, an excess's value, at unit cost)."""
    return conn.execute("""
        select details->>'sku', location_id, alert_type, severity,
               (details->>'value_at_risk')::float8 as value
        from forecast.forecast_alerts
        where status = 'open' and details->>'value_at_risk' is not null
        order by value desc, dedup_key limit %s""", (limit,)).fetchall()


def save_budget(conn, as_of: date, item_locations: int, open_alerts: int,
                by_type: dict, events: dict, run_id: str) -> None:
    """The night's open-alert rate, one row per as-of day (a re-run replaces it)."""
    rate = 1000.0 * open_alerts / item_locations if item_locations else 0.0
    conn.execute("""
        insert into forecast.alert_budget (as_of, item_locations, open_alerts, open_per_1000,
                                           by_type, events, run_id)
        values (%s, %s, %s, %s, %s, %s, %s)
        on conflict (as_of) do update set item_locations = excluded.item_locations,
            open_alerts = excluded.open_alerts, open_per_1000 = excluded.open_per_1000,
            by_type = excluded.by_type, events = excluded.events, run_id = excluded.run_id,
            created_at = now()""",
                 (as_of, item_locations, open_alerts, rate, json.dumps(by_type),
                  json.dumps(events), run_id))


def latest_budgets(conn) -> list[tuple[date, float]]:
    """(as-of day, open alerts per 1,000 item-locations) of the newest night and the one
    before it, newest first."""
    return conn.execute("select as_of, open_per_1000 from forecast.alert_budget "
                        "order by as_of desc limit 2").fetchall()


def demo_counts(conn) -> dict[str, int]:
    """The alerts stage's line of `forgecast demo`'s summary."""
    count = conn.execute(
        "select count(*) from forecast.forecast_alerts where status = 'open'").fetchone()[0]
    return {"open alerts": count}
