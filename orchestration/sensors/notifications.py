"""Sensors of the notifications: they launch the ``notify`` job.

- ``notify_on_alerts``: after materializations of the alerts asset (any partition, a
  backfill included). Its cursor is the storage id of the last materialization handled:
  every tick reads all newer ones in order (none missed), coalesces them into one run
  (one notification pass covers them all: it reads the alerts' current state) and moves
  the cursor past them (none processed twice). The run key ``alerts-<storage id>`` makes
  a repeated request a no-op for Dagster too, and the run is tagged with the cursor, so a
  fresh sensor (no cursor yet, e.g. after ``forgecast demo`` ran it in process) resumes
  where the last run left off.
- ``notify_due_deliveries``: every ``notify_due_interval_seconds``, when retries,
  quiet-hour holds or daily digests are due (or a lost worker's claim expired), and no
  notify run is already in progress: a send-only run.

Even if both fire at once, nothing is sent twice: the database decides (store.py).
"""

from __future__ import annotations

import dagster as dg

from assets.alerts.assets import FORECAST_ALERTS
from assets.notify.store import due_counts
from orchestration.jobs import NOTIFY_JOB_NAME, notify_job, notify_run_config
from resources.settings import Settings
from resources.warehouse import WarehouseResource

TRIGGER_TAG = "forgecast/notify_trigger"
CURSOR_TAG = "forgecast/alerts_cursor"
PAGE = 1000
IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
               dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def cursor_from_runs(instance: dg.DagsterInstance) -> int | None:
    """The newest alerts storage id a notify run was launched for (from run tags)."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=NOTIFY_JOB_NAME,
                                                   tags={TRIGGER_TAG: "alerts"}), limit=25)
    handled = [int(r.tags[CURSOR_TAG]) for r in runs if r.tags.get(CURSOR_TAG, "").isdigit()]
    return max(handled) if handled else None


def _partitions_summary(keys: list[str]) -> str:
    if not keys:
        return "unpartitioned"
    if len(keys) <= 3:
        return ",".join(keys)
    return f"{keys[0]}..{keys[-1]} ({len(keys)})"


@dg.sensor(
    name="notify_on_alerts",
    job=notify_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches the notify job after the alerts asset materializes (any partition); "
    "the cursor is the last materialization's storage id.",
)
def notify_on_alerts(context: dg.SensorEvaluationContext):
    after = int(context.cursor) if context.cursor else cursor_from_runs(context.instance)
    records = []
    while True:
        page = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=FORECAST_ALERTS, after_storage_id=after),
            limit=PAGE, ascending=True)
        records += page.records
        if not page.records or not page.has_more:
            break
        after = page.records[-1].storage_id
    if not records:
        return dg.SkipReason("no new materialization of alerts/forecast_alerts")
    last = records[-1].storage_id
    partitions = sorted({r.partition_key for r in records if r.partition_key})
    context.update_cursor(str(last))
    return dg.RunRequest(
        run_key=f"alerts-{last}",
        run_config=notify_run_config(plan=True),
        tags={TRIGGER_TAG: "alerts", CURSOR_TAG: str(last),
              "forgecast/alerts_materializations": str(len(records)),
              "forgecast/alerts_partitions": _partitions_summary(partitions)},
    )


def due_deliveries_sensor(settings: Settings) -> dg.SensorDefinition:
    """``notify_due_deliveries``, ticking at the settings' interval (read when the
    definitions load)."""

    @dg.sensor(
        name="notify_due_deliveries",
        job=notify_job,
        minimum_interval_seconds=settings.notify_due_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Launches a send-only notify run when retries, quiet-hour holds or daily "
        "digests are due, unless a notify run is already in progress.",
    )
    def notify_due_deliveries(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        with warehouse.connection(autocommit=True) as conn:
            counts = due_counts(conn, warehouse.settings)
        if not any(counts.values()):
            return dg.SkipReason("no delivery, digest or expired claim is due")
        active = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=NOTIFY_JOB_NAME, statuses=IN_PROGRESS), limit=1)
        if active:
            return dg.SkipReason(f"notify run {active[0].run_id} is still in progress")
        return dg.RunRequest(
            run_config=notify_run_config(plan=False),
            tags={TRIGGER_TAG: "due", **{f"forgecast/due_{k}": str(v) for k, v in counts.items()}},
        )

    return notify_due_deliveries


def run_alerts_sensor_once(definitions: dg.Definitions, instance: dg.DagsterInstance,
                           cursor: str | None = None,
                           run_config_extra: dict | None = None) -> list[dg.ExecuteInProcessResult]:
    """Evaluate ``notify_on_alerts`` once, as the daemon would, and execute the run it
    requests in this process on ``instance`` with the jobs and resources of
    ``definitions`` (the caller's: this module never imports the code location). For
    ``forgecast demo`` and tests (no daemon). The runs carry the sensor's tags, so a
    daemon started later resumes from them. ``run_config_extra`` is merged into the
    requested run config (e.g. loggers). Returns the executed runs' results (empty when
    nothing new materialized); a failed run is returned, not raised."""
    data = notify_on_alerts.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions))
    job = definitions.resolve_job_def(NOTIFY_JOB_NAME)
    return [job.execute_in_process(instance=instance,
                                   run_config={**request.run_config, **(run_config_extra or {})},
                                   tags=request.tags, raise_on_error=False)
            for request in data.run_requests or []]


def build_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    return [notify_on_alerts, due_deliveries_sensor(settings)]
