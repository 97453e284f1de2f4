"""Every SQL statement of the ingest stage's batches: raw.raw_data_batches, the
quarantine, the rows of one batch and the advisory locks of loading sessions. Small
named functions, typed rows in and out; the raw tables' DDL (create, extend, attach a
batch) is ``raw_tables``'s.

Identifiers come only from the registry, quoted; values are always parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from assets.ingest.raw_tables import batch_table_name, raw_column
from assets.ingest.registry import ExportType

# Namespace of the advisory locks a loading session holds on its batch (int4).
LOCK_NAMESPACE = 0x46430001 & 0x7FFFFFFF
LIVE_STATUSES = ("received", "validating", "loaded")


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    source_system: str
    entity: str
    file_name: str
    status: str
    rows_received: int
    rows_loaded: int
    rows_quarantined: int
    error_summary: str | None = None
    sha256: str = ""
    replay_of: int | None = None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class StoredBatch:
    """What replaying a batch needs to know about it."""

    id: int
    source_system: str
    entity: str
    file_name: str
    sha256: str
    stored_path: str | None
    status: str


def _table(export: ExportType, batch_id: int | None = None) -> sql.Identifier:
    """The raw table of an export, or the table of one of its batches."""
    name = export.raw_table if batch_id is None else batch_table_name(export, batch_id)
    return sql.Identifier("raw", name)


# ============================================================================= locks
def _lock_key(batch_id: int) -> int:
    return batch_id % (1 << 31)


def lock_batch(conn: psycopg.Connection, batch_id: int) -> None:
    """Held by the loading session for as long as it lives: a batch whose lock is free
    while it is still 'validating' lost its loader."""
    conn.execute("select pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, _lock_key(batch_id)))


def try_lock_batch(conn: psycopg.Connection, batch_id: int) -> bool:
    return conn.execute("select pg_try_advisory_lock(%s, %s)",
                        (LOCK_NAMESPACE, _lock_key(batch_id))).fetchone()[0]


def unlock_batch(conn: psycopg.Connection, batch_id: int) -> None:
    conn.execute("select pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, _lock_key(batch_id)))


# =========================================================================== batches
def live_batch_with_sha(conn: psycopg.Connection, sha256: str) -> int | None:
    row = conn.execute(
        "select id from raw.raw_data_batches where sha256 = %s and status = any(%s) "
        "order by id desc limit 1", (sha256, list(LIVE_STATUSES))).fetchone()
    return row[0] if row else None


def loading_batch_ids(conn: psycopg.Connection) -> list[int]:
    """Batches still 'received' or 'validating'."""
    return [r[0] for r in conn.execute(
        "select id from raw.raw_data_batches where status in ('received', 'validating') "
        "order by id").fetchall()]


def fail_lost_batch(conn: psycopg.Connection, batch_id: int) -> bool:
    """Mark a batch whose loading session is gone as failed; False if it finished meanwhile."""
    return conn.execute(
        "update raw.raw_data_batches set status = 'failed', finished_at = now(), "
        "error_summary = 'the loading process stopped before it finished "
        "(killed or disconnected); nothing of it was loaded' "
        "where id = %s and status in ('received', 'validating') returning id",
        (batch_id,)).fetchone() is not None


def insert_batch(conn: psycopg.Connection, *, source_system: str, entity: str, file_name: str,
                 sha256: str, file_format: str, size: int, stored_path: str | None,
                 replay_of: int | None = None) -> int:
    """A new batch, 'validating' from now. Raises UniqueViolation while another live batch
    has the same sha256."""
    return conn.execute(
        "insert into raw.raw_data_batches (source_system, entity, file_name, sha256, "
        "format, file_size_bytes, stored_path, status, started_at, replay_of) "
        "values (%s, %s, %s, %s, %s, %s, %s, 'validating', now(), %s) returning id",
        (source_system, entity, file_name, sha256, file_format, size, stored_path, replay_of),
    ).fetchone()[0]


def insert_rejected_replay(conn: psycopg.Connection, old: StoredBatch, file_format: str,
                           summary: str) -> None:
    """The record of a replay refused before it could load anything."""
    conn.execute(
        "insert into raw.raw_data_batches (source_system, entity, file_name, sha256, "
        "format, stored_path, status, error_summary, started_at, finished_at, "
        "replay_of) values (%s, %s, %s, %s, %s, %s, 'rejected', %s, now(), now(), %s)",
        (old.source_system, old.entity, old.file_name, old.sha256, file_format,
         old.stored_path, summary[:2000], old.id))


def lock_stored_batch(conn: psycopg.Connection, batch_id: int) -> StoredBatch | None:
    """The batch, locked (for update) until the caller's transaction ends."""
    row = conn.execute(
        "select id, source_system, entity, file_name, sha256, stored_path, status "
        "from raw.raw_data_batches where id = %s for update", (batch_id,)).fetchone()
    return None if row is None else StoredBatch(*row)


def latest_replay_of(conn: psycopg.Connection, batch_id: int) -> int | None:
    return conn.execute("select max(id) from raw.raw_data_batches where replay_of = %s",
                        (batch_id,)).fetchone()[0]


def set_batch_status(conn: psycopg.Connection, batch_id: int, status: str) -> None:
    conn.execute("update raw.raw_data_batches set status = %s where id = %s", (status, batch_id))


def finish_batch(conn: psycopg.Connection, batch_id: int, *, status: str, file_format: str,
                 encoding: str | None, received: int, loaded: int, quarantined: int,
                 summary: str | None) -> None:
    conn.execute(
        "update raw.raw_data_batches set status = %s, format = %s, encoding = %s, "
        "rows_received = %s, rows_loaded = %s, rows_quarantined = %s, error_summary = %s, "
        "finished_at = now() where id = %s",
        (status, file_format, encoding, received, loaded, quarantined, summary, batch_id))


def finish_batch_failed(conn: psycopg.Connection, batch_id: int, status: str, summary: str) -> None:
    """'rejected' or 'failed', nothing loaded."""
    conn.execute(
        "update raw.raw_data_batches set status = %s, error_summary = %s, "
        "rows_loaded = 0, finished_at = now() where id = %s",
        (status, summary[:2000], batch_id))


def batch_result(conn: psycopg.Connection, batch_id: int) -> BatchResult | None:
    """The recorded outcome of one batch (None: no such batch)."""
    row = conn.execute(
        "select id, source_system, entity, file_name, status, rows_received, rows_loaded, "
        "rows_quarantined, error_summary, sha256, replay_of from raw.raw_data_batches "
        "where id = %s", (batch_id,)).fetchone()
    return None if row is None else BatchResult(*row[:9], sha256=row[9].strip(), replay_of=row[10])


def recent_batches(conn: psycopg.Connection, *, status: str | None, last: int) -> list[tuple]:
    """The latest batches: (id, source, entity, file, loaded, quarantined, status,
    replay_of, received_at)."""
    return conn.execute(
        "select id, source_system, entity, file_name, rows_loaded, rows_quarantined, status, "
        "replay_of, received_at from raw.raw_data_batches "
        "where %(status)s::text is null or status = %(status)s "
        "order by id desc limit %(last)s", {"status": status, "last": last}).fetchall()


def batch_outline(conn: psycopg.Connection, batch_id: int) -> tuple[str, str | None, int] | None:
    """(status, error_summary, rows_quarantined) of a batch."""
    return conn.execute("select status, error_summary, rows_quarantined from "
                        "raw.raw_data_batches where id = %s", (batch_id,)).fetchone()


def batches_by_status(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("select status, count(*) from raw.raw_data_batches group by status"
                             ).fetchall())


def loaded_totals(conn: psycopg.Connection) -> tuple[int, int]:
    """(rows loaded, rows quarantined) of the current (loaded) batches."""
    return conn.execute(
        "select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) "
        "from raw.raw_data_batches where status = 'loaded'").fetchone()


# ======================================================================== quarantine
def copy_problems(conn: psycopg.Connection, spool) -> None:
    """COPY the spooled problem rows (CSV: row, column, raw value, reason, batch id)."""
    with conn.cursor().copy(
        "copy raw.quarantined_rows (row_number, column_name, raw_value, reason, batch_id) "
        "from stdin (format csv)"
    ) as copy:
        while chunk := spool.read(1 << 20):
            copy.write(chunk)


def quarantined_rows(conn: psycopg.Connection, batch_id: int, limit: int) -> list[tuple]:
    """(row_number, column_name, raw_value, reason) in file order."""
    return conn.execute(
        "select row_number, column_name, raw_value, reason from raw.quarantined_rows "
        "where batch_id = %s order by row_number, id limit %s", (batch_id, limit)).fetchall()


def quarantined_count(conn: psycopg.Connection, batch_id: int) -> int:
    return conn.execute("select count(*) from raw.quarantined_rows where batch_id = %s",
                        (batch_id,)).fetchone()[0]


# ===================================================================== a batch's rows
def copy_into_batch(conn: psycopg.Connection, export: ExportType, batch_id: int):
    """The COPY (FREEZE: the table is new in this transaction) into a batch's own table,
    as a context manager taking CSV rows (_row_number, then the declared columns)."""
    columns = sql.SQL(", ").join(sql.Identifier(raw_column(c.name)) for c in export.columns)
    return conn.cursor().copy(
        sql.SQL("copy {} (_row_number, {}) from stdin (format csv, freeze)").format(
            _table(export, batch_id), columns))


def natural_keys_of(conn: psycopg.Connection, export: ExportType, batch_id: int,
                    row_numbers: list[int]) -> list[tuple]:
    """(_row_number, *natural key) of these rows of a batch's table, in file order."""
    keys = sql.SQL(", ").join(sql.Identifier(raw_column(k)) for k in export.natural_key)
    return conn.execute(sql.SQL(
        "select _row_number, {} from {} where _row_number = any(%s) order by _row_number").format(
        keys, _table(export, batch_id)), (row_numbers,)).fetchall()


def delete_batch_rows(conn: psycopg.Connection, export: ExportType, batch_id: int,
                      row_numbers: list[int]) -> None:
    conn.execute(sql.SQL("delete from {} where _row_number = any(%s)").format(
        _table(export, batch_id)), (row_numbers,))


def drop_batch_table(conn: psycopg.Connection, export: ExportType, batch_id: int) -> None:
    conn.execute(sql.SQL("drop table {}").format(_table(export, batch_id)))


def loaded_keys(conn: psycopg.Connection, master: ExportType, columns: list[str]) -> list[str]:
    """Distinct keys (columns joined by chr(31)) of the loaded batches of an item master."""
    parts = sql.SQL(", ").join(sql.Identifier("m", raw_column(c)) for c in columns)
    rows = conn.execute(sql.SQL(
        "select distinct concat_ws(chr(31), {}) from {} m join raw.raw_data_batches b "
        "on b.id = m._batch_id where b.status = 'loaded'").format(parts, _table(master))).fetchall()
    return [r[0] for r in rows]


def record_master_audits(conn: psycopg.Connection, batch_id: int, export: ExportType) -> None:
    """Master-data change documents also land in raw.prim_master_audits, one shape for all
    sources, which the item-master history in dbt joins."""
    conn.execute(
        sql.SQL(
            "insert into raw.prim_master_audits (batch_id, source_system, object_id, location, "
            "field_name, old_value, new_value, changed_on, changed_by) "
            "select _batch_id, %s, objectid, werks, fname, value_old, value_new, "
            "to_date(udate, 'YYYYMMDD'), username from {} where _batch_id = %s "
            "on conflict do nothing"
        ).format(_table(export)),
        (export.source_system, batch_id),
    )


def preview_rows(conn: psycopg.Connection, export: ExportType, batch_id: int,
                 limit: int) -> list[tuple]:
    """The first loaded rows of a batch: (_row_number, *declared columns)."""
    columns = sql.SQL(", ").join(sql.Identifier(raw_column(c.name)) for c in export.columns)
    return conn.execute(sql.SQL(
        "select _row_number, {} from {} where _batch_id = %s order by _row_number limit %s"
    ).format(columns, _table(export)), (batch_id, limit)).fetchall()


# ----------------------------------------------------------------------------- retention
def expired_batches(conn: psycopg.Connection, older_than_days: int) -> list[tuple[int, str, str]]:
    """(id, source, entity) of superseded, rejected and failed batches that ended more
    than ``older_than_days`` ago: nothing reads their rows any more."""
    return conn.execute("""
        select id, source_system, entity from raw.raw_data_batches
        where status in ('superseded', 'rejected', 'failed')
          and coalesce(finished_at, received_at) < now() - make_interval(days => %s)
        order by id""", (older_than_days,)).fetchall()


def drop_batch_table_if_exists(conn: psycopg.Connection, export: ExportType, batch_id: int) -> bool:
    exists = conn.execute("select to_regclass(%s) is not null", (
        f"raw.{batch_table_name(export, batch_id)}",)).fetchone()[0]
    if exists:
        conn.execute(sql.SQL("drop table {}").format(_table(export, batch_id)))
    return bool(exists)


def delete_old_quarantine(conn: psycopg.Connection, older_than_days: int) -> int:
    """Quarantined rows of batches that ended more than ``older_than_days`` ago."""
    return conn.execute("""
        delete from raw.quarantined_rows q using raw.raw_data_batches b
        where b.id = q.batch_id
          and coalesce(b.finished_at, b.received_at) < now() - make_interval(days => %s)""",
                        (older_than_days,)).rowcount
