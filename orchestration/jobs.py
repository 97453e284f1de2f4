"""Jobs, and the run policy every job shares (one place for retries)."""

import dagster as dg

from orchestration.partitions import daily_partitions

# Steps talk to PostgreSQL and to apprise endpoints: a dropped connection or a restarted
# server deserves another try before the run fails.
STEP_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

# Ingest runs per landing file (its sensor) and notifications run when alerts change
# (their sensor); the nightly job is everything in between, for one day.
NIGHTLY_SELECTION = dg.AssetSelection.groups("staging", "unified", "forecast")

nightly_job = dg.define_asset_job(
    "nightly",
    selection=NIGHTLY_SELECTION,
    partitions_def=daily_partitions,
    description="For the day just closed: rebuild the unified schema with dbt (that day's "
    "window), forecast every item x location, project inventory and raise alerts.",
    op_retry_policy=STEP_RETRY_POLICY,
)
