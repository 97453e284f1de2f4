"""Ingest assets: one raw table per registry export, one partition per landing file.

A single subsettable multi-asset partitioned by ``landing_file_partitions`` (the file's
sha256, added by the landing-zone sensor): a run ingests one file into the raw table of
its source + entity and records the batch in raw.raw_data_batches. The logic lives in
plain modules beside this one (loader, readers, validation, landing); the CLI and
``forgecast demo`` call the same ``ingest_file``.
"""


from pathlib import Path

import dagster as dg

from assets.ingest import store
from assets.ingest.display import markdown_table
from assets.ingest.landing import landing_files, landing_folder
from assets.ingest.loader import BatchResult, file_sha256, ingest_file
from assets.ingest.registry import EXPORT_TYPES, ExportType, get_export_type
from resources.errors import DuplicateError, NotFoundError, ServiceError
from resources.partitions import landing_file_partitions
from resources.warehouse import WarehouseResource

INGEST_GROUP = "ingest"
PREVIEW_ROWS = 5


def raw_asset_key(export: ExportType) -> dg.AssetKey:
    """``ingest/<raw table>``: dbt's sources map to the same keys."""
    return dg.AssetKey([INGEST_GROUP, export.raw_table])


RAW_SPECS = [
    dg.AssetSpec(
        raw_asset_key(export),
        group_name=INGEST_GROUP,
        kinds={"postgres", "python"},
        skippable=True,
        description=(
            f"{export.description}. Raw rows of {export.source_system} {export.entity} exports "
            f"(landing/{export.source_system}/{export.entity}/), every column as text, "
            f"with _batch_id and _row_number; one partition per ingested file (its sha256)."
        ),
        metadata={"natural_key": ", ".join(export.natural_key), "format": export.format},
    )
    for export in EXPORT_TYPES
]

BATCHES_KEY = dg.AssetKey([INGEST_GROUP, "raw_data_batches"])
BATCHES_SPEC = dg.AssetSpec(
    BATCHES_KEY,
    group_name=INGEST_GROUP,
    kinds={"postgres"},
    skippable=True,
    description="One row per ingested file: source, entity, sha256, format, row counts "
    "(received / loaded / quarantined), status and error summary. Staging reads only the "
    "rows of batches whose status is 'loaded'.",
)


class IngestFileConfig(dg.Config):
    """Which file a run ingests (the sensor fills it in; the partition key is its sha256)."""

    path: str = ""
    source_system: str = ""
    entity: str = ""


@dg.multi_asset(specs=[*RAW_SPECS, BATCHES_SPEC], can_subset=True, name="ingest_landing_file",
                partitions_def=landing_file_partitions, pool="warehouse")
def ingest_landing_file(context: dg.AssetExecutionContext, config: IngestFileConfig,
                        warehouse: WarehouseResource):
    """Validate and load one landing-zone file (the run's partition) as a batch."""
    settings = warehouse.settings
    sha256 = context.partition_key
    export, path = _resolve_file(context, config, settings.resolved_landing_dir, sha256)
    with warehouse.connection(autocommit=True) as conn:
        try:
            result = ingest_file(
                conn, path, export.source_system, export.entity,
                store_dir=settings.data_dir / "files",
                bad_row_threshold=settings.bad_row_threshold,
                on_progress=_progress_logger(context))
        except DuplicateError as exc:
            context.log.warning(f"duplicate: {exc.message}")
            if BATCHES_KEY in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=BATCHES_KEY, metadata={
                    "file": path.name, "duplicate_of_batch": exc.details.get("batch_id"),
                    "outcome": "duplicate: nothing loaded", **_batch_status_metadata(conn)})
            return
        except ServiceError as exc:
            if BATCHES_KEY in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=BATCHES_KEY, metadata={
                    "file": path.name, "batch_id": exc.details.get("batch_id"),
                    "outcome": f"rejected: {exc}", **_batch_status_metadata(conn)})
            raise dg.Failure(description=str(exc), metadata={"code": exc.code,
                             "batch_id": exc.details.get("batch_id"), "file": path.name},
                             allow_retries=False) from exc
        key = raw_asset_key(export)
        if key in context.selected_asset_keys and result.status == "loaded":
            yield dg.MaterializeResult(asset_key=key, metadata=batch_metadata(conn, export, result))
        if BATCHES_KEY in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=BATCHES_KEY, metadata={
                "file": path.name, "batch_id": result.batch_id, "outcome": result.status,
                **_batch_status_metadata(conn)})
    if result.status == "rejected":
        raise dg.Failure(description=result.error_summary or "batch rejected",
                         metadata={"batch_id": result.batch_id, "file": path.name},
                         allow_retries=False)


def _progress_logger(context):
    step = [1_000_000]

    def report(rows: int) -> None:
        if rows >= step[0]:
            context.log.info(f"{rows:,} rows read")
            step[0] += 1_000_000

    return report


def _resolve_file(context, config: IngestFileConfig, landing_dir: Path,
                  sha256: str) -> tuple[ExportType, Path]:
    """The run's file: from its config, else the landing-zone file with that sha256."""
    if config.path:
        export = get_export_type(config.source_system, config.entity)
        if export is None:
            raise NotFoundError(f"no export type for '{config.source_system}/{config.entity}'")
        return export, Path(config.path)
    for export in EXPORT_TYPES:
        for path in landing_files(landing_dir, export):
            if file_sha256(path) == sha256:
                return export, path
    raise NotFoundError(f"no landing-zone file with sha256 {sha256} (under {landing_dir})",
                        details={"sha256": sha256})


def batch_metadata(conn, export: ExportType, result: BatchResult) -> dict:
    """Counts and a markdown preview of the loaded rows and the quarantine."""
    rows = store.preview_rows(conn, export, result.batch_id, PREVIEW_ROWS)
    bad = store.quarantined_rows(conn, result.batch_id, PREVIEW_ROWS)
    preview = markdown_table(["row", *[c.name for c in export.columns]], [list(r) for r in rows])
    if bad:
        preview += "\n\n**quarantined (first rows)**\n\n" + markdown_table(
            ["row", "column", "raw value", "reason"], [list(r) for r in bad])
    return {
        "batch_id": result.batch_id,
        "file": result.file_name,
        "status": result.status,
        "rows_received": result.rows_received,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "dagster/row_count": result.rows_loaded,
        "preview": dg.MetadataValue.md(preview),
        **({"error_summary": result.error_summary} if result.error_summary else {}),
    }


def _batch_status_metadata(conn) -> dict:
    return {"batches_by_status": dg.MetadataValue.json(store.batches_by_status(conn))}


ASSETS = [ingest_landing_file]
ASSET_CHECKS: list = []

__all__ = ["ASSETS", "ASSET_CHECKS", "BATCHES_KEY", "INGEST_GROUP", "ingest_landing_file",
           "landing_files", "landing_folder", "raw_asset_key"]
