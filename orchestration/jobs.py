"""Jobs, and the run policy every job shares (one place for retries)."""

import dagster as dg

# Steps talk to PostgreSQL and to apprise endpoints: a dropped connection or a restarted
# server deserves another try before the run fails.
STEP_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Ingest the landing zone, rebuild the unified schema with dbt, forecast, "
    "project inventory, raise alerts and deliver notifications.",
    op_retry_policy=STEP_RETRY_POLICY,
)
