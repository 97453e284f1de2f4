"""The Forgecast code location. It only assembles: assets, jobs (with their retry
policy), schedules and resources each come from their own module."""

import dagster as dg

from assets.alerts.assets import forecast_alerts
from assets.forecast.assets import forecasts, projected_inventory
from assets.ingest.assets import ingest_landing_zone
from assets.notify.assets import notifications
from assets.unified.dbt_models import forgecast_dbt_models
from orchestration.jobs import nightly_job
from orchestration.schedules import nightly_schedule
from resources.warehouse import WarehouseResource, dbt_resource

ALL_ASSETS = [
    ingest_landing_zone,
    forgecast_dbt_models,
    forecasts,
    projected_inventory,
    forecast_alerts,
    notifications,
]

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[nightly_job],
    schedules=[nightly_schedule()],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
)
