"""Pruning Dagster's run and event history, which otherwise grows without bound (a known
operational problem of a Dagster instance). Runs finished more than N days ago are
deleted with their events through the instance's own API, except the runs that hold the
latest materialization of an asset partition: what the UI shows as an asset's current
state (its metadata, its lineage) stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg

# The runs holding the newest materialization of each asset partition (None partition
# included), read from the event log storage's table in one pass.
LATEST_MATERIALIZATION_RUNS_SQL = """
select distinct run_id from (
    select distinct on (asset_key, coalesce(partition, '')) run_id
    from event_logs
    where dagster_event_type = 'ASSET_MATERIALIZATION'
    order by asset_key, coalesce(partition, ''), id desc
) latest
"""

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED]


def prune_run_history(instance: dg.DagsterInstance, storage: psycopg.Connection,
                      older_than_days: int) -> tuple[int, int]:
    """(runs deleted, runs kept because they hold an asset partition's latest
    materialization). ``storage``: a connection to the instance's PostgreSQL storage."""
    keep = {row[0] for row in storage.execute(LATEST_MATERIALIZATION_RUNS_SQL).fetchall()}
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    old = instance.get_run_records(filters=dg.RunsFilter(statuses=FINISHED, updated_before=cutoff))
    deleted = kept = 0
    for record in old:
        if record.dagster_run.run_id in keep:
            kept += 1
            continue
        instance.delete_run(record.dagster_run.run_id)
        deleted += 1
    return deleted, kept
