"""Load one export file as one batch: record, keep, validate, COPY, all or nothing.

The batch row is committed first (status ``validating``) so a failure is visible; rows,
quarantine and the final status land in one transaction, so a load killed midway leaves
no partial rows. Content is addressed by sha256: the same content twice is a
DuplicateError and nothing is loaded again.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from assets.ingest.raw_tables import ensure_raw_table, raw_column
from assets.ingest.readers import detect_format, open_rows
from assets.ingest.registry import ExportType, get_export_type
from assets.ingest.validation import Problem, RowValidator, plan_header
from resources.errors import DuplicateError, NotFoundError, ServiceError, ValidationError

MAX_QUARANTINE_DETAIL = 100_000  # beyond this a batch is rejected anyway


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def keep_original(path: Path, sha256: str, store_dir: Path) -> Path:
    """Copy the file content-addressed under the data directory (replay needs no path)."""
    target = store_dir / sha256[:2] / f"{sha256}{''.join(path.suffixes)}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
    return target


def resolve_export(source_system: str, entity: str) -> ExportType:
    export = get_export_type(source_system, entity)
    if export is None:
        raise NotFoundError(
            f"no export type registered for source '{source_system}', entity '{entity}'",
            details={"source_system": source_system, "entity": entity},
        )
    return export


def live_batch_with_sha(conn: psycopg.Connection, sha256: str) -> int | None:
    row = conn.execute(
        "select id from raw.raw_data_batches where sha256 = %s "
        "and status in ('received', 'validating', 'loaded')",
        (sha256,),
    ).fetchone()
    return row[0] if row else None


def ingest_file(
    conn: psycopg.Connection,
    path: Path,
    source_system: str,
    entity: str,
    *,
    store_dir: Path,
    bad_row_threshold: float = 0.05,
    today: date | None = None,
) -> BatchResult:
    """Ingest ``path`` as a new batch. ``conn`` must not be in a transaction."""
    export = resolve_export(source_system, entity)
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}", details={"file": str(path)})
    sha256 = file_sha256(path)
    existing = live_batch_with_sha(conn, sha256)
    if existing is not None:
        raise DuplicateError(
            f"{path.name}: the same content was already ingested as batch {existing}",
            details={"file": path.name, "sha256": sha256, "batch_id": existing},
        )
    fmt = detect_format(path)
    stored = keep_original(path, sha256, store_dir)
    with conn.transaction():
        ensure_raw_table(conn, export)
        try:
            batch_id = conn.execute(
                "insert into raw.raw_data_batches (source_system, entity, file_name, sha256, "
                "format, encoding, file_size_bytes, stored_path, status, started_at) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, 'validating', now()) returning id",
                (source_system, entity, path.name, sha256, fmt.format, fmt.encoding,
                 path.stat().st_size, str(stored)),
            ).fetchone()[0]
        except psycopg.errors.UniqueViolation:
            raise DuplicateError(
                f"{path.name}: the same content is being ingested by another process",
                details={"file": path.name, "sha256": sha256},
            ) from None
    try:
        with conn.transaction():
            result = _load(conn, batch_id, export, stored, path.name, fmt,
                           bad_row_threshold, today or date.today())
    except ServiceError as exc:
        _finish_failed(conn, batch_id, "rejected", str(exc))
        raise
    except BaseException as exc:
        _finish_failed(conn, batch_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    return result


def _finish_failed(conn: psycopg.Connection, batch_id: int, status: str, summary: str) -> None:
    if conn.closed or conn.broken:
        return  # the next attempt sees 'validating' without a finish time and may retry
    with conn.transaction():
        conn.execute(
            "update raw.raw_data_batches set status = %s, error_summary = %s, finished_at = now() "
            "where id = %s",
            (status, summary, batch_id),
        )


def _load(conn, batch_id, export, stored_path, file_name, fmt, threshold, today) -> BatchResult:
    problems: list[Problem] = []
    bad_rows: set[int] = set()
    received = loaded = 0
    columns = [sql.Identifier(raw_column(c.name)) for c in export.columns]
    copy_sql = sql.SQL("copy {} (_batch_id, _row_number, {}) from stdin").format(
        sql.Identifier("raw", export.raw_table), sql.SQL(", ").join(columns)
    )
    with open_rows(stored_path, fmt) as (header, rows):
        plan = plan_header(export, header or [c.name for c in export.columns], file_name)
        validator = RowValidator(export, plan, today)
        with conn.cursor().copy(copy_sql) as copy:
            for row_number, row in enumerate(rows, start=1):
                received += 1
                values, row_problems = validator.check(row_number, row)
                if row_problems:
                    bad_rows.add(row_number)
                    if len(problems) < MAX_QUARANTINE_DETAIL:
                        problems.extend(row_problems)
                    continue
                copy.write_row((batch_id, row_number, *values))
                loaded += 1
    quarantined = len(bad_rows)
    _store_problems(conn, batch_id, problems)
    share = quarantined / received if received else 0.0
    if share > threshold:
        status = "rejected"
        summary = (f"{file_name}: {quarantined} of {received} rows ({share:.1%}) failed "
                   f"validation, above the {threshold:.0%} threshold; first: "
                   f"{_describe(problems[0])}")
    else:
        status = "loaded"
        summary = f"{quarantined} row(s) quarantined; first: {_describe(problems[0])}" if problems else None
    if status == "rejected":
        # Rejected whole: the COPY'd rows go, the quarantine explains why.
        conn.execute(
            sql.SQL("delete from {} where _batch_id = %s").format(
                sql.Identifier("raw", export.raw_table)), (batch_id,))
        loaded = 0
    elif export.entity == "master_audit":
        _record_master_audits(conn, batch_id, export)
    conn.execute(
        "update raw.raw_data_batches set status = %s, rows_received = %s, rows_loaded = %s, "
        "rows_quarantined = %s, error_summary = %s, finished_at = now() where id = %s",
        (status, received, loaded, quarantined, summary, batch_id),
    )
    return BatchResult(batch_id, export.source_system, export.entity, file_name, status,
                       received, loaded, quarantined, summary)


def _describe(problem: Problem) -> str:
    return f"row {problem.row_number}, column {problem.column}: {problem.reason}"


def _store_problems(conn: psycopg.Connection, batch_id: int, problems: list[Problem]) -> None:
    if not problems:
        return
    with conn.cursor().copy(
        "copy raw.quarantined_rows (batch_id, row_number, column_name, raw_value, reason) "
        "from stdin"
    ) as copy:
        for p in problems:
            copy.write_row((batch_id, p.row_number, p.column, p.raw_value, p.reason))


def _record_master_audits(conn: psycopg.Connection, batch_id: int, export: ExportType) -> None:
    """Master-data change documents also land in raw.prim_master_audits, one shape for all
    sources, which the item-master history in dbt joins."""
    conn.execute(
        sql.SQL(
            "insert into raw.prim_master_audits (batch_id, source_system, object_id, location, "
            "field_name, old_value, new_value, changed_on, changed_by) "
            "select _batch_id, %s, objectid, werks, fname, value_old, value_new, "
            "to_date(udate, 'YYYYMMDD'), username from {} where _batch_id = %s "
            "on conflict do nothing"
        ).format(sql.Identifier("raw", export.raw_table)),
        (export.source_system, batch_id),
    )


def reject_if_invalid(result: BatchResult) -> BatchResult:
    """Raise a ValidationError for a rejected batch (after it was recorded)."""
    if result.status == "rejected":
        raise ValidationError(result.error_summary or "batch rejected",
                              details={"batch_id": result.batch_id, "file": result.file_name})
    return result
