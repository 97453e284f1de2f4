"""The Forgecast code location. It only assembles: each stage's assets and checks,
jobs (with their retry policy), schedules, sensors and resources come from their own
modules."""

import warnings

import dagster as dg

from assets.alerts import assets as alerts
from assets.forecast import assets as forecast
from assets.ingest import assets as ingest
from assets.notify import assets as notify
from assets.quality import checks as quality
from assets.unified import dbt_models as unified
from orchestration.forecast_schedules import JOBS as SELECTION_JOBS
from orchestration.forecast_schedules import SCHEDULES as SELECTION_SCHEDULES
from orchestration.jobs import (
    FRESH_SELECTION,
    NIGHTLY_FRESHNESS,
    forecast_job,
    nightly_job,
    unified_job,
)
from orchestration.schedules import nightly_schedule
from orchestration.sensors import JOBS as SENSOR_JOBS
from orchestration.sensors import SENSORS
from resources.warehouse import WarehouseResource, dbt_resource

STAGES = (ingest, unified, forecast, alerts, notify, quality)

_assembled = dg.Definitions(
    assets=[asset for stage in STAGES for asset in stage.ASSETS],
    asset_checks=[check for stage in STAGES for check in stage.ASSET_CHECKS],
    jobs=[nightly_job, unified_job, forecast_job, *SELECTION_JOBS, *SENSOR_JOBS],
    schedules=[nightly_schedule(), *SELECTION_SCHEDULES],
    sensors=SENSORS,
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
)

# Freshness is policy, applied here once rather than asset by asset.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)  # map_resolved_asset_specs is preview
    defs = _assembled.map_resolved_asset_specs(
        func=lambda spec: dg.apply_freshness_policy(spec, NIGHTLY_FRESHNESS),
        selection=FRESH_SELECTION,
    )
del _assembled  # `dagster dev` accepts exactly one Definitions object at module scope
