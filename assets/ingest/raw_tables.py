"""Keep the raw.<source>_<entity> tables in step with the ingest registry.

Every declared column lands as text (lower-cased, quoted as an identifier: a header
never reaches SQL as text); dbt staging casts. Adding a registry entry or column adds
the table or column here; nothing is ever dropped, so no loaded row is lost.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from assets.ingest.registry import EXPORT_TYPES, ExportType


def raw_column(name: str) -> str:
    return name.strip().lower()


def ensure_raw_table(conn: psycopg.Connection, export: ExportType) -> None:
    table = sql.Identifier("raw", export.raw_table)
    conn.execute(
        sql.SQL(
            "create table if not exists {} (_batch_id bigint not null "
            "references raw.raw_data_batches (id), _row_number integer not null, "
            "primary key (_batch_id, _row_number))"
        ).format(table)
    )
    for column in export.columns:
        conn.execute(
            sql.SQL("alter table {} add column if not exists {} text").format(
                table, sql.Identifier(raw_column(column.name))
            )
        )


def sync_raw_tables(conn: psycopg.Connection) -> list[str]:
    """Create or extend every registry table; returns the table names."""
    for export in EXPORT_TYPES:
        ensure_raw_table(conn, export)
    return [export.raw_table for export in EXPORT_TYPES]
