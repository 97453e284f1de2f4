"""The platform's own quality gates, beside dbt's tests: forecast coverage and alert
sanity. Both are blocking: a failure stops what comes after in the same run and says why.
Freshness is a policy on the assets (orchestration/jobs.py)."""

import dagster as dg

from assets.alerts.assets import FORECAST_ALERTS
from assets.forecast.assets import FORECASTS
from resources.warehouse import WarehouseResource

MIN_FORECAST_COVERAGE = 0.95

# Item-locations that sold something in the last 90 days of data but got no forecast
# as of the newest forecast date.
UNCOVERED_SQL = """
with as_of as (select max(forecast_date) as day from forecast.forecasts),
active as (
    select distinct d.item_id, d.location_id
    from unified.demand_history d
    join unified.manufacturing_items i on i.item_id::text = d.item_id::text
    cross join as_of
    where i.status = 'active' and d.quantity > 0
      and d.demand_date > as_of.day - 90 and d.demand_date <= as_of.day
)
select count(*) filter (where f.item_id is null), count(*)
from active a
cross join as_of
left join (select distinct item_id, location_id from forecast.forecasts
           where forecast_date = (select day from as_of)) f
  on f.item_id = a.item_id::text and f.location_id = a.location_id
"""


@dg.asset_check(asset=FORECASTS, blocking=True,
                description="At least 95% of the active item-locations with recent demand "
                "have a forecast as of the newest day (blocks projection and alerts).")
def forecast_coverage(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        uncovered, active = conn.execute(UNCOVERED_SQL).fetchone()
    coverage = 1.0 if not active else 1 - uncovered / active
    return dg.AssetCheckResult(
        passed=coverage >= MIN_FORECAST_COVERAGE,
        metadata={"coverage": round(coverage, 4), "active_item_locations": active,
                  "without_forecast": uncovered},
        description=None if coverage >= MIN_FORECAST_COVERAGE else
        f"only {coverage:.1%} of active item-locations have a forecast",
    )


ALERT_SANITY_SQL = """
select
  count(*) filter (where a.status = 'open' and i.item_id is null) as unknown_items,
  count(*) filter (where a.status = 'open' and i.status = 'discontinued'
                   and a.alert_type in ('stockout', 'below_safety_stock')) as discontinued,
  count(*) filter (where a.alert_type = 'stockout' and a.status = 'open'
                   and (a.details->>'order_by_date')::date > (a.details->>'stockout_date')::date)
    as order_after_stockout
from forecast.forecast_alerts a
left join unified.manufacturing_items i on i.item_id::text = a.item_id
"""


@dg.asset_check(asset=FORECAST_ALERTS, blocking=True,
                description="Open alerts name known, active items, and a stockout's order-by "
                "date is never after its stockout date.")
def alert_sanity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        unknown, discontinued, order_after = conn.execute(ALERT_SANITY_SQL).fetchone()
    problems = {"open_alerts_for_unknown_items": unknown,
                "replenishment_alerts_for_discontinued_items": discontinued,
                "order_by_after_stockout": order_after}
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)


ASSETS: list = []
ASSET_CHECKS = [forecast_coverage, alert_sanity]
