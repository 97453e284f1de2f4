"""Keep the raw.<source>_<entity> tables in step with the ingest registry.

Every declared column lands as text (lower-cased, quoted as an identifier: a header
never reaches SQL as text); dbt staging casts. Each raw table is LIST-partitioned by
``_batch_id``: a batch is loaded into a table of its own (``<table>__b<batch id>``,
created in the load transaction, written with COPY FREEZE, no index to maintain) and
attached as a partition when it is accepted, so the load writes every row once and a
rejected or killed load leaves nothing behind. Adding a registry entry or column adds
the table or column here; nothing is ever dropped, so no loaded row is lost.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from assets.ingest.registry import EXPORT_TYPES, ExportType
from resources.locks import transaction_lock


def raw_column(name: str) -> str:
    return name.strip().lower()


def batch_table_name(export: ExportType, batch_id: int) -> str:
    return f"{export.raw_table}__b{batch_id}"


def _relkind(conn: psycopg.Connection, table: str) -> str | None:
    row = conn.execute(
        "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'raw' and c.relname = %s", (table,)).fetchone()
    return row[0] if row else None


def ensure_raw_table(conn: psycopg.Connection, export: ExportType) -> None:
    table = sql.Identifier("raw", export.raw_table)
    if _relkind(conn, export.raw_table) == "r":
        _convert_legacy(conn, export)
    conn.execute(
        sql.SQL(
            "create table if not exists {} (_batch_id bigint not null "
            "references raw.raw_data_batches (id), _row_number integer not null) "
            "partition by list (_batch_id)"
        ).format(table)
    )
    existing = {r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = %s", (export.raw_table,)).fetchall()}
    for column in export.columns:
        if raw_column(column.name) not in existing:
            conn.execute(
                sql.SQL("alter table {} add column if not exists {} text").format(
                    table, sql.Identifier(raw_column(column.name))))


def _convert_legacy(conn: psycopg.Connection, export: ExportType) -> None:
    """A raw table from before partitioning: its rows become one partition."""
    legacy = f"{export.raw_table}__legacy"
    conn.execute(sql.SQL("alter table {} rename to {}").format(
        sql.Identifier("raw", export.raw_table), sql.Identifier(legacy)))
    ids = [r[0] for r in conn.execute(sql.SQL("select distinct _batch_id from {}").format(
        sql.Identifier("raw", legacy))).fetchall()]
    conn.execute(
        sql.SQL("create table {} (_batch_id bigint not null references raw.raw_data_batches "
                "(id), _row_number integer not null) partition by list (_batch_id)").format(
            sql.Identifier("raw", export.raw_table)))
    columns = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = %s and column_name not in ('_batch_id', '_row_number') "
        "order by ordinal_position", (legacy,)).fetchall()]
    for name in columns:
        conn.execute(sql.SQL("alter table {} add column {} text").format(
            sql.Identifier("raw", export.raw_table), sql.Identifier(name)))
    if ids:
        conn.execute(sql.SQL("alter table {} attach partition {} for values in ({})").format(
            sql.Identifier("raw", export.raw_table), sql.Identifier("raw", legacy),
            sql.SQL(", ").join(sql.Literal(i) for i in ids)))
    else:
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier("raw", legacy)))


def create_batch_table(conn: psycopg.Connection, export: ExportType, batch_id: int) -> sql.Composed:
    """The table one batch is loaded into (attached as a partition when accepted)."""
    name = sql.Identifier("raw", batch_table_name(export, batch_id))
    columns = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(raw_column(c.name))) for c in export.columns)
    conn.execute(sql.SQL(
        "create table {} (_batch_id bigint not null default {} check (_batch_id = {}), "
        "_row_number integer not null, {})").format(
        name, sql.Literal(batch_id), sql.Literal(batch_id), columns))
    return name


def attach_batch_table(conn: psycopg.Connection, export: ExportType, batch_id: int) -> None:
    conn.execute(sql.SQL("alter table {} attach partition {} for values in ({})").format(
        sql.Identifier("raw", export.raw_table),
        sql.Identifier("raw", batch_table_name(export, batch_id)), sql.Literal(batch_id)))
    # Statistics now, not whenever autovacuum gets to it: dbt reads the batch right after
    # ingest, and without row counts the planner takes a million-row partition for a
    # handful of rows (nested loops, sorts spilling to disk).
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", batch_table_name(export, batch_id))))


def sync_raw_tables(conn: psycopg.Connection) -> list[str]:
    """Create or extend every registry table; returns the table names. Two first
    commands at once: the second waits for the first's tables (in a transaction the
    lock lasts until it commits; in autocommit each statement stands alone anyway)."""
    transaction_lock(conn, "sync raw tables")
    for export in EXPORT_TYPES:
        ensure_raw_table(conn, export)
    return [export.raw_table for export in EXPORT_TYPES]
