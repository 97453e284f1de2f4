"""`forgecast maintenance` and the weekly maintenance job: drop the raw data nothing reads
any more and prune Dagster's run history (assets/ingest/retention.py,
resources/dagster_history.py), so neither grows for ever."""

import dagster as dg

from resources.settings import Settings
from resources.warehouse import WarehouseResource


def run_maintenance(settings: Settings, instance: dg.DagsterInstance) -> list[tuple[str, int]]:
    """What was dropped, as (what, count) rows."""
    from assets.ingest.retention import purge_raw
    from resources.dagster_history import prune_run_history
    from resources.database import connect, ensure_server

    server = ensure_server(settings)
    with connect(settings, autocommit=True) as conn:
        raw = purge_raw(conn, settings.raw_retention_days)
    with connect(settings, autocommit=True, database=server.dagster_database) as storage:
        deleted, kept = prune_run_history(instance, storage, settings.run_history_days)
    return [
        (f"expired batches (ended > {settings.raw_retention_days} days ago)", raw.batches_expired),
        ("raw partitions dropped", raw.partitions_dropped),
        ("quarantined rows deleted", raw.quarantine_rows_deleted),
        (f"Dagster runs pruned (finished > {settings.run_history_days} days ago)", deleted),
        ("old runs kept (latest materialization of a partition)", kept),
    ]


@dg.op(description="Drop expired raw partitions and quarantine rows; prune old Dagster runs.")
def maintenance_op(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    rows = run_maintenance(warehouse.settings, context.instance)
    for what, count in rows:
        context.log.info(f"{what}: {count}")


@dg.job(description="Weekly: raw data retention and Dagster run-history pruning.")
def maintenance_job():
    maintenance_op()


def maintenance_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="maintenance_weekly", job=maintenance_job, cron_schedule=settings.maintenance_cron,
        execution_timezone=settings.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Weekly retention: expired raw partitions, old quarantine rows and runs.")
