"""Ingest assets: one raw table per registry export, filled from the landing zone.

A single multi-asset (subsettable) so one step scans the whole landing zone; each
selected raw table reports its own batches, row counts and a preview.
"""


from pathlib import Path

import dagster as dg
from psycopg import sql

from assets.ingest.loader import BatchResult, ingest_file
from assets.ingest.registry import EXPORT_TYPES, ExportType
from resources.errors import DuplicateError, ServiceError
from resources.warehouse import WarehouseResource

INGEST_GROUP = "ingest"


def raw_asset_key(export: ExportType) -> dg.AssetKey:
    return dg.AssetKey(["raw", export.raw_table])


def landing_files(landing_dir: Path, export: ExportType) -> list[Path]:
    folder = landing_dir / export.source_system / export.entity
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


RAW_SPECS = [
    dg.AssetSpec(
        raw_asset_key(export),
        group_name=INGEST_GROUP,
        kinds={"postgres", "python"},
        description=(
            f"{export.description}. Raw rows of {export.source_system} {export.entity} exports "
            f"(landing/{export.source_system}/{export.entity}/), every column as text, "
            f"with _batch_id and _row_number."
        ),
        metadata={"natural_key": ", ".join(export.natural_key), "format": export.format},
    )
    for export in EXPORT_TYPES
]


BATCHES_KEY = dg.AssetKey(["raw", "raw_data_batches"])
BATCHES_SPEC = dg.AssetSpec(
    BATCHES_KEY,
    group_name=INGEST_GROUP,
    kinds={"postgres"},
    description="One row per ingested file: source, entity, sha256, format, row counts "
    "(received / loaded / quarantined), status and error summary. Staging reads only the "
    "rows of batches whose status is 'loaded'.",
)


@dg.multi_asset(specs=[*RAW_SPECS, BATCHES_SPEC], can_subset=True, name="ingest_landing_zone",
                pool="warehouse")
def ingest_landing_zone(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Ingest every new file in the landing zone; already-loaded content is skipped."""
    settings = warehouse.settings
    by_key = {raw_asset_key(e): e for e in EXPORT_TYPES}
    with warehouse.connection(autocommit=True) as conn:
        for key in sorted(context.selected_asset_keys - {BATCHES_KEY}, key=lambda k: k.path):
            export = by_key[key]
            results: list[BatchResult] = []
            skipped = failed = 0
            for path in landing_files(settings.resolved_landing_dir, export):
                try:
                    results.append(ingest_file(
                        conn, path, export.source_system, export.entity,
                        store_dir=settings.data_dir / "files",
                        bad_row_threshold=settings.bad_row_threshold))
                except DuplicateError:
                    skipped += 1
                except ServiceError as exc:
                    failed += 1
                    context.log.error(f"{export.raw_table}: {exc}")
            total = conn.execute(sql.SQL("select count(*) from {}").format(
                sql.Identifier("raw", export.raw_table))).fetchone()[0]
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "batches_loaded": sum(r.status == "loaded" for r in results),
                    "batches_rejected": failed + sum(r.status == "rejected" for r in results),
                    "duplicates_skipped": skipped,
                    "rows_loaded": sum(r.rows_loaded for r in results),
                    "rows_quarantined": sum(r.rows_quarantined for r in results),
                    "dagster/row_count": total,
                    "batches": dg.MetadataValue.md(_batches_markdown(results)),
                },
            )
        if BATCHES_KEY in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=BATCHES_KEY, metadata=_batch_status_metadata(conn))


def _batch_status_metadata(conn) -> dict:
    counts = dict(conn.execute("select status, count(*) from raw.raw_data_batches group by status"
                               ).fetchall())
    return {"batches_by_status": counts, "dagster/row_count": sum(counts.values())}


def _batches_markdown(results: list[BatchResult]) -> str:
    if not results:
        return "_no new files_"
    lines = ["| batch | file | status | received | loaded | quarantined |",
             "|---:|---|---|---:|---:|---:|"]
    lines += [f"| {r.batch_id} | {r.file_name} | {r.status} | {r.rows_received} | "
              f"{r.rows_loaded} | {r.rows_quarantined} |" for r in results[:20]]
    return "\n".join(lines)


ASSETS = [ingest_landing_zone]
ASSET_CHECKS: list = []
