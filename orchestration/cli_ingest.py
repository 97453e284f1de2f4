"""`forgecast ingest ...`: load export files as batches."""

from __future__ import annotations

from pathlib import Path

import click

from orchestration.tables import format_table
from resources.settings import get_settings


@click.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="Source system, e.g. sap, odoo, acct.")
@click.option("--entity", help="Entity, e.g. stock; inferred from the path when unambiguous.")
def ingest_cmd(file: Path, source: str, entity: str | None) -> None:
    """Validate and load one export file as a batch."""
    from assets.ingest.loader import ingest_file, reject_if_invalid
    from assets.ingest.registry import infer_entity
    from resources.bootstrap import ensure_ready
    from resources.database import connect

    settings = get_settings()
    entity = entity or infer_entity(source, file)
    ensure_ready(settings)
    with connect(settings, autocommit=True) as conn:
        result = ingest_file(conn, file, source, entity, store_dir=settings.data_dir / "files",
                             bad_row_threshold=settings.bad_row_threshold)
    reject_if_invalid(result)
    click.echo(format_table(
        ["batch", "source", "entity", "received", "loaded", "quarantined", "status"],
        [[result.batch_id, result.source_system, result.entity, result.rows_received,
          result.rows_loaded, result.rows_quarantined, result.status]]))
