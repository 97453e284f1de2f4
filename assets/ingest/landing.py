"""The landing zone: ``<landing dir>/<source>/<entity>/`` folders of export files.

Plain functions (no Dagster): the sensor lists files here, and ``forgecast demo`` ingests
the whole landing zone with ``ingest_landing_zone_files`` through the same ``ingest_file``
as the CLI and the Dagster asset.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from assets.ingest.loader import BatchResult, batch_result, ingest_file
from assets.ingest.registry import EXPORT_TYPES, ExportType
from resources.errors import DuplicateError, ServiceError
from resources.settings import Settings

log = logging.getLogger(__name__)

# Files being written (demo data writes '<name>.part' and renames) or hidden ones.
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


def landing_folder(landing_dir: Path, export: ExportType) -> Path:
    return landing_dir / export.source_system / export.entity


def landing_files(landing_dir: Path, export: ExportType) -> list[Path]:
    folder = landing_folder(landing_dir, export)
    if not folder.is_dir():
        return []
    # A symlink is never followed (a link to /etc/shadow must not be copied in): the
    # ingest refuses it, so the landing zone does not offer it.
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
                  and not p.name.lower().endswith(IGNORED_SUFFIXES))


def exports_in_load_order() -> list[ExportType]:
    """Item masters before the exports that must reference known items."""
    masters = {(e.source_system, e.known_items.entity) for e in EXPORT_TYPES if e.known_items}
    return sorted(EXPORT_TYPES, key=lambda e: (e.source_system, e.entity) not in masters)


def dependent_exports(master: ExportType) -> list[ExportType]:
    return [e for e in EXPORT_TYPES if e.known_items and e.source_system == master.source_system
            and e.known_items.entity == master.entity]


def ingest_landing_zone_files(conn: psycopg.Connection, settings: Settings) -> list[BatchResult]:
    """Ingest every new file of the landing zone (masters first). Content already
    ingested is skipped; a file rejected whole is returned with status 'rejected'."""
    results: list[BatchResult] = []
    for export in exports_in_load_order():
        for path in landing_files(settings.resolved_landing_dir, export):
            try:
                results.append(ingest_file(
                    conn, path, export.source_system, export.entity,
                    store_dir=settings.data_dir / "files",
                    bad_row_threshold=settings.bad_row_threshold))
            except DuplicateError:
                continue
            except ServiceError as exc:
                log.warning("%s rejected: %s", path.name, exc)
                batch_id = exc.details.get("batch_id")
                if batch_id is not None:
                    results.append(batch_result(conn, batch_id))
    return results
