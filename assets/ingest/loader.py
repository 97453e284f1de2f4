"""Load one export file as one batch: record, keep, validate, COPY, all or nothing.

1. The file is hashed and kept content-addressed under the data directory (replay never
   needs the original path); a live batch with the same sha256 is a DuplicateError.
2. The batch row is committed first (status ``validating``) while this session holds an
   advisory lock on it: a load killed midway leaves a batch whose lock is free, which
   ``reap_dead_batches`` (run before every load and status query) marks ``failed``.
3. One transaction: the file streams through the reader (Arrow's CSV reader, or the
   Python readers) and the vectorized validator; good rows are COPY'd (FREEZE) into a
   table of the batch's own, bad rows are spooled to a temp file. Duplicate natural keys
   are found from a 32-bit key hash per row (8 bytes a row, sorted at the end, candidates
   compared exactly in SQL). Accepted: the table is attached as a partition of
   raw.<source>_<entity>; rejected: it is dropped. Quarantine rows and the final status
   commit with it. Memory stays flat apart from the 8 bytes a row of the duplicate check.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from assets.ingest.limits import DEFAULT_LIMITS, IngestLimits
from assets.ingest.raw_tables import (
    attach_batch_table,
    batch_table_name,
    create_batch_table,
    ensure_raw_table,
    raw_column,
)
from assets.ingest.readers import (
    FileFormat,
    NeedsRobustReader,
    ReadOptions,
    check_options,
    detect_format,
    open_export,
)
from assets.ingest.registry import ExportType, get_export_type
from assets.ingest.validation import PROBLEM_SCHEMA, BatchValidator, plan_header
from resources.errors import (
    DuplicateError,
    NotFoundError,
    OperationError,
    ServiceError,
    ValidationError,
)

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


# ----------------------------------------------------------------------------- files
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def keep_original(path: Path, sha256: str, store_dir: Path) -> Path:
    """Copy the file content-addressed under the data directory (replay needs no path)."""
    target = store_dir / sha256[:2] / f"{sha256}{''.join(path.suffixes[-2:])}"
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
        "select id from raw.raw_data_batches where sha256 = %s and status = any(%s) "
        "order by id desc limit 1", (sha256, list(LIVE_STATUSES))).fetchone()
    return row[0] if row else None


def reap_dead_batches(conn: psycopg.Connection) -> list[int]:
    """Batches still 'received'/'validating' whose loading session is gone -> 'failed'."""
    dead = []
    candidates = conn.execute("select id from raw.raw_data_batches where status in "
                              "('received', 'validating') order by id").fetchall()
    for (batch_id,) in candidates:
        got = conn.execute("select pg_try_advisory_lock(%s, %s)",
                           (LOCK_NAMESPACE, _lock_key(batch_id))).fetchone()[0]
        if not got:
            continue
        try:
            updated = conn.execute(
                "update raw.raw_data_batches set status = 'failed', finished_at = now(), "
                "error_summary = 'the loading process stopped before it finished "
                "(killed or disconnected); nothing of it was loaded' "
                "where id = %s and status in ('received', 'validating') returning id",
                (batch_id,)).fetchone()
            if updated:
                dead.append(batch_id)
        finally:
            conn.execute("select pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, _lock_key(batch_id)))
    return dead


def _lock_key(batch_id: int) -> int:
    return batch_id % (1 << 31)


# ----------------------------------------------------------------------------- ingest
def ingest_file(
    conn: psycopg.Connection,
    path: Path,
    source_system: str,
    entity: str,
    *,
    store_dir: Path,
    bad_row_threshold: float = 0.05,
    today: date | None = None,
    options: ReadOptions | None = None,
    limits: IngestLimits = DEFAULT_LIMITS,
    on_progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Ingest ``path`` as a new batch. ``conn`` must be in autocommit mode (not in a
    transaction). Returns the result for loaded and rejected batches; raises
    DuplicateError for known content and the ServiceError that rejected a file whose
    structure is unusable (after recording the batch as rejected)."""
    export = resolve_export(source_system, entity)
    check_options(options)
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}", details={"file": str(path)})
    reap_dead_batches(conn)
    size = path.stat().st_size
    sha256 = file_sha256(path)
    existing = live_batch_with_sha(conn, sha256)
    if existing is not None:
        raise DuplicateError(
            f"{path.name}: the same content was already ingested as batch {existing}",
            details={"file": path.name, "sha256": sha256, "batch_id": existing},
        )
    too_big = size > limits.max_file_bytes
    stored = None if too_big else keep_original(path, sha256, store_dir)
    with conn.transaction():
        ensure_raw_table(conn, export)
        try:
            batch_id = conn.execute(
                "insert into raw.raw_data_batches (source_system, entity, file_name, sha256, "
                "format, file_size_bytes, stored_path, status, started_at) "
                "values (%s, %s, %s, %s, %s, %s, %s, 'validating', now()) returning id",
                (source_system, entity, path.name, sha256, _guess_format(path), size,
                 str(stored) if stored else None),
            ).fetchone()[0]
        except psycopg.errors.UniqueViolation:
            raise DuplicateError(
                f"{path.name}: the same content is being ingested by another process",
                details={"file": path.name, "sha256": sha256},
            ) from None
        conn.execute("select pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, _lock_key(batch_id)))
    try:
        if too_big:
            raise ValidationError(
                f"{path.name}: {size} bytes, more than the limit of {limits.max_file_bytes}",
                details={"file": path.name, "size": size})
        with conn.transaction():
            result = load_batch(conn, batch_id, export, stored, path.name,
                                bad_row_threshold=bad_row_threshold, today=today,
                                options=options, limits=limits, on_progress=on_progress)
        return BatchResult(**{**result.__dict__, "sha256": sha256})
    except ServiceError as exc:
        _finish_failed(conn, batch_id, "rejected", str(exc))
        exc.details.setdefault("batch_id", batch_id)
        raise
    except BaseException as exc:
        _finish_failed(conn, batch_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    finally:
        if not (conn.closed or conn.broken):
            conn.execute("select pg_advisory_unlock(%s, %s)",
                         (LOCK_NAMESPACE, _lock_key(batch_id)))


def _guess_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return {"jsonl": "json", "ndjson": "json", "txt": "csv", "tsv": "csv"}.get(suffix, suffix or "unknown")


def _finish_failed(conn: psycopg.Connection, batch_id: int, status: str, summary: str) -> None:
    if conn.closed or conn.broken:
        return  # the reaper marks it failed once this session is gone
    with conn.transaction():
        conn.execute(
            "update raw.raw_data_batches set status = %s, error_summary = %s, "
            "rows_loaded = 0, finished_at = now() where id = %s",
            (status, summary[:2000], batch_id),
        )


# ----------------------------------------------------------------------------- replay
def replay_batch(
    conn: psycopg.Connection,
    batch_id: int,
    *,
    bad_row_threshold: float = 0.05,
    today: date | None = None,
    options: ReadOptions | None = None,
    limits: IngestLimits = DEFAULT_LIMITS,
) -> BatchResult:
    """Re-validate and reload a stored batch as a new batch (``replay_of`` = the old one)
    in one transaction: when the new batch loads, the old one becomes superseded, so
    exactly one copy of its rows is current."""
    reap_dead_batches(conn)
    with conn.transaction():
        old = conn.execute(
            "select id, source_system, entity, file_name, sha256, stored_path, status "
            "from raw.raw_data_batches where id = %s for update", (batch_id,)).fetchone()
        if old is None:
            raise NotFoundError(f"batch {batch_id} does not exist", details={"batch_id": batch_id})
        _, source_system, entity, file_name, sha256, stored_path, status = old
        if status == "superseded":
            newer = conn.execute("select max(id) from raw.raw_data_batches where replay_of = %s",
                                 (batch_id,)).fetchone()[0]
            raise ValidationError(f"batch {batch_id} is already superseded (by batch {newer}); "
                                  f"replay the current one", details={"batch_id": batch_id})
        if status in ("received", "validating"):
            raise OperationError(f"batch {batch_id} is still loading", details={"batch_id": batch_id})
        stored = Path(stored_path) if stored_path else None
        if stored is None or not stored.is_file():
            raise NotFoundError(f"batch {batch_id}: the kept file is missing ({stored_path})",
                                details={"batch_id": batch_id})
        if file_sha256(stored) != sha256.strip():
            raise OperationError(f"batch {batch_id}: the kept file no longer matches its sha256",
                                 details={"batch_id": batch_id})
        export = resolve_export(source_system, entity)
        ensure_raw_table(conn, export)
    try:
        with conn.transaction():
            conn.execute("select 1 from raw.raw_data_batches where id = %s for update", (batch_id,))
            # The old batch gives up its sha256 first (the live-sha index allows one).
            conn.execute("update raw.raw_data_batches set status = 'superseded' where id = %s",
                         (batch_id,))
            new_id = conn.execute(
                "insert into raw.raw_data_batches (source_system, entity, file_name, sha256, "
                "format, file_size_bytes, stored_path, status, started_at, replay_of) "
                "values (%s, %s, %s, %s, %s, %s, %s, 'validating', now(), %s) returning id",
                (source_system, entity, file_name, sha256, _guess_format(stored),
                 stored.stat().st_size, str(stored), batch_id)).fetchone()[0]
            result = load_batch(conn, new_id, export, stored, file_name,
                                bad_row_threshold=bad_row_threshold, today=today,
                                options=options, limits=limits)
            if result.status != "loaded":
                # Not accepted: the old batch stays what it was.
                conn.execute("update raw.raw_data_batches set status = %s where id = %s",
                             (status, batch_id))
        return BatchResult(**{**result.__dict__, "sha256": sha256, "replay_of": batch_id})
    except ServiceError as exc:
        with conn.transaction():
            conn.execute(
                "insert into raw.raw_data_batches (source_system, entity, file_name, sha256, "
                "format, stored_path, status, error_summary, started_at, finished_at, "
                "replay_of) values (%s, %s, %s, %s, %s, %s, 'rejected', %s, now(), now(), %s)",
                (source_system, entity, file_name, sha256, _guess_format(stored), str(stored),
                 str(exc)[:2000], batch_id))
        raise


# ----------------------------------------------------------------------------- the load
def known_item_keys(conn: psycopg.Connection, export: ExportType) -> tuple[pa.Array | None, str]:
    """Keys of the current item master the export must reference (None: no master yet)."""
    spec = export.known_items
    if spec is None:
        return None, ""
    master = resolve_export(export.source_system, spec.entity)
    ensure_raw_table(conn, master)
    columns = [sql.Identifier("m", raw_column(m)) for _, m in spec.columns]
    rows = conn.execute(sql.SQL(
        "select distinct concat_ws(chr(31), {}) from {} m join raw.raw_data_batches b "
        "on b.id = m._batch_id where b.status = 'loaded'").format(
        sql.SQL(", ").join(columns), sql.Identifier("raw", master.raw_table))).fetchall()
    label = f"the current {master.source_system} {master.entity}"
    if not rows:
        return None, label
    return pa.array([r[0] for r in rows], type=pa.string()), label


class _Words:
    """The duplicate check's 8 bytes a row: a uint64 array reserved up front for the most
    rows the file can hold (address space only: pages are committed as they are written),
    so it never needs a copy to grow, and resident memory is what the rows use."""

    def __init__(self, capacity: int) -> None:
        self.data = np.empty(max(capacity, 1 << 16), dtype=np.uint64)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)), dtype=np.uint64)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size:need] = values
        self.size = need

    def duplicate_candidates(self) -> np.ndarray:
        """Row numbers whose 32-bit key hash is shared with another row (sorted in place,
        scanned in blocks so no temporary is as large as the array)."""
        words = self.data[: self.size]
        words.sort()
        found = []
        block = 1 << 20
        for start in range(0, len(words), block):
            seg = words[max(start - 1, 0): start + block]
            hashes = seg >> np.uint64(32)
            same = hashes[1:] == hashes[:-1]
            if not same.any():
                continue
            mask = np.zeros(len(seg), dtype=bool)
            mask[1:] |= same
            mask[:-1] |= same
            found.append((seg[mask] & np.uint64(0xFFFFFFFF)).astype(np.int64))
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(found))


def _row_capacity(stored: Path, fmt: FileFormat, export: ExportType, limits: IngestLimits) -> int:
    """The most rows the file can hold: a row takes at least one byte per column."""
    size = stored.stat().st_size
    # Compressed: a typical ratio (past it, the array doubles once in a while).
    expanded = size * (20 if fmt.compression or fmt.format == "xlsx" else 1)
    return min(limits.max_rows, expanded // max(len(export.columns), 2) + 1)


def load_batch(conn: psycopg.Connection, batch_id: int, export: ExportType, stored: Path,
               file_name: str, *, bad_row_threshold: float, today: date | None,
               options: ReadOptions | None, limits: IngestLimits,
               on_progress: Callable[[int], None] | None = None) -> BatchResult:
    """Validate and load ``stored`` as batch ``batch_id``. Must run inside a transaction."""
    today = today or date.today()
    fmt = detect_format(stored, options, limits)
    known, known_label = known_item_keys(conn, export)
    notes: list[str] = []
    if export.known_items is not None and known is None:
        notes.append(f"unknown-item check skipped: no loaded batch of {known_label} yet")
    attempt_robust = False
    while True:
        try:
            with conn.transaction():
                outcome = _stream(conn, batch_id, export, stored, file_name, fmt, known,
                                  known_label, today, limits, attempt_robust, on_progress)
            break
        except NeedsRobustReader:
            if attempt_robust:
                raise
            attempt_robust = True  # the savepoint rolled the partial COPY back
    received, bad_rows, words, spool, header_notes = outcome
    notes.extend(header_notes)
    with spool:
        dup_count = _quarantine_duplicates(conn, batch_id, export, words, spool)
        quarantined = bad_rows + dup_count
        share = quarantined / received if received else 0.0
        spool.seek(0)
        _copy_problems(conn, spool)
    first = conn.execute("select row_number, column_name, reason from raw.quarantined_rows "
                         "where batch_id = %s order by row_number, id limit 1",
                         (batch_id,)).fetchone()
    first_text = ("" if first is None else f"row {first[0]}, column {first[1]}: {first[2]}"
                  if first[1] else f"row {first[0]}: {first[2]}")
    table = sql.Identifier("raw", batch_table_name(export, batch_id))
    if share > bad_row_threshold:
        status, loaded = "rejected", 0
        conn.execute(sql.SQL("drop table {}").format(table))
        summary = (f"{file_name}: {quarantined} of {received} rows ({share:.1%}) failed "
                   f"validation, above the {bad_row_threshold:.0%} threshold; first: {first_text}")
    else:
        status, loaded = "loaded", received - quarantined
        attach_batch_table(conn, export, batch_id)
        if export.entity == "master_audit":
            _record_master_audits(conn, batch_id, export)
        summary = f"{quarantined} row(s) quarantined; first: {first_text}" if quarantined else None
    if notes:
        summary = "; ".join([*([summary] if summary else []), *notes])
    conn.execute(
        "update raw.raw_data_batches set status = %s, format = %s, encoding = %s, "
        "rows_received = %s, rows_loaded = %s, rows_quarantined = %s, error_summary = %s, "
        "finished_at = now() where id = %s",
        (status, fmt.format + (".gz" if fmt.compression else ""), fmt.encoding, received,
         loaded, quarantined, summary, batch_id))
    return BatchResult(batch_id, export.source_system, export.entity, file_name, status,
                       received, loaded, quarantined, summary, notes=tuple(notes))


def _stream(conn, batch_id, export, stored, file_name, fmt: FileFormat, known, known_label,
            today, limits, robust, on_progress):
    """Read, validate and COPY every row; returns counts, key words and the problem spool."""
    table = create_batch_table(conn, export, batch_id)
    columns = sql.SQL(", ").join(sql.Identifier(raw_column(c.name)) for c in export.columns)
    copy_sql = sql.SQL("copy {} (_row_number, {}) from stdin (format csv, freeze)").format(
        table, columns)
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115
    words = _Words(_row_capacity(stored, fmt, export, limits))
    received = bad_rows = 0
    notes: list[str] = []
    try:
        with open_export(stored, fmt, limits=limits, robust=robust,
                         date_format=export.date_format,
                         declared=export.column_names) as (header, chunks):
            if not header:
                header = list(export.column_names)  # an empty JSON export
            plan = plan_header(export, header, file_name)
            if plan.unknown_columns:
                shown = ", ".join(repr(u[:40]) for u in plan.unknown_columns[:5])
                more = len(plan.unknown_columns) - 5
                notes.append(f"ignored unknown column(s) {shown}"
                             + (f" and {more} more" if more > 0 else ""))
            validator = BatchValidator(export, plan, today, limits=limits, known_items=known,
                                       known_items_label=known_label)
            with conn.cursor().copy(copy_sql) as copy:
                for rows, bad, problems, payload, key_words in _pipelined(chunks, validator):
                    received += rows
                    if received > limits.max_rows:
                        raise ValidationError(f"{file_name}: more than {limits.max_rows} rows",
                                              details={"file": file_name})
                    bad_rows += bad
                    if problems.num_rows:
                        _spool_problems(spool, problems, batch_id)
                    if payload is not None:
                        copy.write(payload)
                        words.extend(key_words)
                    if on_progress:
                        on_progress(received)
    except BaseException:
        spool.close()
        raise
    return received, bad_rows, words, spool, notes


_DONE = object()


def _pipelined(chunks, validator: BatchValidator):
    """Read + validate + serialize in a worker thread (Arrow and numpy release the GIL)
    while this thread feeds COPY: the client and the server work at the same time."""
    results: queue.Queue = queue.Queue(maxsize=3)
    stop = threading.Event()
    write_opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                checked = validator.check(chunk)
                payload = None
                if checked.good.num_rows:
                    sink = io.BytesIO()
                    pacsv.write_csv(checked.good, sink, write_opts)
                    payload = sink.getbuffer()
                results.put((chunk.num_rows, checked.bad_rows, checked.problems, payload,
                             checked.key_words))
            results.put(_DONE)
        except BaseException as exc:  # handed over to the consuming thread
            results.put(exc)

    worker = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = results.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                results.get(timeout=0.1)
        worker.join()


def _quarantine_duplicates(conn, batch_id: int, export: ExportType, words: _Words, spool) -> int:
    candidates = words.duplicate_candidates()
    if not len(candidates):
        return 0
    table = sql.Identifier("raw", batch_table_name(export, batch_id))
    keys = [sql.Identifier(raw_column(k)) for k in export.natural_key]
    rows = conn.execute(sql.SQL(
        "select _row_number, {} from {} where _row_number = any(%s) order by _row_number").format(
        sql.SQL(", ").join(keys), table), (candidates.tolist(),)).fetchall()
    first_at: dict[tuple, int] = {}
    dups: list[tuple[int, str]] = []
    for row_number, *key in rows:
        first = first_at.setdefault(tuple(key), row_number)
        if first != row_number:
            dups.append((row_number, first, ",".join("" if k is None else k for k in key)))
    if not dups:
        return 0
    conn.execute(sql.SQL("delete from {} where _row_number = any(%s)").format(table),
                 ([d[0] for d in dups],))
    problems = pa.table({
        "row_number": pa.array([d[0] for d in dups], type=pa.int64()),
        "column_name": pa.array([",".join(export.natural_key)] * len(dups), type=pa.string()),
        "raw_value": pa.array([d[2] for d in dups], type=pa.string()),
        "reason": pa.array([f"duplicate natural key inside the batch (first at row {d[1]})"
                            for d in dups], type=pa.string())}, schema=PROBLEM_SCHEMA)
    _spool_problems(spool, problems, batch_id)
    return len(dups)


def _spool_problems(spool, problems: pa.Table, batch_id: int) -> None:
    problems = problems.append_column(
        "batch_id", pa.array(np.full(problems.num_rows, batch_id, dtype=np.int64)))
    spool.seek(0, io.SEEK_END)
    pacsv.write_csv(problems, spool,
                    pacsv.WriteOptions(include_header=False, quoting_style="needed"))


def _copy_problems(conn, spool) -> None:
    with conn.cursor().copy(
        "copy raw.quarantined_rows (row_number, column_name, raw_value, reason, batch_id) "
        "from stdin (format csv)"
    ) as copy:
        while chunk := spool.read(1 << 20):
            copy.write(chunk)


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


def batch_result(conn: psycopg.Connection, batch_id: int) -> BatchResult:
    """The recorded outcome of one batch."""
    row = conn.execute(
        "select id, source_system, entity, file_name, status, rows_received, rows_loaded, "
        "rows_quarantined, error_summary, sha256, replay_of from raw.raw_data_batches "
        "where id = %s", (batch_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"batch {batch_id} does not exist", details={"batch_id": batch_id})
    return BatchResult(*row[:9], sha256=row[9].strip(), replay_of=row[10])


def reject_if_invalid(result: BatchResult) -> BatchResult:
    """Raise a ValidationError for a rejected batch (after it was recorded)."""
    if result.status == "rejected":
        raise ValidationError(result.error_summary or "batch rejected",
                              details={"batch_id": result.batch_id, "file": result.file_name})
    return result
