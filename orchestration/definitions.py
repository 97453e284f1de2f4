"""The Forgecast code location. It only assembles: each stage's assets and checks, the
jobs (with their retry policy), schedules, sensors and resources come from their own
modules; freshness is applied here once. Settings are read when the definitions load
(schedules' cron and time zone, a sensor's interval); everything a run decides (shard
count, horizons, thresholds) is read when the run starts."""

import warnings

import dagster as dg

from assets.alerts import assets as alerts
from assets.forecast import assets as forecast
from assets.ingest import assets as ingest
from assets.notify import assets as notify
from assets.quality import checks as quality
from assets.unified import dbt_models as unified
from orchestration.jobs import FRESH_SELECTION, JOBS, nightly_freshness
from orchestration.schedules import build_schedules
from orchestration.sensors import build_sensors
from resources.private import private_umask
from resources.settings import get_settings
from resources.warehouse import WarehouseResource, dbt_resource

STAGES = (ingest, unified, forecast, alerts, notify, quality)


def build_definitions() -> dg.Definitions:
    # Code servers and run workers load this module: what their assets write (kept files,
    # charts, logs) is private to the user, as from the CLI.
    private_umask()
    settings = get_settings()
    assembled = dg.Definitions(
        assets=[asset for stage in STAGES for asset in stage.ASSETS],
        asset_checks=[check for stage in STAGES for check in stage.ASSET_CHECKS],
        jobs=JOBS,
        schedules=build_schedules(settings),
        sensors=build_sensors(settings),
        resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
    )
    # Freshness is policy, applied here once rather than asset by asset.
    freshness = nightly_freshness(settings.timezone)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # map_resolved_asset_specs is preview
        return assembled.map_resolved_asset_specs(
            func=lambda spec: dg.apply_freshness_policy(spec, freshness),
            selection=FRESH_SELECTION)


# `dagster dev` accepts exactly one Definitions object at module scope.
defs = build_definitions()
