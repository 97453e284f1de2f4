"""Alerts asset (group ``alerts``): evaluate the inventory rules per item x location and
keep one row per dedup key (type + item + location) with its lifecycle (open / resolved,
first and last seen, last event) and its events (forecast.alert_events), a PNG chart per
raised, escalated or reopened alert (``chart_path``) that notifications attach, and the
night's alert budget (rates per 1,000 item-locations, value at risk) with a check that
warns when the rate jumps.

The rules are in rules.py, the lifecycle in lifecycle.py, the budget in budget.py, the
drawing in charts.py, the SQL in store.py."""


import time
from collections import Counter
from datetime import timedelta

import dagster as dg

from assets.alerts import budget, store
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
    description="Inventory alerts: one shortage per item-location, from below safety stock "
    "(medium; high under half of it) to a stockout inside the lead time on firm supply "
    "(critical; stockout date, order-by date, shortfall, the parent orders consuming a "
    "component); one step less severe when planned orders would cover it. Excess cover "
    "worth at least a value floor, open orders late past their due date, a demand change "
    "worth a look (tracking signal of the lag-1 forecast errors above a value floor), "
    "forecast accuracy worse than the seasonal naive; a stockout inhibits the same "
    "item-location's anomaly and excess. One row per type + item + location with a PNG "
    "chart; every raise, escalation, de-escalation, resolution and reopening kept in "
    "alert_events; the night's alert budget in the metadata.",
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
        reopenable = store.resolved_keys(conn, [a.dedup_key for a in current
                                                if a.dedup_key not in stored])
        changes = diff_alerts({key: v[0] for key, v in stored.items()}, current, reopenable)
        evaluated = time.monotonic()
        context.log.info(f"{len(items)} item-locations evaluated in {evaluated - started:.1f}s: "
                         f"{len(changes)} alert events")
        store.save_changes(conn, changes, run_id, as_of)
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
        counts = budget.by_type(store.open_counts(conn))
        events = dict(Counter(c.event for c in changes))
        store.save_budget(conn, as_of, len(items), len(open_now), counts, events, run_id)
        top = store.top_value_at_risk(conn)
    preview = "\n".join(f"- **{s}** {t}: {m}" for t, s, m in open_now[:15]) or "_none_"
    return dg.MaterializeResult(metadata={
        "forecast_date": as_of.isoformat(),
        "item_locations_evaluated": len(items),
        "open_alerts": len(open_now),
        "open_per_1000": round(budget.per_1000(len(open_now), len(items)), 2),
        "alerts_by_type": {t: sum(v.values()) for t, v in counts.items()},
        "open_per_1000_by_type_and_severity": dg.MetadataValue.md(
            budget.rate_table(counts, len(items))),
        "events": events,
        # New tonight vs carried over from an earlier night (whatever its severity did).
        "alerts_new_tonight": events.get("raised", 0) + events.get("reopened", 0),
        "alerts_carried_over": sum(events.get(e, 0) for e in
                                   ("unchanged", "escalated", "de-escalated")),
        "top_value_at_risk": dg.MetadataValue.md(budget.value_at_risk_table(top)),
        "dagster/row_count": len(open_now),
        "open_alerts_preview": dg.MetadataValue.md(preview),
        "charts": len(charts),
        "charts_kept": len(open_now) - len(charts),
    })


@dg.asset_check(asset=FORECAST_ALERTS, blocking=False,
                description="The open alerts per 1,000 item-locations did not grow more than "
                "alert_rate_jump_factor times since the night before (a rule or data change "
                "flooding planners); passes on the first night.")
def alert_rate_jump(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    factor = warehouse.settings.alert_rate_jump_factor
    with warehouse.connection() as conn:
        nights = store.latest_budgets(conn)
    current = nights[0][1] if nights else 0.0
    previous = nights[1][1] if len(nights) > 1 else None
    passed, ratio = budget.rate_jump(previous, current, factor)
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN,
        metadata={"open_per_1000": round(current, 2),
                  "previous_open_per_1000": None if previous is None else round(previous, 2),
                  "ratio": ratio, "factor": factor,
                  "as_of": nights[0][0].isoformat() if nights else None},
        description=None if passed else
        f"open alerts per 1,000 item-locations rose {ratio}x night over night "
        f"({previous:.1f} -> {current:.1f}; warn above {factor}x)")


def alert_policy(settings: Settings) -> AlertPolicy:
    anomaly = AnomalyPolicy(rule=settings.alert_anomaly_rule,
                            ts_limit=settings.alert_anomaly_ts_limit,
                            ts_window=settings.alert_anomaly_window_days,
                            m=settings.alert_anomaly_m, n=settings.alert_anomaly_n,
                            ls_limit=settings.alert_anomaly_ls_limit,
                            ls_window=settings.alert_anomaly_ls_window_days,
                            ls_reference=settings.alert_anomaly_ls_reference_days,
                            ls_cap=settings.alert_anomaly_ls_cap,
                            min_history_days=settings.alert_anomaly_min_history_days,
                            hold_days=settings.alert_anomaly_hold_days,
                            value_floor=settings.alert_anomaly_value_floor)
    return AlertPolicy(excess_cover_days=settings.alert_excess_cover_days,
                       excess_min_value=settings.alert_excess_min_value,
                       degraded_ratio=settings.alert_degraded_ratio,
                       late_supply_days=settings.alert_late_supply_days, anomaly=anomaly)


def anomaly_lookback(policy: AlertPolicy) -> int:
    """Days of history the anomaly rule reads: its longest window, the scale (or the
    reference) before it, the history level_shift asks of an item-location, and the days
    it holds a verdict."""
    a = policy.anomaly
    forecast_rules = max(a.ts_max_window, a.cusum_days, a.n) + a.mad_days
    level_shift = max(a.ls_window + a.ls_reference, a.min_history_days)
    return max(forecast_rules, level_shift) + a.hold_days


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
ASSET_CHECKS = [alert_rate_jump]
