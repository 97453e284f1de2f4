"""The landing-zone sensor: one ``ingest_file`` run per new file.

Every ``minimum_interval_seconds`` the sensor lists ``<landing>/<source>/<entity>/``,
hashes files it has not seen (its cursor remembers path -> size, mtime, sha256, so a file
is hashed once), adds the sha256 as a ``landing_files`` dynamic partition and requests one
``ingest_file`` run with ``run_key`` = sha256, the file's path, source and entity in the
run config and tags. The same bytes under another name map to the same partition and
run key: the sensor reports them as a duplicate (log and an observation on
raw/raw_data_batches) and requests nothing. Content the warehouse already holds as a live
batch (ingested by `forgecast ingest` or `forgecast demo`, in process, which Dagster's
partitions do not see) is skipped the same way, logged once, with no run. Files still
being written (``.part``, or modified in the last few seconds) wait for the next tick,
and an export that must reference known items waits while a file of its item master is
new or still loading.
"""

from __future__ import annotations

import json
import time

import dagster as dg

from assets.ingest.assets import BATCHES_KEY, raw_asset_key
from assets.ingest.landing import dependent_exports, exports_in_load_order, landing_files
from assets.ingest.loader import file_sha256
from orchestration.jobs import ingest_file_job
from resources.partitions import landing_file_partitions
from resources.settings import get_settings

SETTLE_SECONDS = 2.0
EXPORT_TAG = "forgecast/export"
UNFINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
              dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]

def run_config_for(path, export) -> dict:
    return {"ops": {"ingest_landing_file": {"config": {
        "path": str(path), "source_system": export.source_system, "entity": export.entity}}}}


@dg.sensor(job=ingest_file_job, minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.RUNNING)
def landing_zone_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """One ingest run per new landing-zone file, keyed by its sha256."""
    settings = get_settings()
    landing = settings.resolved_landing_dir
    previous: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    seen: dict[str, list] = {}
    requests: list[dg.RunRequest] = []
    new_keys: list[str] = []
    observations: list[dg.AssetObservation] = []
    now = time.time()
    warehouse = _LoadedBatches(settings)
    try:
        _scan(context, landing, previous, seen, requests, new_keys, observations, now, warehouse)
    finally:
        warehouse.close()
    # Forget files that are gone; keep the ones deferred this tick unseen (retried).
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=(
            [landing_file_partitions.build_add_request(new_keys)] if new_keys else []),
        asset_events=observations,
        cursor=json.dumps(seen, sort_keys=True),
    )


class _LoadedBatches:
    """Whether the warehouse holds content as a live batch; connects only when a new file
    needs the answer (most ticks see nothing new)."""

    def __init__(self, settings) -> None:
        self.settings, self.conn = settings, None

    def loaded(self, sha256: str) -> bool:
        from assets.ingest import store
        from resources.database import connect

        if self.conn is None:
            self.conn = connect(self.settings, autocommit=True)
        return store.live_batch_with_sha(self.conn, sha256) is not None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _scan(context, landing, previous, seen, requests, new_keys, observations, now,
          warehouse: _LoadedBatches) -> None:
    blocked: set[tuple[str, str]] = set()  # exports waiting for their item master
    for export in exports_in_load_order():
        export_tag = f"{export.source_system}/{export.entity}"
        if (export.source_system, export.entity) in blocked:
            continue
        for path in landing_files(landing, export):
            stat = path.stat()
            key = str(path)
            known = previous.get(key)
            if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
                seen[key] = known
                continue
            if now - stat.st_mtime < SETTLE_SECONDS:
                continue  # still being written: next tick
            sha256 = file_sha256(path)
            seen[key] = [stat.st_size, stat.st_mtime_ns, sha256]
            rel = str(path.relative_to(landing))
            if sha256 in new_keys or context.instance.has_dynamic_partition(
                    landing_file_partitions.name, sha256) or warehouse.loaded(sha256):
                context.log.warning(f"duplicate: {rel} has the same content (sha256 "
                                    f"{sha256[:12]}…) as a file already ingested or requested; "
                                    "it is not ingested again")
                if sha256 not in new_keys:
                    observations.append(dg.AssetObservation(
                        BATCHES_KEY, partition=sha256,
                        metadata={"duplicate_file": rel, "sha256": sha256,
                                  "outcome": "duplicate: nothing loaded"}))
                continue
            new_keys.append(sha256)
            requests.append(dg.RunRequest(
                run_key=sha256, partition_key=sha256,
                asset_selection=[raw_asset_key(export), BATCHES_KEY],
                asset_check_keys=[],  # dbt's source tests run with the dbt build
                run_config=run_config_for(path, export),
                tags={"forgecast/file": rel, EXPORT_TAG: export_tag,
                      # A rejected file fails its run; retrying would reject it again.
                      "dagster/retry_on_asset_or_op_failure": "false"}))
        if _master_busy(context, export, requests):
            for dependent in dependent_exports(export):
                blocked.add((dependent.source_system, dependent.entity))


def _master_busy(context, export, requests: list[dg.RunRequest]) -> bool:
    """A file of this (item master) export was just requested or is still loading."""
    if not dependent_exports(export):
        return False
    tag = f"{export.source_system}/{export.entity}"
    if any(r.tags.get(EXPORT_TAG) == tag for r in requests):
        return True
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(tags={EXPORT_TAG: tag}, statuses=UNFINISHED), limit=1)
    return bool(runs)


SENSORS = [landing_zone_sensor]
