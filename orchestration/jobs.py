"""Every job of the code location, and the policies every run shares (one place for
retries and freshness).

- ``nightly``: the day just closed, dbt -> forecasts -> projected inventory -> alerts.
- ``unified_models`` / ``forecast_and_alerts``: the two halves of ``nightly``, for
  backfills (dbt once over a range, then forecasts and alerts day by day).
- ``forecast_model_selection``: the weekly rolling-origin backtest.
- ``ingest_file``: one landing-zone file (launched by the landing-zone sensor).
- ``notify``: route and deliver alert events (launched by the notification sensors).
"""

import warnings
from datetime import timedelta

import dagster as dg

from assets.forecast.assets import MODEL_SELECTION
from assets.ingest.assets import ingest_landing_file
from assets.notify.assets import NOTIFICATIONS, NOTIFY_OP_NAME
from assets.unified.dbt_models import SOURCE_TEST_CHECKS

# Steps talk to PostgreSQL and to apprise endpoints: a dropped connection or a restarted
# server deserves another try before the run fails.
STEP_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


def nightly_freshness(timezone: str) -> dg.FreshnessPolicy:
    """The nightly run starts at 02:00: the unified, forecast and alert assets are stale
    when a day has passed without a materialization by 06:00 (in the settings' zone)."""
    return dg.FreshnessPolicy.cron(deadline_cron="0 6 * * *",
                                   lower_bound_delta=timedelta(hours=24), timezone=timezone)


# The weekly selection lives in the forecast group but is neither nightly nor due daily.
WEEKLY = dg.AssetSelection.assets(MODEL_SELECTION)
FRESH_SELECTION = dg.AssetSelection.groups("unified", "forecast", "alerts") - WEEKLY
FORECAST_SELECTION = dg.AssetSelection.groups("forecast", "alerts") - WEEKLY
# Ingest runs per landing file (its sensor) and notifications run when alerts change
# (their sensor); the nightly job is everything in between, for one day.
UNIFIED_SELECTION = dg.AssetSelection.groups("unified") | SOURCE_TEST_CHECKS
NIGHTLY_SELECTION = UNIFIED_SELECTION | FORECAST_SELECTION

# dbt's assets backfill many days in one run, the forecast's one day per run: Dagster warns
# that the nightly job mixes the two and takes one day per run, which is what a nightly job
# is. Ranges go through the two halves below, each with its own policy.
warnings.filterwarnings(
    "ignore", message="Asset job nightly materializes assets with varying BackfillPolicies")

nightly_job = dg.define_asset_job(
    "nightly",
    selection=NIGHTLY_SELECTION,
    description="For the day just closed: rebuild the unified schema with dbt (that day's "
    "window), forecast every item x location, project inventory and raise alerts.",
    op_retry_policy=STEP_RETRY_POLICY,
)

unified_job = dg.define_asset_job(
    "unified_models", selection=UNIFIED_SELECTION,
    op_retry_policy=STEP_RETRY_POLICY,
    description="dbt build of the staging and unified models for a day or a range of days.")

forecast_job = dg.define_asset_job(
    "forecast_and_alerts", selection=FORECAST_SELECTION,
    op_retry_policy=STEP_RETRY_POLICY,
    description="Forecast, projected inventory and alerts as of one day.")

model_selection_job = dg.define_asset_job(
    "forecast_model_selection",
    selection=WEEKLY,
    description="Rolling-origin backtest of every candidate model per item x location; the "
    "best on WAPE serves the item until the next selection.",
    op_retry_policy=STEP_RETRY_POLICY,
)

ingest_file_job = dg.define_asset_job(
    "ingest_file",
    # Without checks: dbt's source tests are checks of the raw tables, run by the dbt step
    # of the nightly build, not by loading a file.
    selection=dg.AssetSelection.assets(ingest_landing_file).without_checks(),
    description="Validate and load one landing-zone file (the partition: its sha256) as a "
    "batch into its raw table.",
)

NOTIFY_JOB_NAME = "notify"
notify_job = dg.define_asset_job(
    NOTIFY_JOB_NAME,
    selection=dg.AssetSelection.assets(NOTIFICATIONS),
    description="Route alert events to recipients' channels and deliver them through apprise "
    "(or, with plan=false, only what is due: retries, quiet-hour holds, digests).",
    op_retry_policy=STEP_RETRY_POLICY,
)


def notify_run_config(plan: bool) -> dict:
    return {"ops": {NOTIFY_OP_NAME: {"config": {"plan": plan}}}}


JOBS = [nightly_job, unified_job, forecast_job, model_selection_job, ingest_file_job,
        notify_job]
