"""`forgecast ingest ...`: load export files as batches, replay them, read their status.

    forgecast ingest FILE --source S [--entity E] [--encoding ENC --delimiter D --quote Q --sheet NAME]
    forgecast ingest replay BATCH_ID
    forgecast ingest status [--last N] [--status S]
    forgecast ingest errors BATCH_ID [--limit N]

``forgecast ingest FILE ...`` is short for ``forgecast ingest file FILE ...``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from orchestration.tables import format_table
from resources.settings import get_settings

STATUSES = ("received", "validating", "loaded", "rejected", "superseded", "failed")


class IngestGroup(click.Group):
    """A group whose first argument may be a file: ``ingest FILE`` = ``ingest file FILE``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            first = args[0]
            if Path(first).exists() or "/" in first or "." in first:
                args = ["file", *args]
        return super().parse_args(ctx, args)


@click.group("ingest", cls=IngestGroup, invoke_without_command=False)
def ingest_cmd() -> None:
    """Validate and load export files; replay batches; show status and quarantined rows."""


def _connection():
    from orchestration.platform import prepare
    from resources.database import connect

    settings = get_settings()
    prepare(settings)
    return settings, connect(settings, autocommit=True)


def _result_table(result) -> str:
    return format_table(
        ["batch", "source", "entity", "file", "received", "loaded", "quarantined", "status"],
        [[result.batch_id, result.source_system, result.entity, result.file_name,
          result.rows_received, result.rows_loaded, result.rows_quarantined, result.status]])


@ingest_cmd.command("file")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="Source system, e.g. sap, odoo, acct.")
@click.option("--entity", help="Entity, e.g. stock; inferred from the path when unambiguous.")
@click.option("--encoding", help="Override the detected encoding (utf-8, utf-16, cp1252, latin-1...).")
@click.option("--delimiter", help="Override the detected CSV delimiter (use $'\\t' for tab).")
@click.option("--quote", help="Override the CSV quote character (default \").")
@click.option("--sheet", help="XLSX: the sheet to read (default: the first).")
def ingest_file_cmd(file: Path, source: str, entity: str | None, encoding: str | None,
                    delimiter: str | None, quote: str | None, sheet: str | None) -> None:
    """Validate and load one export file as a batch."""
    from assets.ingest.loader import ingest_file, reject_if_invalid
    from assets.ingest.readers import ReadOptions
    from assets.ingest.registry import infer_entity

    entity = entity or infer_entity(source, file)
    if delimiter == "\\t":
        delimiter = "\t"
    settings, conn = _connection()
    with conn:
        result = ingest_file(conn, file, source, entity, store_dir=settings.data_dir / "files",
                             bad_row_threshold=settings.bad_row_threshold,
                             options=ReadOptions(encoding, delimiter, quote, sheet))
    click.echo(_result_table(result))
    for note in result.notes:
        click.echo(f"note: {note}")
    reject_if_invalid(result)


@ingest_cmd.command("replay")
@click.argument("batch_id", type=int)
def replay_cmd(batch_id: int) -> None:
    """Re-validate and reload a stored batch; the old batch becomes superseded."""
    from assets.ingest.loader import reject_if_invalid, replay_batch

    settings, conn = _connection()
    with conn:
        result = replay_batch(conn, batch_id, bad_row_threshold=settings.bad_row_threshold)
    click.echo(_result_table(result))
    if result.status == "loaded":
        click.echo(f"batch {batch_id} is superseded by batch {result.batch_id}")
    reject_if_invalid(result)


def _age(when: datetime | None) -> str:
    if when is None:
        return ""
    seconds = int((datetime.now(UTC) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


@ingest_cmd.command("status")
@click.option("--last", "last", default=20, show_default=True, type=click.IntRange(1),
              help="How many of the latest batches.")
@click.option("--status", "status", type=click.Choice(STATUSES), help="Only batches in this status.")
def status_cmd(last: int, status: str | None) -> None:
    """The latest batches: source, entity, rows loaded / quarantined, status, age."""
    from assets.ingest.display import safe_cell
    from assets.ingest.loader import reap_dead_batches
    from assets.ingest.store import recent_batches

    _, conn = _connection()
    with conn:
        reap_dead_batches(conn)
        rows = recent_batches(conn, status=status, last=last)
    if not rows:
        click.echo("no batches" + (f" with status {status}" if status else ""))
        return
    click.echo(format_table(
        ["batch", "source", "entity", "file", "loaded", "quarantined", "status", "replay of", "age"],
        [[r[0], r[1], r[2], safe_cell(r[3], 40), r[4], r[5], r[6], r[7] or "", _age(r[8])]
         for r in rows]))


@ingest_cmd.command("errors")
@click.argument("batch_id", type=int)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
def errors_cmd(batch_id: int, limit: int) -> None:
    """The quarantined rows of a batch: row, column, raw value, reason."""
    from assets.ingest import store
    from assets.ingest.display import safe_cell
    from resources.errors import NotFoundError

    _, conn = _connection()
    with conn:
        batch = store.batch_outline(conn, batch_id)
        if batch is None:
            raise NotFoundError(f"batch {batch_id} does not exist", details={"batch_id": batch_id})
        total = store.quarantined_count(conn, batch_id)
        rows = store.quarantined_rows(conn, batch_id, limit)
    click.echo(f"batch {batch_id}: {batch[0]}, {batch[2]} row(s) quarantined")
    if batch[1]:
        click.echo(safe_cell(batch[1], 400))
    if rows:
        click.echo(format_table(["row", "column", "raw value", "reason"],
                                [[r[0], r[1] or "", safe_cell(r[2]), safe_cell(r[3], 90)]
                                 for r in rows]))
    if total > len(rows):
        click.echo(f"... {total - len(rows)} more problem(s); --limit {total} shows all")
