"""Jobs, and the policies every run shares (one place for retries and freshness)."""

import warnings
from datetime import timedelta

import dagster as dg

from resources.settings import get_settings

# Steps talk to PostgreSQL and to apprise endpoints: a dropped connection or a restarted
# server deserves another try before the run fails.
STEP_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

# The nightly run starts at 02:00: the unified, forecast and alert assets are stale when a
# day has passed without a materialization by 06:00.
NIGHTLY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24),
    timezone=get_settings().timezone)
FRESH_SELECTION = dg.AssetSelection.groups("unified", "forecast")

# Ingest runs per landing file (its sensor) and notifications run when alerts change
# (their sensor); the nightly job is everything in between, for one day.
NIGHTLY_SELECTION = dg.AssetSelection.groups("unified", "forecast")

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

# The two halves of the nightly job, for backfills: dbt once over the whole range, then
# forecasts and alerts day by day (each day is forecast as of that day).
unified_job = dg.define_asset_job(
    "unified_models", selection=dg.AssetSelection.groups("unified"),
    op_retry_policy=STEP_RETRY_POLICY,
    description="dbt build of the staging and unified models for a day or a range of days.")
forecast_job = dg.define_asset_job(
    "forecast_and_alerts", selection=dg.AssetSelection.groups("forecast"),
    op_retry_policy=STEP_RETRY_POLICY,
    description="Forecast, projected inventory and alerts as of one day.")
