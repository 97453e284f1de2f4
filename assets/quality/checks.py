"""The platform's own quality gates, beside dbt's tests: forecast coverage and alert
sanity. Both are blocking: a failure stops what comes after in the same run and says why.
Freshness is a policy on the assets (orchestration/jobs.py). The SQL is in store.py."""

import dagster as dg

from assets.alerts.assets import FORECAST_ALERTS
from assets.forecast.assets import FORECASTS
from assets.quality import store
from resources.warehouse import WarehouseResource

MIN_FORECAST_COVERAGE = 0.95


@dg.asset_check(asset=FORECASTS, blocking=True,
                description="At least 95% of the active item-locations with recent demand "
                "have a forecast as of the newest day (blocks projection and alerts).")
def forecast_coverage(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        uncovered, active = store.forecast_coverage(conn)
    coverage = 1.0 if not active else 1 - uncovered / active
    return dg.AssetCheckResult(
        passed=coverage >= MIN_FORECAST_COVERAGE,
        metadata={"coverage": round(coverage, 4), "active_item_locations": active,
                  "without_forecast": uncovered},
        description=None if coverage >= MIN_FORECAST_COVERAGE else
        f"only {coverage:.1%} of active item-locations have a forecast",
    )


@dg.asset_check(asset=FORECAST_ALERTS, blocking=True,
                description="Open alerts name known, active items, and a stockout's order-by "
                "date is never after its stockout date.")
def alert_sanity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        problems = store.alert_problems(conn)
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)


ASSETS: list = []
ASSET_CHECKS = [forecast_coverage, alert_sanity]
